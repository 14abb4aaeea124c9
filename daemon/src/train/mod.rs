//! Training: a model from a memory-mapped rating file into a checkpoint
//! directory, fresh or resumed. [`train`] (and [`train_from`], for a warm
//! start) is the entry point; the `funkd train` command around it is
//! [`crate::commands::train`].
//!
//! - [`args`]: the command-line options; [`config`]: validated settings and
//!   how they meet a checkpoint on resume.
//! - [`schedule`]: strata of non-conflicting blocks, from (seed, epoch).
//! - [`state`]: the parameters as owned per-band buffers; initialisation.
//! - [`workers`]: the worker pool's jobs; [`run`](mod@run): the training loop, with
//!   its passes over the blocks (`passes`) and its control between strata
//!   (`control`: signals, checkpoints, divergence, status) and the work on
//!   the whole model between epochs (`epoch_end`: the row prior with the
//!   finiteness check, copies of the model) in parallel over the bands
//!   (`parallel`).
//! - [`report`]: the summary a run returns, and its settings in words.
//! - [`fresh`]: `--fresh`, moving an old run aside to start over.

pub mod args;
pub mod config;
mod control;
mod early;
mod epoch_end;
pub mod fresh;
mod parallel;
mod passes;
pub mod report;
pub mod run;
pub mod schedule;
pub mod state;
mod trainer;
pub mod validation;
pub mod warm;
mod warm_foldin;
pub mod workers;

use std::path::Path;
use std::time::Instant;

use anyhow::Context;

pub use args::TrainArgs;
pub use config::{DataShape, Derived, TrainConfig};
pub use report::{ending_line, still_improving, Ending, EpochRecord, TrainSummary};
pub use warm::{WarmCounts, WarmStart};

use crate::checkpoint::CheckpointDir;
use crate::dirlock::DirLock;
use crate::rank::{padded_k, MAX_RANK};
use crate::ratingfile::RatingFile;
use crate::report::Reporter;
use crate::service::{Request, SignalListener};

/// Trains a model on `data` into `checkpoint_dir`, or resumes the run
/// whose checkpoints are there, and returns what came of it. This is the
/// library entry point of training: `funkd train`, `demo`, `cv` and `tune`
/// call it, and so can any other program.
///
/// `config` must hold values [`TrainConfig::validate`] accepts (it is
/// checked again here; a bad value is a usage error). Nothing is printed:
/// notes (starting or resuming, the settings), warnings (a corrupt
/// checkpoint moved aside) and progress (epochs, strata) go to `reporter`;
/// pass [`Silent`](crate::report::Silent) to hear none of it, or
/// [`Stderr`](crate::report::Stderr) for what the command line shows.
///
/// On resume, the checkpoint's settings win; flags that disagree are
/// refused, as are checkpoints of another data file or rank. A corrupt
/// newest checkpoint is moved aside (`.corrupt`) and the previous good one
/// used. The directory is locked for the run ([`DirLock`]): a second
/// writer is refused (exit code 2). If `config.handle_signals`,
/// SIGINT/SIGTERM stop the run cleanly (the summary then says
/// [`Ending::Stopped`]).
///
/// ```no_run
/// use funkd::ratingfile::RatingFile;
/// use funkd::report::Silent;
/// use funkd::train::{train, TrainConfig};
///
/// let data = RatingFile::open("small.funk".as_ref())?;
/// let mut config = TrainConfig::defaults_for(&data);
/// config.epochs = 5;
/// let summary = train(&data, &config, "run".as_ref(), &Silent)?;
/// println!("test rmse {:?}, model {}", summary.test_rmse, summary.model_hash);
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn train(
    data: &RatingFile,
    config: &TrainConfig,
    checkpoint_dir: &Path,
    reporter: &dyn Reporter,
) -> anyhow::Result<TrainSummary> {
    train_from(data, config, checkpoint_dir, None, reporter)
}

/// [`train`], with a new run (a directory without a checkpoint) starting
/// from the rows of `warm` ([`WarmStart`]). A directory that holds a
/// checkpoint is resumed as always: the warm start was applied when that
/// run began.
pub fn train_from(
    data: &RatingFile,
    config: &TrainConfig,
    checkpoint_dir: &Path,
    warm: Option<&WarmStart>,
    reporter: &dyn Reporter,
) -> anyhow::Result<TrainSummary> {
    train_until(
        data,
        config,
        checkpoint_dir,
        warm,
        reporter,
        &crossbeam_channel::never(),
    )
}

