//! A model's error on the splits of its rating file: RMSE and MAE of the
//! test split (and, if asked, the train split), predictions clamped to
//! the data's rating range when it has one.
//!
//! Blocks are evaluated in parallel with the kernel's [`evaluate_block`]
//! and their f64 sums merged in block order, so the result does not depend
//! on the thread count.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{anyhow, Context, Result};
use funk_kernel::{evaluate_block, FactorRow, Isa, LossStats, ModelKind};
use serde::Serialize;

use crate::model::Model;
use crate::ratingfile::RatingFile;
use crate::trained::rows::{aligned_rows, band_view};
use crate::trained::ModelWithData;
use crate::with_k;

/// What to evaluate, checked: `funkd eval`'s options after parsing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvalConfig {
    /// Also evaluate the train split (after the test split).
    pub train: bool,
    /// The range to clamp predictions to, if any.
    pub clamp: Option<(f32, f32)>,
    /// The instruction set of the kernel.
    pub isa: Isa,
    /// Threads, at least 1. The result does not depend on it.
    pub threads: usize,
}

/// A model's error on its data, with what says which model and data.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evaluation {
    /// The checkpoint file evaluated.
    pub model: PathBuf,
    /// Epochs trained when the checkpoint was written.
    pub epoch: u32,
    /// The epoch whose model is evaluated (early stopping keeps the best).
    pub model_epoch: u32,
    /// The rating file.
    pub data: PathBuf,
    /// The range predictions were clamped to.
    pub clamp: Option<(f32, f32)>,
    /// The instruction set used.
    pub isa: &'static str,
    /// The error on the test split.
    pub test: SplitError,
    /// The error on the train split, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train: Option<SplitError>,
    /// The RMSE of the true model, for generated data.
    pub noise_floor: Option<f64>,
    /// The RMSE of predicting the mean train rating.
    pub mean_rmse: Option<f64>,
}

/// Evaluates the model of `trained` on its data file as `config` says.
pub fn evaluate_model(trained: &ModelWithData, config: &EvalConfig) -> Result<Evaluation> {
    let ModelWithData { data, loaded } = trained;
    let splits: &[Split] = if config.train {
        &[Split::Test, Split::Train]
    } else {
        &[Split::Test]
    };
    let losses = evaluate(
        data,
        &loaded.model,
        splits,
        config.clamp,
        config.isa,
        config.threads,
    )
    .with_context(|| format!("cannot evaluate {}", loaded.path.display()))?;
    Ok(Evaluation {
        model: loaded.path.clone(),
        epoch: loaded.epoch,
        model_epoch: loaded.model_epoch,
        data: data.path().to_path_buf(),
        clamp: config.clamp,
        isa: config.isa.name(),
        test: losses[0].into(),
        train: losses.get(1).map(|&l| l.into()),
        noise_floor: data.noise_floor(),
        mean_rmse: data.mean_rmse(),
    })
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
