//! `funkd tune`: a small, honest search over rank, learning rate and
//! regularisation, by k-fold cross-validation of the TRAIN split only.
//!
//! The file's test split is never read: the train ratings are shuffled with
//! `--fold-seed` and dealt into `--folds` folds (as `funkd cv` deals all
//! ratings); each candidate is trained on all folds but one and measured on
//! that one, for every fold. The candidates are the grid of `--factors` ×
//! `--learning-rate` × `--reg` × `--reg-row` (or `--samples` of them drawn
//! at random with `--search-seed`); learning rates, λ and λ₀ are given as
//! multiples of the defaults derived from the data unless `--absolute` is
//! set. Every other
//! setting is `funkd train`'s default (early stopping on a validation
//! slice of each fold's train ratings included). The table is sorted by
//! mean RMSE; the best row's flags are printed for `funkd train`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;

use crate::commands::context::{open_data, print_json, write_stdout};
use crate::commands::cv::{deal_folds, fold_set, Spread};
use crate::commands::workdir::WorkDir;
use crate::rank::MAX_RANK;
use crate::ratingfile::{self, RatingFile, WriteOptions};
use crate::report::Silent;
use crate::train::{train, DataShape, Derived, TrainConfig};
use crate::usage_bail;

/// Options of `funkd tune`.
#[derive(Debug, Clone, clap::Args)]
pub struct TuneArgs {
    /// The rating file (only its train split is used).
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// Work directory for the fold files and the candidates' checkpoints,
    /// kept afterwards [default: a temporary directory, removed at the end].
    #[arg(long, visible_alias = "dir", value_name = "DIR")]
    pub checkpoint_dir: Option<PathBuf>,
    /// Folds of the train split, at least 2.
    #[arg(long, default_value_t = 3)]
    pub folds: usize,
    /// Seed of the shuffle that deals the train ratings into folds.
    #[arg(long, default_value_t = 1)]
    pub fold_seed: u64,
    /// Ranks to try, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "16,32,64")]
    pub factors: Vec<usize>,
    /// Learning rates to try: multiples of the derived default (or
    /// absolute values with --absolute), comma-separated.
    #[arg(
        long,
        visible_alias = "lr",
        value_delimiter = ',',
        default_value = "0.5,1,2"
    )]
    pub learning_rate: Vec<f32>,
    /// λ values to try: multiples of the derived default (or absolute with
    /// --absolute), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0.5,1,2")]
    pub reg: Vec<f32>,
    /// λ₀ values (the per-row prior) to try: multiples of the derived
    /// default (or absolute with --absolute), comma-separated [default:
    /// the derived λ₀ only].
    #[arg(long, value_delimiter = ',')]
    pub reg_row: Option<Vec<f32>>,
    /// --learning-rate, --reg and --reg-row are absolute values, not multiples.
    #[arg(long)]
    pub absolute: bool,
    /// Random search: try this many candidates drawn from the grid.
    #[arg(long, value_name = "N")]
    pub samples: Option<usize>,
    /// Seed of the random search.
    #[arg(long, default_value_t = 1)]
    pub search_seed: u64,
    /// The most epochs per training; early stopping on each fold's
    /// validation slice ends most trainings well before [default: 200].
    #[arg(long, value_name = "N")]
    pub epochs: Option<u32>,
    /// Worker threads per training [default: train's default].
    #[arg(long, value_name = "T")]
    pub threads: Option<usize>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress output on stderr (warnings still go there).
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// The default cap on epochs per training. Higher than `train`'s default:
/// the candidates with small learning rates need more epochs, and a cap
/// that cuts them off while they still improve would rank them unfairly;
/// early stopping ends every training once it stops improving.
pub const DEFAULT_TUNE_EPOCHS: u32 = 200;

/// A candidate's training also stops once its validation RMSE gains less
/// than this fraction of itself over the patience window: with a decaying
/// step, a small learning rate keeps gaining ever less for hundreds of
/// epochs, and gains this small do not change the ranking.
pub const TUNE_MIN_GAIN: f64 = 1e-4;

/// How many of the best candidates are checked for hitting the epoch cap.
const CHECKED_FOR_CAP: usize = 3;

