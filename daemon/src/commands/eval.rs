//! `funkd eval`: RMSE and MAE of a model on the test split of its rating
//! file (and, with `--train`, on the train split), predictions clamped to
//! the data's rating range when it has one.
//!
//! Blocks are evaluated in parallel with the kernel's
//! [`evaluate_block`] and their f64 sums merged
//! in block order, so the result does not depend on the thread count.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{anyhow, Context, Result};
use funk_kernel::{evaluate_block, FactorRow, Isa, LossStats, ModelKind};
use serde::Serialize;

use crate::commands::context::{choose_isa, clamp_range, print_json, write_stdout, ModelWithData};
use crate::model::Model;
use crate::ratingfile::RatingFile;
use crate::trained::rows::{aligned_rows, band_view};
use crate::{usage_bail, with_k};

/// Options of `funkd eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The rating file the model was trained on
    /// [default: the data file the checkpoint directory was trained on, from its status.json].
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// A checkpoint file, or a checkpoint directory (its newest good checkpoint).
    #[arg(long, value_name = "DIR|CHECKPOINT")]
    pub model: PathBuf,
    /// Also report the error on the train split.
    #[arg(long)]
    pub train: bool,
    /// Do not clamp predictions to the data's rating range.
    #[arg(long)]
    pub no_clamp: bool,
    /// Threads [default: the CPUs available]. The result does not depend on it.
    #[arg(long, value_name = "T")]
    pub threads: Option<usize>,
    /// Instruction set (scalar, avx2, avx512, neon) [default: the best this CPU has].
    #[arg(long, value_name = "NAME")]
    pub isa: Option<String>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Which ratings of a rating file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// The ratings trained on.
    Train,
    /// The held-out ratings.
    Test,
}

/// RMSE and MAE of one split.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SplitError {
    /// Root mean squared error (null in JSON when the split is empty).
    pub rmse: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Ratings evaluated.
    pub count: u64,
}

impl From<LossStats> for SplitError {
    fn from(s: LossStats) -> Self {
        SplitError {
            rmse: s.rmse(),
            mae: s.mae(),
            count: s.count,
        }
    }
}

/// The loss of `model` on each of `splits` of `data`, in that order.
/// `threads` ≥ 1; the sums are merged in block order, so the result is the
/// same for any thread count.
pub fn evaluate(
    data: &RatingFile,
    model: &Model,
    splits: &[Split],
    clamp: Option<(f32, f32)>,
    isa: Isa,
    threads: usize,
) -> Result<Vec<LossStats>> {
    with_k!(model.rank, K => {
        let users = aligned_rows::<K>(&model.user_factors);
        let items = aligned_rows::<K>(&model.item_factors);
        splits
            .iter()
            .map(|&split| evaluate_split(data, model, &users, &items, split, clamp, isa, threads))
            .collect()
    })
}

#[allow(clippy::too_many_arguments)] // one call site, all of it needed
fn evaluate_split<const K: usize>(
    data: &RatingFile,
    model: &Model,
    users: &[FactorRow<K>],
    items: &[FactorRow<K>],
    split: Split,
    clamp: Option<(f32, f32)>,
    isa: Isa,
    threads: usize,
) -> Result<LossStats> {
    let p = data.grid();
    let blocks = p * p;
    let next = AtomicUsize::new(0);
    let biased = model.kind == ModelKind::Biased;
    let block_loss = |b: usize| -> Result<LossStats> {
        let (ub, ib) = (b / p, b % p);
        let (ur, ir) = (data.user_band(ub), data.item_band(ib));
        let ratings = match split {
            Split::Train => data.checked_train_records(ub, ib)?,
            Split::Test => data.checked_test_records(ub, ib)?,
        };
        let (Some(u), Some(i)) = (
            band_view(users, &model.user_bias, ur, biased),
            band_view(items, &model.item_bias, ir, biased),
        ) else {
            return Err(anyhow!("block ({ub}, {ib}): band outside the model"));
        };
        evaluate_block(isa, model.kind, model.mu, u, i, ratings, clamp)
            .map_err(|e| anyhow!("{}: block ({ub}, {ib}): {e}", data.path().display()))
    };
    let mut per_block: Vec<Option<Result<LossStats>>> = (0..blocks).map(|_| None).collect();
    let results = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.clamp(1, blocks.max(1)))
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let b = next.fetch_add(1, Ordering::Relaxed);
                        if b >= blocks {
                            break mine;
                        }
                        mine.push((b, block_loss(b)));
                    }
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join()).collect::<Vec<_>>()
    });
    for worker in results {
        let done = worker.map_err(|_| anyhow!("an evaluation thread panicked"))?;
        for (b, loss) in done {
            per_block[b] = Some(loss);
        }
    }
    let mut total = LossStats::default();
    for loss in per_block.into_iter().flatten() {
        total.merge(loss?);
    }
    Ok(total)
}

