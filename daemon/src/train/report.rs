//! What a run reports: the final summary, the per-epoch record (a line of
//! `metrics.jsonl` and a line on stderr), and the progress display.

use std::path::PathBuf;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use funk_kernel::{LearningRate, ModelKind};

use super::config::{TrainConfig, Verbosity};
use crate::checkpoint::Settings;

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

/// One line of `metrics.jsonl`.
#[derive(Clone, Debug, Serialize)]
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

/// Progress on stderr: a bar over the strata on a terminal, a line per epoch.
#[derive(Debug)]
pub struct Reporter {
    verbosity: Verbosity,
    bar: ProgressBar,
}

impl Reporter {
    /// A reporter; the bar only draws on a terminal and when not quiet.
    pub fn new(verbosity: Verbosity, strata: u64) -> Self {
        let target = if verbosity == Verbosity::Normal {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(strata), target);
        if let Ok(style) =
            ProgressStyle::with_template("  epoch {prefix} [{bar:30}] {pos}/{len} strata {msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        Self { verbosity, bar }
    }

    /// A message on stderr (not when quiet).
    pub fn note(&self, msg: &str) {
        if self.verbosity == Verbosity::Normal {
            self.bar.suspend(|| eprintln!("{msg}"));
        }
    }

    /// A line on stderr (always).
    pub fn line(&self, msg: &str) {
        self.bar.suspend(|| eprintln!("{msg}"));
    }

    /// A warning on stderr (always).
    pub fn warn(&self, msg: &str) {
        self.bar.suspend(|| eprintln!("funkd: warning: {msg}"));
    }

    /// A new epoch starts.
    pub fn start_epoch(&self, epoch: u32, epochs: u32, done_strata: u64) {
        self.bar.set_prefix(format!("{}/{epochs}", epoch + 1));
        self.bar.set_position(done_strata);
        self.bar.set_message("");
    }

    /// A stratum finished.
    pub fn stratum_done(&self, rate: f64) {
        self.bar.inc(1);
        self.bar
            .set_message(format!("{:.1} M updates/s", rate / 1e6));
    }

    /// An epoch finished.
    pub fn epoch_done(&self, r: &EpochRecord) {
        let mut test = match (r.test_rmse, r.test_mae) {
            (Some(rmse), Some(mae)) => format!("test rmse {rmse:.4} mae {mae:.4}"),
            _ => "no test split".to_string(),
        };
        if let Some(v) = r.validation_rmse {
            test = format!("valid rmse {v:.4}  {test}");
        }
        self.note(&format!(
            "epoch {:>3}/{}  train rmse {:.4}  {test}  lr {:.4e}  {:.1} M updates/s  {:.1} s  ETA {}",
            r.epoch,
            r.epochs,
            r.train_rmse,
            r.learning_rate,
            r.updates_per_sec / 1e6,
            r.seconds,
            eta(r.eta_seconds)
        ));
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn eta(secs: f64) -> String {
    let d = Duration::from_secs_f64(secs.max(0.0));
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
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