/// One candidate setting.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Candidate {
    /// Rank.
    pub factors: usize,
    /// Learning rate η.
    pub learning_rate: f32,
    /// λ.
    pub reg: f32,
    /// λ₀, the per-row prior.
    pub reg_row: f32,
}

impl Candidate {
    /// The `funkd train` flags of this candidate.
    pub fn flags(&self) -> String {
        format!(
            "--factors {} --learning-rate {} --reg {} --reg-row {}",
            self.factors, self.learning_rate, self.reg, self.reg_row
        )
    }
}

/// A candidate's cross-validated error.
#[derive(Clone, Debug, Serialize)]
pub struct Scored {
    /// The setting.
    pub candidate: Candidate,
    /// RMSE over the folds (clamped predictions on each held-out fold).
    pub rmse: Spread,
    /// Each fold's RMSE.
    pub per_fold: Vec<f64>,
    /// Epochs whose model was kept, per fold (early stopping).
    pub model_epochs: Vec<u32>,
    /// Folds whose model was that of the last epoch allowed: still
    /// improving when the epoch cap cut the training off.
    pub capped_folds: usize,
}

/// What `tune` found, as printed by `--json`.
#[derive(Clone, Debug, Serialize)]
pub struct TuneReport {
    /// The rating file.
    pub data: String,
    /// Folds of its train split.
    pub folds: usize,
    /// Train ratings searched on (the test split is not used).
    pub train_ratings: u64,
    /// The cap on epochs per training.
    pub epochs: u32,
    /// The defaults derived from the data: (η, λ).
    pub derived: (f32, f32),
    /// Every candidate, best first.
    pub candidates: Vec<Scored>,
    /// The best candidate's flags for `funkd train`.
    pub best_flags: String,
}

/// The candidates: the grid, or `samples` of it at random.
pub fn candidates(args: &TuneArgs, derived: &Derived) -> Vec<Candidate> {
    let (derived_rate, derived_reg, derived_row) =
        (derived.learning_rate, derived.reg, derived.reg_row);
    let scale = |v: f32, base: f32| if args.absolute { v } else { v * base };
    let rows: Vec<f32> = match &args.reg_row {
        Some(list) => list.iter().map(|&r| scale(r, derived_row)).collect(),
        None => vec![derived_row],
    };
    let mut grid = Vec::new();
    for &factors in &args.factors {
        for &lr in &args.learning_rate {
            for &reg in &args.reg {
                for &row in &rows {
                    grid.push(Candidate {
                        factors,
                        learning_rate: scale(lr, derived_rate),
                        reg: scale(reg, derived_reg),
                        reg_row: row,
                    });
                }
            }
        }
    }
    if let Some(n) = args.samples {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(args.search_seed);
        grid.shuffle(&mut rng);
        grid.truncate(n);
    }
    grid
}

