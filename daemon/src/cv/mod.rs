//! k-fold cross-validation over all ratings of a rating file
//! (train and test split together), the protocol Surprise and LIBMF users
//! compare with.
//!
//! The ratings are shuffled with the fold seed and dealt round-robin into
//! the given number of folds of equal size (±1). For each fold f, a rating file with
//! fold f as its test split and the others as its train split is written
//! to `DIR/fold-f.funk`, a model is trained on it into `DIR/fold-f/` with
//! the training options given (those of `funkd train`; `DIR` is the work
//! directory), and its test RMSE and MAE are measured (predictions
//! clamped to the rating range). Every fold file is written the same way
//! from the same data and seed, so rerunning an interrupted `cv` resumes
//! each fold's training from its checkpoints.
//!
//! [`cross_validate`] is the entry point; `tune` deals its folds the same
//! way ([`folds`]).

pub mod folds;
pub mod workdir;

use anyhow::{Context, Result};
use funk_kernel::Isa;
use serde::Serialize;

use crate::eval::{evaluate, Split, SplitError};
use crate::ratingfile::{self, RatingFile, RatingSet, Triple, WriteOptions};
use crate::report::Reporter;
use crate::train::{train, TrainArgs, TrainConfig};
use crate::trained::load_checked_model;
pub use folds::{deal_folds, fold_set, Spread};
pub use workdir::WorkDir;

/// A cross-validation, checked: `funkd cv`'s options.
#[derive(Clone, Debug)]
pub struct CvConfig {
    /// Number of folds, from 2 to the number of ratings.
    pub folds: usize,
    /// Seed of the shuffle that deals ratings into folds.
    pub fold_seed: u64,
    /// The training options of every fold, as `funkd train` takes them
    /// (each fold's data file and checkpoint directory replace those given).
    pub train: TrainArgs,
    /// The instruction set of the evaluation.
    pub isa: Isa,
    /// Threads of the evaluation, at least 1.
    pub threads: usize,
}

/// One fold's result.
#[derive(Clone, Debug, Serialize)]
pub struct FoldResult {
    /// 1-based fold number.
    pub fold: usize,
    /// Ratings trained on.
    pub train_ratings: u64,
    /// Test RMSE and MAE (clamped predictions).
    pub test: SplitError,
    /// Train RMSE of the last epoch, as training reported it.
    pub train_rmse: f64,
    /// Epochs trained.
    pub epochs: u32,
    /// The fold's checkpoint directory (`null` when cv worked in a
    /// temporary directory, removed at the end).
    pub checkpoint_dir: Option<String>,
}

/// What `cv` found, as printed by `--json`.
#[derive(Clone, Debug, Serialize)]
pub struct CvReport {
    /// The rating file.
    pub data: String,
    /// Number of folds.
    pub folds: usize,
    /// All ratings (train + test of the data file).
    pub ratings: u64,
    /// Per-fold results.
    pub per_fold: Vec<FoldResult>,
    /// RMSE over folds.
    pub rmse: Spread,
    /// MAE over folds.
    pub mae: Spread,
}

/// Cross-validates a model trained as `config.train` says on all ratings
/// of `data`, working in `work`; each fold's training reports to
/// `reporter`, and so does each fold's result (a note).
pub fn cross_validate(
    data: &RatingFile,
    config: &CvConfig,
    work: &WorkDir,
    reporter: &dyn Reporter,
) -> Result<CvReport> {
    data.check_all_blocks()?;
    let set = data.to_rating_set();
    let dealt = deal_folds(&set, config.folds, config.fold_seed);
    let mut per_fold = Vec::with_capacity(config.folds);
    for f in 0..config.folds {
        let result = run_fold(config, (&set, &dealt), f, work, reporter)
            .with_context(|| format!("fold {} of {}", f + 1, config.folds))?;
        reporter.note(&format!(
            "fold {}/{}: test RMSE {:.6}  MAE {:.6}  ({} ratings)",
            f + 1,
            config.folds,
            result.test.rmse,
            result.test.mae,
            result.test.count
        ));
        per_fold.push(result);
    }
    Ok(CvReport {
        data: data.path().display().to_string(),
        folds: config.folds,
        ratings: data.train_count() + data.test_count(),
        rmse: Spread::of(per_fold.iter().map(|r| r.test.rmse)),
        mae: Spread::of(per_fold.iter().map(|r| r.test.mae)),
        per_fold,
    })
}

fn run_fold(
    config: &CvConfig,
    (set, dealt): (&RatingSet, &[Vec<Triple>]),
    f: usize,
    work: &WorkDir,
    reporter: &dyn Reporter,
) -> Result<FoldResult> {
    let (dir, temporary) = (work.path(), work.is_temporary());
    let fold_file = dir.join(format!("fold-{}.funk", f + 1));
    let fold_dir = dir.join(format!("fold-{}", f + 1));
    let options = WriteOptions {
        grid: None,
        seed: config.fold_seed.wrapping_add(f as u64),
    };
    let fold = fold_set(set, dealt, f);
    // Identical bytes when rerun: a resumed fold finds its own data file.
    ratingfile::write(&fold_file, &fold, &options)?;
    drop(fold);
    let fold_data = RatingFile::open(&fold_file)?;
    let mut fold_args = config.train.clone();
    fold_args.data = fold_file.clone();
    fold_args.checkpoint_dir = Some(fold_dir.clone());
    let mut train_config = TrainConfig::from_args(&fold_args, &fold_data)?;
    train_config.handle_signals = false;
    let summary = train(&fold_data, &train_config, &fold_dir, reporter)?;
    let loaded = load_checked_model(&fold_dir, reporter)?;
    let clamp = fold_data.rating_range();
    let loss = evaluate(
        &fold_data,
        &loaded.model,
        &[Split::Test],
        clamp,
        config.isa,
        config.threads,
    )?;
    Ok(FoldResult {
        fold: f + 1,
        train_ratings: fold_data.train_count(),
        test: loss[0].into(),
        train_rmse: summary.train_rmse,
        epochs: summary.epochs,
        checkpoint_dir: (!temporary).then(|| fold_dir.display().to_string()),
    })
}
