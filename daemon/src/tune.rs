//! A small, honest search over rank, learning rate and
//! regularisation, by k-fold cross-validation of the TRAIN split only.
//!
//! The file's test split is never read: the train ratings are shuffled with
//! the fold seed and dealt into the given number of folds (as [`crate::cv`] deals all
//! ratings); each candidate is trained on all folds but one and measured on
//! that one, for every fold. The candidates are the grid of `--factors` ×
//! `--learning-rate` × `--reg` × `--reg-row` (or `--samples` of them drawn
//! at random with `--search-seed`); learning rates, λ and λ₀ are given as
//! multiples of the defaults derived from the data unless `--absolute` is
//! set. Every other
//! setting is `funkd train`'s default (early stopping on a validation
//! slice of each fold's train ratings included). The table is sorted by
//! mean RMSE; the best row's flags are printed for `funkd train`.
//!
//! [`tune`] is the entry point; the command line turns its flags into the
//! candidates.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::cv::{deal_folds, fold_set, Spread, WorkDir};
use crate::ratingfile::{self, RatingFile, WriteOptions};
use crate::report::{Reporter, Silent};
use crate::train::{train, Derived, TrainConfig};

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

/// A search, checked: the candidates and how each is measured.
#[derive(Clone, Debug, PartialEq)]
pub struct TuneConfig {
    /// Folds of the train split, from 2 to its number of ratings.
    pub folds: usize,
    /// Seed of the shuffle that deals the train ratings into folds.
    pub fold_seed: u64,
    /// The cap on epochs per training, at least 1.
    pub epochs: u32,
    /// Worker threads per training (train's default when `None`).
    pub threads: Option<usize>,
    /// The settings to compare, at least one.
    pub candidates: Vec<Candidate>,
    /// The defaults derived from the data (reported beside the result).
    pub derived: Derived,
}

/// Cross-validates every candidate of `config` on the train split of
/// `data` (its test split is never read), working in `work`; a note to
/// `reporter` per candidate, and a warning for each of the best few that
/// the epoch cap stopped while it was still improving.
pub fn tune(
    data: &RatingFile,
    config: &TuneConfig,
    work: &WorkDir,
    reporter: &dyn Reporter,
) -> Result<TuneReport> {
    // Folds of the train split only: the test split is dropped here.
    data.check_all_blocks()?;
    let mut set = data.to_rating_set();
    set.test.clear();
    let dealt = deal_folds(&set, config.folds, config.fold_seed);
    let mut fold_files = Vec::with_capacity(config.folds);
    for f in 0..config.folds {
        let path = work.path().join(format!("train-fold-{}.funk", f + 1));
        let options = WriteOptions {
            grid: None,
            seed: config.fold_seed.wrapping_add(f as u64),
        };
        ratingfile::write(&path, &fold_set(&set, &dealt, f), &options)
            .with_context(|| format!("cannot write {}", path.display()))?;
        fold_files.push(RatingFile::open(&path)?);
    }
    drop(set);

    let mut scored = Vec::with_capacity(config.candidates.len());
    for (c, cand) in config.candidates.iter().enumerate() {
        let mut per_fold = Vec::with_capacity(config.folds);
        let mut model_epochs = Vec::with_capacity(config.folds);
        for (f, fold) in fold_files.iter().enumerate() {
            let dir = work.path().join(format!("cand-{}-fold-{}", c + 1, f + 1));
            let (rmse, epoch) = train_candidate(config, cand, fold, &dir).with_context(|| {
                format!("candidate {} ({}), fold {}", c + 1, cand.flags(), f + 1)
            })?;
            per_fold.push(rmse);
            model_epochs.push(epoch);
        }
        let s = Scored {
            candidate: *cand,
            rmse: Spread::of(per_fold.iter().copied()),
            per_fold,
            capped_folds: model_epochs.iter().filter(|&&e| e >= config.epochs).count(),
            model_epochs,
        };
        reporter.note(&format!(
            "tune {}/{}: {}  rmse {:.4} ± {:.4}",
            c + 1,
            config.candidates.len(),
            cand.flags(),
            s.rmse.mean,
            s.rmse.std
        ));
        scored.push(s);
    }
    scored.sort_by(|a, b| a.rmse.mean.total_cmp(&b.rmse.mean));
    for (rank, s) in scored.iter().take(CHECKED_FOR_CAP).enumerate() {
        if s.capped_folds > 0 {
            reporter.warning(&format!(
                "the {} candidate ({}) was still improving when the epoch cap \
                 (--epochs {}) stopped it on {} of {} folds; its RMSE may be better with a \
                 higher --epochs",
                ordinal(rank + 1),
                s.candidate.flags(),
                config.epochs,
                s.capped_folds,
                config.folds
            ));
        }
    }
    Ok(TuneReport {
        data: data.path().display().to_string(),
        folds: config.folds,
        train_ratings: data.train_count(),
        epochs: config.epochs,
        derived: (config.derived.learning_rate, config.derived.reg),
        best_flags: scored
            .first()
            .map_or(String::new(), |s| s.candidate.flags()),
        candidates: scored,
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
    config: &TuneConfig,
    cand: &Candidate,
    fold: &RatingFile,
    dir: &Path,
) -> Result<(f64, u32)> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    let mut train_config = TrainConfig::defaults_for(fold);
    train_config.rank = cand.factors;
    train_config.learning_rate = cand.learning_rate;
    train_config.reg = cand.reg;
    train_config.reg_row = cand.reg_row;
    train_config.epochs = config.epochs;
    train_config.early_stop_min_gain = TUNE_MIN_GAIN;
    if let Some(threads) = config.threads {
        train_config.threads = threads.clamp(1, fold.grid().max(1));
    }
    train_config.checkpoint_every_epochs = 0;
    train_config.keep = 1;
    train_config.validate()?;
    let summary = train(fold, &train_config, dir, &Silent)?;
    std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    let rmse = summary
        .test_rmse
        .context("internal error: a tuning fold has no held-out ratings")?;
    Ok((rmse, summary.model_epoch.unwrap_or(summary.epochs)))
}