/// Runs `funkd tune`.
pub fn run(args: TuneArgs) -> Result<()> {
    if args.folds < 2 {
        usage_bail!("--folds must be at least 2, not {}", args.folds);
    }
    if args.factors.is_empty()
        || args.learning_rate.is_empty()
        || args.reg.is_empty()
        || args.reg_row.as_ref().is_some_and(Vec::is_empty)
    {
        usage_bail!("--factors, --learning-rate, --reg and --reg-row each need at least one value");
    }
    let what = if args.absolute {
        "absolute value"
    } else {
        "multiple of the derived default"
    };
    for &lr in &args.learning_rate {
        if !(lr.is_finite() && lr > 0.0) {
            usage_bail!("--learning-rate {lr} must be a finite number > 0 (a {what})");
        }
    }
    for (flag, values) in [("reg", Some(&args.reg)), ("reg-row", args.reg_row.as_ref())] {
        for &v in values.into_iter().flatten() {
            if !(v.is_finite() && v >= 0.0) {
                usage_bail!("--{flag} {v} must be a finite number ≥ 0 (a {what})");
            }
        }
    }
    if let Some(&k) = args.factors.iter().find(|&&k| !(1..=MAX_RANK).contains(&k)) {
        usage_bail!("--factors {k} must be within 1..={MAX_RANK}");
    }
    if args.samples == Some(0) {
        usage_bail!("--samples must be at least 1");
    }
    let data = open_data(&args.data)?;
    if data.train_count() < args.folds as u64 {
        usage_bail!(
            "--folds {} is more than the {} train ratings",
            args.folds,
            data.train_count()
        );
    }
    let epochs = args.epochs.unwrap_or(DEFAULT_TUNE_EPOCHS);
    if epochs == 0 {
        usage_bail!("--epochs must be at least 1");
    }
    let derived = Derived::for_shape(&DataShape::of(&data));
    let list = candidates(&args, &derived);
    let work = WorkDir::given_or_temporary(args.checkpoint_dir.as_deref(), "tune")?;
    if !args.quiet {
        eprintln!("funkd: tune: {}", work.describe());
    }

    // Folds of the train split only: the test split is dropped here.
    data.check_all_blocks()?;
    let mut set = data.to_rating_set();
    set.test.clear();
    let dealt = deal_folds(&set, args.folds, args.fold_seed);
    let mut fold_files = Vec::with_capacity(args.folds);
    for f in 0..args.folds {
        let path = work.path().join(format!("train-fold-{}.funk", f + 1));
        let options = WriteOptions {
            grid: None,
            seed: args.fold_seed.wrapping_add(f as u64),
        };
        ratingfile::write(&path, &fold_set(&set, &dealt, f), &options)
            .with_context(|| format!("cannot write {}", path.display()))?;
        fold_files.push(open_data(&path)?);
    }
    drop(set);

    let mut scored = Vec::with_capacity(list.len());
    for (c, cand) in list.iter().enumerate() {
        let mut per_fold = Vec::with_capacity(args.folds);
        let mut model_epochs = Vec::with_capacity(args.folds);
        for (f, fold) in fold_files.iter().enumerate() {
            let dir = work.path().join(format!("cand-{}-fold-{}", c + 1, f + 1));
            let (rmse, epoch) = train_candidate(&args, cand, fold, &dir).with_context(|| {
                format!("candidate {} ({}), fold {}", c + 1, cand.flags(), f + 1)
            })?;
            per_fold.push(rmse);
            model_epochs.push(epoch);
        }
        let s = Scored {
            candidate: *cand,
            rmse: Spread::of(per_fold.iter().copied()),
            per_fold,
            capped_folds: model_epochs.iter().filter(|&&e| e >= epochs).count(),
            model_epochs,
        };
        if !args.quiet {
            eprintln!(
                "funkd: tune {}/{}: {}  rmse {:.4} ± {:.4}",
                c + 1,
                list.len(),
                cand.flags(),
                s.rmse.mean,
                s.rmse.std
            );
        }
        scored.push(s);
    }
    scored.sort_by(|a, b| a.rmse.mean.total_cmp(&b.rmse.mean));
    for (rank, s) in scored.iter().take(CHECKED_FOR_CAP).enumerate() {
        if s.capped_folds > 0 {
            eprintln!(
                "funkd: warning: the {} candidate ({}) was still improving when the epoch cap \
                 (--epochs {epochs}) stopped it on {} of {} folds; its RMSE may be better with a \
                 higher --epochs",
                ordinal(rank + 1),
                s.candidate.flags(),
                s.capped_folds,
                args.folds
            );
        }
    }
    let report = TuneReport {
        data: data.path().display().to_string(),
        folds: args.folds,
        train_ratings: data.train_count(),
        epochs,
        derived: (derived.learning_rate, derived.reg),
        best_flags: scored
            .first()
            .map_or(String::new(), |s| s.candidate.flags()),
        candidates: scored,
    };
    if args.json {
        return print_json(&report);
    }
    write_stdout(|out| {
        writeln!(
            out,
            "{}-fold cross-validation of the {} train ratings of {} (its test split unused)",
            report.folds, report.train_ratings, report.data
        )?;
        writeln!(
            out,
            "derived defaults: learning rate {}, reg {}",
            report.derived.0, report.derived.1
        )?;
        writeln!(
            out,
            "factors  learning-rate        reg  reg-row    rmse     std  epochs (per fold, of at most {})",
            report.epochs
        )?;
        let mut capped = false;
        for s in &report.candidates {
            let c = s.candidate;
            let epochs: Vec<String> = s
                .model_epochs
                .iter()
                .map(|&e| {
                    if e >= report.epochs {
                        capped = true;
                        format!("{e}*")
                    } else {
                        e.to_string()
                    }
                })
                .collect();
            writeln!(
                out,
                "{:>7}  {:>13.6}  {:>9.6}  {:>7.3}  {:.4}  {:.4}  {}",
                c.factors,
                c.learning_rate,
                c.reg,
                c.reg_row,
                s.rmse.mean,
                s.rmse.std,
                epochs.join(" ")
            )?;
        }
        if capped {
            writeln!(
                out,
                "* the epoch cap: the validation RMSE was still improving (try a higher --epochs)"
            )?;
        }
        writeln!(out, "best: funkd train {}", report.best_flags)
    })
}

