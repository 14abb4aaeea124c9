//! What a run reports: the final summary ([`TrainSummary`], the value
//! [`super::train`] returns), why it ended, and its settings in words.
//! The per-epoch record is [`EpochRecord`]; how any of it is shown is the
//! [`Reporter`](crate::report::Reporter)'s business.

use std::path::PathBuf;

use serde::Serialize;

use funk_kernel::{LearningRate, ModelKind};

use super::config::TrainConfig;
use crate::checkpoint::Settings;
pub use crate::runstate::EpochRecord;

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ending {
    /// Every epoch trained.
    Finished,
    /// Early stopping: the validation RMSE stopped improving.
    EarlyStopped,
    /// A signal asked to stop; the checkpoint resumes the run.
    Stopped,
}

/// The result of [`super::train`]; `funkd train --json` prints it.
#[derive(Clone, Debug, Serialize)]
pub struct TrainSummary {
    /// Epochs completed (over the whole run, resumed ones included).
    pub epochs: u32,
    /// Epochs asked for.
    pub epochs_target: u32,
    /// The epoch (1-based) whose parameters the model holds: the one with
    /// the best validation RMSE, restored at the end of a finished or
    /// early-stopped run; else the last one (`null` before any epoch).
    pub model_epoch: Option<u32>,
    /// Train RMSE of the model's epoch (errors before each update), NaN → null if none completed.
    pub train_rmse: f64,
    /// Test RMSE of the model (clamped to the rating range), if there is a test split.
    pub test_rmse: Option<f64>,
    /// Test MAE of the model.
    pub test_mae: Option<f64>,
    /// Validation RMSE of the model, if there is a validation slice.
    pub validation_rmse: Option<f64>,
    /// The best validation RMSE over all epochs, and its epoch (1-based).
    pub best_validation_rmse: Option<(f64, u32)>,
    /// Train ratings held out as the validation slice.
    pub validation_ratings: u64,
    /// The best test RMSE over all epochs, and its epoch (1-based): for
    /// information only, nothing is decided on the test split.
    pub best_test_rmse: Option<(f64, u32)>,
    /// The data set's known noise floor (RMSE of the true model), if known.
    pub noise_floor: Option<f64>,
    /// Rating updates per second by the wall clock: this process's
    /// updates over [`TrainSummary::training_seconds`] (everything each
    /// epoch does included: training, evaluation, checkpoints, …).
    pub updates_per_sec: f64,
    /// Rating updates per second inside the training windows only (the
    /// strata; evaluation, checkpoints and the other work between them
    /// excluded): a diagnostic of the training loop itself.
    pub window_updates_per_sec: f64,
    /// Wall-clock seconds from the start of this process's first epoch to
    /// the end of its last (0 when it trained none).
    pub training_seconds: f64,
    /// Rating updates in this process.
    pub updates: u64,
    /// Wall-clock seconds of this process's `train` call.
    pub seconds: f64,
    /// Seconds from entering `train` to the first block sent to a worker
    /// (opening the rating file comes before and is not counted).
    pub startup_seconds: Option<f64>,
    /// xxh3 of the model's parameters (hex): equal hashes, equal models.
    pub model_hash: String,
    /// Why the run ended.
    pub ending: Ending,
    /// The last checkpoint written (or resumed from).
    pub checkpoint: Option<PathBuf>,
    /// Where this process started: `null` for a fresh run, else `[epoch, stratum]`.
    pub resumed_from: Option<(u32, u32)>,
    /// The learning rate at the end (lower than the base after back-offs).
    pub learning_rate: f32,
    /// How often divergence lowered the learning rate.
    pub backoffs: u32,
    /// Rank.
    pub rank: u32,
    /// Worker threads.
    pub threads: usize,
    /// The kernel's instruction set.
    pub isa: String,
}

/// "1 thread", "4 threads".
pub fn threads(n: usize) -> String {
    if n == 1 {
        "1 thread".to_string()
    } else {
        format!("{n} threads")
    }
}

