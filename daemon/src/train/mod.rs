//! `funkd train`: trains (or resumes) a model from a memory-mapped rating
//! file into a checkpoint directory.
//!
//! - [`args`]: the command-line options; [`config`]: validated settings and
//!   how they meet a checkpoint on resume.
//! - [`schedule`]: strata of non-conflicting blocks, from (seed, epoch).
//! - [`state`]: the parameters as owned per-band buffers; initialisation.
//! - [`workers`]: the worker pool's jobs; [`run`](mod@run): the training loop, with
//!   its passes over the blocks (`passes`) and its control between strata
//!   (`control`: signals, checkpoints, divergence, status).
//! - [`report`]: summary, per-epoch records, progress display.
//! - [`fresh`]: `--fresh`, moving an old run aside to start over.

pub mod args;
pub mod config;
mod control;
mod early;
pub mod fresh;
mod passes;
pub mod report;
pub mod run;
pub mod schedule;
pub mod state;
mod trainer;
pub mod validation;
pub mod warm;
pub mod workers;

use std::path::Path;
use std::time::Instant;

use anyhow::Context;

pub use args::TrainArgs;
pub use config::{DataShape, Derived, TrainConfig, Verbosity};
pub use report::{Ending, EpochRecord, TrainSummary};
pub use warm::{WarmCounts, WarmStart};

use crate::checkpoint::CheckpointDir;
use crate::dirlock::DirLock;
use crate::rank::{padded_k, MAX_RANK};
use crate::ratingfile::RatingFile;
use crate::service::SignalListener;

/// Trains a model on `data` into `checkpoint_dir`, or resumes the run
/// whose checkpoints are there. This is the library entry that `train`,
/// `demo` and `cv` use.
///
/// On resume, the checkpoint's settings win; flags that disagree are
/// refused, as are checkpoints of another data file or rank. A corrupt
/// newest checkpoint is moved aside (`.corrupt`) and the previous good one
/// used, with a warning. The directory is locked for the run
/// ([`DirLock`]): a second writer is refused (exit code 2). If `config.handle_signals`, SIGINT/SIGTERM stop
/// the run cleanly (the summary then says `stopped`).
pub fn train(
    data: &RatingFile,
    config: &TrainConfig,
    checkpoint_dir: &Path,
) -> anyhow::Result<TrainSummary> {
    train_from(data, config, checkpoint_dir, None)
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
) -> anyhow::Result<TrainSummary> {
    let entered = Instant::now();
    config.validate()?;
    let dir = CheckpointDir::new(checkpoint_dir);
    dir.create()?;
    crate::output::check_dir(checkpoint_dir, "checkpoint directory", "--checkpoint-dir")?;
    // One writer per directory, from before the first change to it until
    // the process exits (the OS releases the lock however it ends).
    let _lock = DirLock::acquire(checkpoint_dir)?;
    let quiet = config.verbosity == Verbosity::Quiet;
    let removed = dir.remove_temporaries()?;
    if removed > 0 && !quiet {
        eprintln!(
            "funkd: removed {removed} unfinished temporary file(s) from {}",
            checkpoint_dir.display()
        );
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
                eprintln!(
                    "funkd: warning: {why}; falling back to {} (the bad file was moved to {})",
                    found.path.display(),
                    aside.display()
                );
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
            if warm.is_some() && !quiet {
                eprintln!(
                    "funkd: {} already holds this run: resuming it (--warm-start applied when it began)",
                    checkpoint_dir.display()
                );
            }
            if !quiet {
                eprintln!(
                    "funkd: resuming {} at epoch {} stratum {} of {}",
                    found.path.display(),
                    found.checkpoint.progress.epoch,
                    found.checkpoint.progress.stratum,
                    settings.epochs
                );
            }
            (
                settings,
                run::Start::Resume(Box::new(found.checkpoint), found.path),
            )
        }
        None => {
            let settings = config.fresh_settings(data);
            match warm {
                None => {
                    if !quiet {
                        eprintln!("funkd: starting a new run in {}", checkpoint_dir.display());
                    }
                    (settings, run::Start::Fresh)
                }
                Some(warm) => {
                    let (params, counts) = warm.initial_parameters(data, &settings)?;
                    if !quiet {
                        eprintln!(
                            "funkd: starting a new run in {} warm from {}: {} users and {} items keep their rows, {} new users and {} new items initialised",
                            checkpoint_dir.display(),
                            warm.loaded.path.display(),
                            counts.users_kept,
                            counts.items_kept,
                            counts.users_new,
                            counts.items_new
                        );
                    }
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
    if !quiet {
        eprintln!(
            "funkd: {} users × {} items, {} train / {} test ratings, grid {}×{}, mean {:.4}",
            data.users(),
            data.items(),
            data.train_count(),
            data.test_count(),
            data.grid(),
            data.grid(),
            data.mean()
        );
        eprint!("{}", report::describe(&settings, config, resumed));
    }
    let listener = if config.handle_signals {
        Some(SignalListener::start()?)
    } else {
        None
    };
    let never = crossbeam_channel::never();
    let requests = listener.as_ref().map_or(&never, |l| l.requests());
    crate::with_k!(rank, K => run::run::<K>(data, config, settings, start, &dir, requests, entered))
}

/// Runs `funkd train`.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let data = RatingFile::open(&args.data).context("cannot open the rating file")?;
    let mut config = TrainConfig::from_args(&args, &data)?;
    let Some(dir) = &args.checkpoint_dir else {
        crate::usage_bail!("funkd train needs --checkpoint-dir DIR (where the run is kept)");
    };
    let warm = match &args.warm_start {
        Some(path) => {
            let warm = WarmStart::load(path, args.warm_start_data.as_deref())?;
            warm.adapt(&mut config)?;
            Some(warm)
        }
        None => {
            if args.warm_start_data.is_some() {
                crate::usage_bail!("--warm-start-data is only for --warm-start");
            }
            None
        }
    };
    if args.fresh {
        fresh::start_over(dir)?;
    }
    let summary = train_from(&data, &config, dir, warm.as_ref())?;
    if let (Some(hint), false) = (still_improving(&summary), args.quiet) {
        eprintln!("funkd: note: {hint}");
    }
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print_summary(&summary);
    }
    Ok(())
}

fn print_summary(s: &TrainSummary) {
    println!("training {}", ending_line(s));
    if let Some(e) = s.model_epoch.filter(|e| *e != s.epochs) {
        println!("model           epoch {e} (best validation RMSE, restored)");
    }
    println!("train rmse      {:.4}", s.train_rmse);
    if let Some(v) = s.validation_rmse {
        println!(
            "valid rmse      {v:.4} ({} held-out train ratings)",
            s.validation_ratings
        );
    }
    match s.test_rmse {
        Some(t) => println!("test rmse       {t:.4}"),
        None => println!("test rmse       - (no test split)"),
    }
    if let Some(floor) = s.noise_floor {
        println!("noise floor     {floor:.4}");
    }
    println!(
        "updates/s       {:.1} M by the clock over {:.1} s of epochs ({}, {}); {:.1} M inside the training windows",
        s.updates_per_sec / 1e6,
        s.training_seconds,
        report::threads(s.threads),
        s.isa,
        s.window_updates_per_sec / 1e6
    );
    println!("model hash      {}", s.model_hash);
    if let Some(path) = &s.checkpoint {
        println!("checkpoint      {}", path.display());
    }
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