/// A candidate's place in words: "best", "second best", "third best", "4th best"…
fn ordinal(n: usize) -> String {
    match n {
        1 => "best".into(),
        2 => "second best".into(),
        3 => "third best".into(),
        n => format!("{n}th best"),
    }
}

/// Trains one candidate on one fold from scratch; its held-out RMSE and
/// the epoch of the model kept.
fn train_candidate(
    args: &TuneArgs,
    cand: &Candidate,
    fold: &RatingFile,
    dir: &Path,
) -> Result<(f64, u32)> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    let mut config = TrainConfig::defaults_for(fold);
    config.rank = cand.factors;
    config.learning_rate = cand.learning_rate;
    config.reg = cand.reg;
    config.reg_row = cand.reg_row;
    config.epochs = args.epochs.unwrap_or(DEFAULT_TUNE_EPOCHS);
    config.early_stop_min_gain = TUNE_MIN_GAIN;
    if let Some(threads) = args.threads {
        config.threads = threads.clamp(1, fold.grid().max(1));
    }
    config.checkpoint_every_epochs = 0;
    config.keep = 1;
    config.validate()?;
    let summary = train(fold, &config, dir, &Silent)?;
    std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    let rmse = summary
        .test_rmse
        .context("internal error: a tuning fold has no held-out ratings")?;
    Ok((rmse, summary.model_epoch.unwrap_or(summary.epochs)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        tune: TuneArgs,
    }

    fn args(extra: &[&str]) -> TuneArgs {
        let mut v = vec!["tune", "--data", "d.funk"];
        v.extend_from_slice(extra);
        Cli::parse_from(v).tune
    }

    fn derived(learning_rate: f32, reg: f32) -> Derived {
        Derived {
            learning_rate,
            reg,
            reg_bias: 0.01,
            reg_row: 5.0,
        }
    }

    #[test]
    fn the_grid_is_multiples_of_the_derived_defaults() {
        let c = candidates(
            &args(&["--factors", "8,16", "--lr", "1,2", "--reg", "0.5"]),
            &derived(0.01, 0.04),
        );
        assert_eq!(c.len(), 4);
        assert_eq!(
            c[1],
            Candidate {
                factors: 8,
                learning_rate: 0.02,
                reg: 0.02,
                reg_row: 5.0,
            }
        );
        let abs = candidates(
            &args(&[
                "--factors",
                "8",
                "--lr",
                "0.3",
                "--reg",
                "0.1",
                "--absolute",
            ]),
            &derived(0.01, 0.04),
        );
        assert_eq!(abs[0].learning_rate, 0.3);
        assert_eq!(abs[0].reg, 0.1);
        assert_eq!(abs[0].reg_row, 5.0, "without --reg-row: the derived λ₀");
        let rows = candidates(
            &args(&[
                "--factors",
                "8",
                "--lr",
                "1",
                "--reg",
                "1",
                "--reg-row",
                "0,2",
            ]),
            &derived(0.01, 0.04),
        );
        assert_eq!(
            rows.iter().map(|c| c.reg_row).collect::<Vec<_>>(),
            vec![0.0, 10.0]
        );
    }

    #[test]
    fn random_search_draws_distinct_grid_points_reproducibly() {
        let a = candidates(&args(&["--samples", "5"]), &derived(0.01, 0.03));
        assert_eq!(a.len(), 5);
        assert_eq!(
            a,
            candidates(&args(&["--samples", "5"]), &derived(0.01, 0.03))
        );
        let grid = candidates(&args(&[]), &derived(0.01, 0.03));
        assert_eq!(grid.len(), 27);
        assert!(a.iter().all(|c| grid.contains(c)));
        for (i, x) in a.iter().enumerate() {
            assert!(!a[i + 1..].contains(x), "drawn twice: {x:?}");
        }
    }
}
