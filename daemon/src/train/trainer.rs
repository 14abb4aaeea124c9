//! The training loop's state: what a run holds between strata, shared by
//! the epoch loop ([`super::run`]), the training passes ([`super::passes`])
//! and the control of the run ([`super::control`]).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::config::TrainConfig;
use super::state::ModelState;
use super::validation::ValidationSlice;
use super::workers::{Job, Outcome};
use crate::checkpoint::{BackgroundWriter, CheckpointDir, Progress, Settings};
use crate::ratingfile::RatingFile;
use crate::report::Reporter;
use crate::service::{MetricsLog, Request, StatusFile};

/// Epochs of loss history the divergence monitor looks at.
pub(super) const MONITOR_WINDOW: usize = 4;
/// The train MSE may exceed the recent maximum by this fraction before it
/// counts as growing (SGD's epoch loss wobbles a little near convergence).
pub(super) const GROWTH_TOLERANCE: f64 = 0.02;
/// How often the loop wakes up while waiting for workers.
pub(super) const TICK: Duration = Duration::from_millis(250);
/// How often `status.json` is rewritten while training.
pub(super) const STATUS_EVERY: Duration = Duration::from_secs(2);

/// How an epoch's training pass ended.
pub(super) enum Flow {
    /// Every stratum trained.
    Completed,
    /// A stop signal arrived (the named one).
    Stop(&'static str),
    /// Divergence, and why.
    Diverged(&'static str),
}

pub(super) struct Channels<'c, const K: usize> {
    /// Worker threads listening on `jobs`.
    pub(super) workers: usize,
    pub(super) jobs: &'c Sender<Job<K>>,
    pub(super) results: &'c Receiver<Outcome<K>>,
    pub(super) requests: &'c Receiver<Request>,
    pub(super) tick: Receiver<Instant>,
}

pub(super) struct Trainer<'d, const K: usize> {
    pub(super) data: &'d RatingFile,
    /// The held-out validation ratings (none when the fraction is 0).
    pub(super) validation: &'d ValidationSlice<'d>,
    /// The parameters after the epoch with the lowest validation RMSE so
    /// far (`None` until an epoch with a validation RMSE completes).
    pub(super) best: Option<ModelState<K>>,
    pub(super) config: &'d TrainConfig,
    pub(super) settings: Settings,
    pub(super) progress: Progress,
    pub(super) state: ModelState<K>,
    pub(super) epoch_start: ModelState<K>,
    pub(super) dir: CheckpointDir,
    /// Periodic checkpoints, written while training goes on.
    pub(super) checkpoint_writer: BackgroundWriter,
    pub(super) status_file: StatusFile,
    pub(super) metrics: MetricsLog,
    /// Where notes, warnings and progress go.
    pub(super) reporter: &'d dyn Reporter,
    pub(super) started: Instant,
    /// When [`super::train`] was entered.
    pub(super) entered: Instant,
    /// From entering [`super::train`] to sending the first block.
    pub(super) startup: Option<Duration>,
    pub(super) last_checkpoint_at: Instant,
    pub(super) last_checkpoint: Option<PathBuf>,
    /// The position of `last_checkpoint` while nothing changed since it was written.
    pub(super) saved_position: Option<crate::checkpoint::Position>,
    pub(super) last_status_at: Instant,
    /// Time inside the training windows (the strata), in this process.
    pub(super) train_time: Duration,
    /// When this process began its first epoch, and when it finished its
    /// last (everything per epoch included: evaluation, checkpoints, …).
    pub(super) epochs_began: Option<Instant>,
    pub(super) epochs_ended: Option<Instant>,
    pub(super) updates_here: u64,
    pub(super) stop: Option<&'static str>,
    pub(super) checkpoint_requested: bool,
    pub(super) last_rate: Option<f64>,
    pub(super) last_test_mae: Option<f64>,
    /// This process, as `status.json` names it.
    pub(super) process: crate::service::ProcessIdentity,
}