/// [`train_from`], also answering [`Request`]s from `requests` as it
/// answers signals: [`Request::Stop`] ends the run cleanly between strata
/// (the blocks in flight finish, a checkpoint is written, the summary says
/// [`Ending::Stopped`]). For a caller that stops runs its own way (a
/// language binding's interrupt, a deadline) with `config.handle_signals`
/// off; with it on, the signals' requests are answered instead.
pub fn train_until(
    data: &RatingFile,
    config: &TrainConfig,
    checkpoint_dir: &Path,
    warm: Option<&WarmStart>,
    reporter: &dyn Reporter,
    requests: &crossbeam_channel::Receiver<Request>,
) -> anyhow::Result<TrainSummary> {
    let entered = Instant::now();
    config.validate()?;
    let dir = CheckpointDir::new(checkpoint_dir);
    dir.create()?;
    crate::output::check_dir(checkpoint_dir, "checkpoint directory", "--checkpoint-dir")?;
    // One writer per directory, from before the first change to it until
    // the process exits (the OS releases the lock however it ends).
    let _lock = DirLock::acquire(checkpoint_dir)?;
    let removed = dir.remove_temporaries()?;
    if removed > 0 {
        reporter.note(&format!(
            "removed {removed} unfinished temporary file(s) from {}",
            checkpoint_dir.display()
        ));
    }
    let found = dir.newest_good_if_any().with_context(|| {
        format!(
            "cannot resume from {}: every checkpoint in it is unreadable; add --fresh to start over (they are moved aside, not deleted)",
            checkpoint_dir.display()
        )
    })?;
    let (settings, start) = match found {
        Some(found) => {
            for (path, why) in &found.skipped {
                let aside = dir.quarantine(path)?;
                reporter.warning(&format!(
                    "{why}; falling back to {} (the bad file was moved to {})",
                    found.path.display(),
                    aside.display()
                ));
            }
            let settings = config
                .resumed_settings(&found.checkpoint.settings, data)
                .with_context(|| {
                    let hint = if warm.is_some() {
                        " (a warm start begins a new run: give an empty --checkpoint-dir)"
                    } else {
                        ""
                    };
                    format!("cannot resume from {}{hint}", found.path.display())
                })?;
            if warm.is_some() {
                reporter.note(&format!(
                    "{} already holds this run: resuming it (--warm-start applied when it began)",
                    checkpoint_dir.display()
                ));
            }
            reporter.note(&format!(
                "resuming {} at epoch {} stratum {} of {}",
                found.path.display(),
                found.checkpoint.progress.epoch,
                found.checkpoint.progress.stratum,
                settings.epochs
            ));
            (
                settings,
                run::Start::Resume(Box::new(found.checkpoint), found.path),
            )
        }
        None => {
            let settings = config.fresh_settings(data);
            match warm {
                None => {
                    reporter.note(&format!(
                        "starting a new run in {}",
                        checkpoint_dir.display()
                    ));
                    (settings, run::Start::Fresh)
                }
                Some(warm) => {
                    let (params, counts) =
                        warm.initial_parameters(data, &settings, config.threads)?;
                    if let Some(overlap) = warm.validation_overlap(settings.validation) {
                        reporter.warning(&overlap);
                    }
                    reporter.note(&format!(
                        "starting a new run in {} warm from {}: {} users and {} items keep their rows, {} new users and {} new items initialised ({} and {} by fold-in)",
                        checkpoint_dir.display(),
                        warm.loaded.path.display(),
                        counts.users_kept,
                        counts.items_kept,
                        counts.users_new,
                        counts.items_new,
                        counts.users_folded,
                        counts.items_folded
                    ));
                    (settings, run::Start::Warm(Box::new(params)))
                }
            }
        }
    };
    let resumed = matches!(start, run::Start::Resume(..));
    let rank = settings.rank as usize;
    if !(1..=MAX_RANK).contains(&rank) || settings.k as usize != padded_k(rank) {
        anyhow::bail!(
            "the checkpoint's rank {rank} (rows of {}) is not supported by this build",
            settings.k
        );
    }
    reporter.note(&format!(
        "{} users × {} items, {} train / {} test ratings, grid {}×{}, mean {:.4}",
        data.users(),
        data.items(),
        data.train_count(),
        data.test_count(),
        data.grid(),
        data.grid(),
        data.mean()
    ));
    reporter.settings(&report::describe(&settings, config, resumed));
    let listener = if config.handle_signals {
        Some(SignalListener::start()?)
    } else {
        None
    };
    let requests = listener.as_ref().map_or(requests, |l| l.requests());
    let around = run::Surroundings {
        dir: &dir,
        requests,
        entered,
        reporter,
    };
    crate::with_k!(rank, K => run::run::<K>(data, config, settings, start, around))
}