/// A human description of the settings, one `name value (source)` per line.
pub fn describe(settings: &Settings, config: &TrainConfig, resumed: bool) -> String {
    let src = |flag: &str| {
        if config.explicit.contains(flag) {
            "flag"
        } else if resumed {
            "checkpoint"
        } else if config.from_warm_start.contains(flag) {
            "warm start"
        } else {
            "default"
        }
    };
    let schedule = match settings.schedule {
        LearningRate::Constant => "constant".to_string(),
        LearningRate::Decay { decay } => format!("decay {decay}"),
        LearningRate::Adaptive => "adaptive".to_string(),
    };
    let model = match settings.kind {
        ModelKind::Plain => "plain (p·q)",
        ModelKind::Biased => "biased (μ + b_u + b_i + p·q)",
    };
    let lines = [
        ("model", model.to_string(), src("plain")),
        ("method", settings.method.name().to_string(), src("method")),
        ("factors", settings.rank.to_string(), src("factors")),
        ("epochs", settings.epochs.to_string(), src("epochs")),
        (
            "learning-rate",
            format!(
                "{} (now {})",
                settings.base_learning_rate, settings.learning_rate
            ),
            src("learning-rate"),
        ),
        ("schedule", schedule, src("schedule")),
        ("reg", settings.reg.to_string(), src("reg")),
        ("reg-bias", settings.reg_bias.to_string(), src("reg-bias")),
        ("reg-row", settings.reg_row.to_string(), src("reg-row")),
        (
            "validation",
            if settings.validation == 0.0 {
                "none".into()
            } else {
                settings.validation.to_string()
            },
            src("validation"),
        ),
        ("seed", settings.seed.to_string(), src("seed")),
        (
            "early-stop",
            if settings.early_stop == 0 {
                "off".into()
            } else {
                settings.early_stop.to_string()
            },
            src("early-stop"),
        ),
        ("isa", settings.isa.clone(), src("isa")),
        (
            "threads",
            config.threads.to_string(),
            match config.requested_threads {
                Some(asked) if asked > config.threads => {
                    "flag, capped: the grid trains at most this many blocks at once"
                }
                Some(_) => "flag",
                None => "default",
            },
        ),
        ("keep", config.keep.to_string(), "run"),
        (
            "checkpoint-every-epochs",
            config.checkpoint_every_epochs.to_string(),
            "run",
        ),
        (
            "checkpoint-every-secs",
            config
                .checkpoint_every
                .map_or("off".into(), |d| d.as_secs_f64().to_string()),
            "run",
        ),
    ];
    lines
        .iter()
        .map(|(name, value, source)| format!("  {name:<24} {value} ({source})\n"))
        .collect()
}

/// How a run ended, in words: "finished: 20 of 20 epochs", "stopped early
/// after 12 of 20 epochs: …", or, for a resumed run that had nothing left
/// to train, that it had nothing left to do and what would change that.
pub fn ending_line(s: &TrainSummary) -> String {
    let best = s
        .best_validation_rmse
        .map_or(String::new(), |(_, e)| format!(", best at epoch {e}"));
    let nothing_to_do = s.updates == 0
        && s.resumed_from.is_some_and(|(_, stratum)| stratum == 0)
        && s.ending != Ending::Stopped;
    match s.ending {
        Ending::EarlyStopped if nothing_to_do => format!(
            "had nothing left to do: the run had already stopped early after {} epochs \
             (validation RMSE no longer improving{best}); use --fresh to start over",
            s.epochs
        ),
        Ending::Finished if nothing_to_do => format!(
            "had nothing left to do: the run had already trained {} {} of a target of {}; \
             pass a larger --epochs to train further, or --fresh to start over",
            s.epochs,
            plural(s.epochs, "epoch"),
            s.epochs_target
        ),
        Ending::Finished => format!(
            "finished: {} of {} {}",
            s.epochs,
            s.epochs_target,
            plural(s.epochs_target, "epoch")
        ),
        Ending::EarlyStopped => format!(
            "stopped early after {} of {} epochs: validation RMSE no longer improving{best}",
            s.epochs, s.epochs_target
        ),
        Ending::Stopped => format!(
            "stopped by a signal after {} of {} {} (run the same command to resume)",
            s.epochs,
            s.epochs_target,
            plural(s.epochs_target, "epoch")
        ),
    }
}

/// A run that trained every epoch asked for while its validation RMSE was
/// still improving at the last one: what to do to train on.
pub fn still_improving(s: &TrainSummary) -> Option<String> {
    let last = s.epochs;
    let improving = s.ending == Ending::Finished
        && s.updates > 0
        && s.best_validation_rmse
            .is_some_and(|(_, epoch)| epoch == last);
    improving.then(|| {
        format!(
            "the validation RMSE was still improving at epoch {last}, the last one asked for; \
             the same command with --epochs {} trains on from here",
            last + last.div_ceil(2).max(1)
        )
    })
}

/// `word`, with an s unless `n` is 1.
fn plural(n: u32, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}
