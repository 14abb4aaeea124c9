//! A training run as it outlives a process: the settings it was started
//! with, where it stands, and the record of each epoch. Checkpoints store
//! these ([`crate::checkpoint`]); training advances them ([`crate::train`]);
//! both sit above this module, so neither needs the other to speak of a run.

use funk_kernel::{LearningRate, ModelKind};
use serde::Serialize;

/// How the parameters are fitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Stochastic gradient descent, one rating at a time (the default).
    Sgd,
    /// Full-batch gradient descent: one step per epoch along ∂J/∂θ.
    Gd,
}

impl Method {
    /// The name used on the command line and in reports.
    pub const fn name(self) -> &'static str {
        match self {
            Method::Sgd => "sgd",
            Method::Gd => "gd",
        }
    }
}

/// How a run picks the ratings of its validation slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HoldOut {
    /// By a hash of the pair's original ids (what this build does): the
    /// same pairs in a data file and in any extension of it.
    OriginalIds,
    /// By a hash of the pair's internal ids: what checkpoints of format
    /// versions 1 and 2 were trained with. A run that held out this way
    /// cannot be resumed with its validation slice (this build would hold
    /// out other ratings, some of which the run has trained on).
    InternalIds,
}

/// What a run was started with: fixed for its whole life, except the
/// current learning rate (lowered after divergence) and the target epoch
/// count (a resumed run may extend it).
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Plain or biased model.
    pub kind: ModelKind,
    /// SGD or full-batch GD.
    pub method: Method,
    /// The learning-rate schedule.
    pub schedule: LearningRate,
    /// The rank the user asked for.
    pub rank: u32,
    /// The padded row length.
    pub k: u32,
    /// Users in the data file.
    pub users: u64,
    /// Items in the data file.
    pub items: u64,
    /// The data file's grid P.
    pub grid: u32,
    /// The learning rate the run started with.
    pub base_learning_rate: f32,
    /// The learning rate now (after any back-off).
    pub learning_rate: f32,
    /// λ, regularisation of factor rows.
    pub reg: f32,
    /// λ_b, regularisation of biases.
    pub reg_bias: f32,
    /// The seed of initialisation and schedule.
    pub seed: u64,
    /// `RatingFile::identity()` of the data trained on.
    pub data_identity: u64,
    /// Name of the instruction set the run uses (the same ISA gives the same bits).
    pub isa: String,
    /// Epochs to train in all.
    pub epochs: u32,
    /// Early-stopping patience in epochs (0 = off).
    pub early_stop: u32,
    /// Fraction of the train ratings held out as the validation slice (0 = none).
    pub validation: f32,
    /// λ₀: the per-row prior, applied once per epoch to every factor row
    /// whatever its number of ratings (0 = off).
    pub reg_row: f32,
    /// How the validation slice's ratings are picked.
    pub hold_out: HoldOut,
}

/// Where the run stands and what it has seen so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    /// The epoch in progress (0-based): epochs completed so far.
    pub epoch: u32,
    /// The next stratum of `epoch` to train (0 at an epoch boundary).
    pub stratum: u32,
    /// How many times the learning rate was lowered after divergence.
    pub backoffs: u32,
    /// Σ e² of the strata of `epoch` already trained.
    pub partial_sse: f64,
    /// Ratings in the strata of `epoch` already trained.
    pub partial_count: u64,
    /// Ratings processed over the whole run (all epochs, incl. discarded ones).
    pub updates: u64,
    /// Train RMSE of every completed epoch.
    pub train_rmse: Vec<f64>,
    /// Test RMSE of every completed epoch (NaN when there is no test split).
    pub test_rmse: Vec<f64>,
    /// Validation RMSE of every completed epoch (NaN when there is no
    /// validation slice).
    pub validation_rmse: Vec<f64>,
}

/// One line of `metrics.jsonl`: what a run reports of each epoch.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EpochRecord {
    /// The epoch just completed (1-based).
    pub epoch: u32,
    /// Epochs in all.
    pub epochs: u32,
    /// Train RMSE (errors before each update).
    pub train_rmse: f64,
    /// Test RMSE (clamped predictions).
    pub test_rmse: Option<f64>,
    /// Test MAE.
    pub test_mae: Option<f64>,
    /// Validation RMSE (clamped predictions), if there is a validation slice.
    pub validation_rmse: Option<f64>,
    /// Learning rate of the epoch.
    pub learning_rate: f32,
    /// Updates per second of the epoch by the wall clock (its updates
    /// over [`EpochRecord::seconds`]).
    pub updates_per_sec: f64,
    /// Updates per second inside the epoch's training windows only (a
    /// diagnostic: evaluation, checkpoints and the rest excluded).
    pub window_updates_per_sec: f64,
    /// Seconds the epoch took by the wall clock, from its start to the end
    /// of its evaluation and checkpoint.
    pub seconds: f64,
    /// Estimated seconds to the end of the run.
    pub eta_seconds: f64,
    /// Unix time.
    pub unix_time: f64,
}

/// The index of the lowest finite value (the first one on ties): the
/// epoch (from 0) whose model early stopping keeps.
pub fn best_epoch(hist: &[f64]) -> Option<usize> {
    hist.iter()
        .enumerate()
        .filter(|(_, x)| x.is_finite())
        .fold(None, |best: Option<(usize, f64)>, (i, x)| match best {
            Some((_, b)) if b <= *x => best,
            _ => Some((i, *x)),
        })
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::best_epoch;

    #[test]
    fn the_best_epoch_is_the_first_lowest_finite_one() {
        assert_eq!(best_epoch(&[]), None);
        assert_eq!(best_epoch(&[f64::NAN, f64::NAN]), None);
        assert_eq!(best_epoch(&[0.9, 0.8, f64::NAN, 0.8, 0.85]), Some(1));
        assert_eq!(best_epoch(&[f64::NAN, 1.0]), Some(1));
    }
}