#[derive(Serialize)]
struct Report {
    model: String,
    /// Epochs trained when the checkpoint was written.
    epoch: u32,
    /// The epoch whose model is evaluated (early stopping keeps the best).
    model_epoch: u32,
    data: String,
    clamp: Option<(f32, f32)>,
    isa: &'static str,
    test: SplitError,
    #[serde(skip_serializing_if = "Option::is_none")]
    train: Option<SplitError>,
    noise_floor: Option<f64>,
    mean_rmse: Option<f64>,
}

/// The number of threads to use: `--threads`, or every CPU.
pub fn thread_count(requested: Option<usize>) -> Result<usize> {
    match requested {
        Some(0) => usage_bail!("--threads must be at least 1"),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// Runs `funkd eval`.
pub fn run(args: EvalArgs) -> Result<()> {
    let isa = choose_isa(args.isa.as_deref())?;
    let threads = thread_count(args.threads)?;
    let ModelWithData { data, loaded } = ModelWithData::open(&args.model, args.data.as_deref())?;
    let clamp = clamp_range(&data, args.no_clamp);
    let splits: &[Split] = if args.train {
        &[Split::Test, Split::Train]
    } else {
        &[Split::Test]
    };
    let losses = evaluate(&data, &loaded.model, splits, clamp, isa, threads)
        .with_context(|| format!("cannot evaluate {}", loaded.path.display()))?;
    let report = Report {
        model: loaded.path.display().to_string(),
        epoch: loaded.epoch,
        model_epoch: loaded.model_epoch,
        data: data.path().display().to_string(),
        clamp,
        isa: isa.name(),
        test: losses[0].into(),
        train: losses.get(1).map(|&l| l.into()),
        noise_floor: data.noise_floor(),
        mean_rmse: data.mean_rmse(),
    };
    if args.json {
        return print_json(&report);
    }
    write_stdout(|out| {
        let line = |out: &mut dyn Write, name: &str, e: &SplitError| {
            writeln!(
                out,
                "{name:<5}  RMSE {:.6}  MAE {:.6}  ({} ratings)",
                e.rmse, e.mae, e.count
            )
        };
        writeln!(
            out,
            "model {} ({}) on {}{}",
            report.model,
            if report.model_epoch == report.epoch {
                format!("epoch {}", report.epoch)
            } else {
                format!(
                    "the model of epoch {}, kept by early stopping; trained {} epochs",
                    report.model_epoch, report.epoch
                )
            },
            report.data,
            match clamp {
                Some((lo, hi)) => format!(", predictions clamped to [{lo}, {hi}]"),
                None => String::new(),
            }
        )?;
        line(out, "test", &report.test)?;
        if let Some(train) = &report.train {
            line(out, "train", train)?;
        }
        if let Some(floor) = report.noise_floor {
            writeln!(out, "noise floor RMSE {floor:.6}")?;
        }
        if let Some(mean) = report.mean_rmse {
            writeln!(out, "predicting the mean: RMSE {mean:.6}")?;
        }
        Ok(())
    })
}
