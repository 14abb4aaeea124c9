//! The service's training round, in the background: when enough ratings
//! came in (a count, or a fraction of the served data), when enough time
//! passed since the last publish, or on `POST /v1/train`, the service
//!
//! 1. closes the ingest log's segment being written (intake goes on in a
//!    new one) and writes the round's plan ([`super::manifest::Plan`]);
//! 2. compacts the served rating file and the closed segments into a new
//!    rating file ([`super::compaction`], streaming);
//! 3. trains a warm-started run from the live model on it, with the live
//!    model's settings (same inputs and seed ⇒ the same bits), on
//!    `--round-threads` threads at background priority (every step of a
//!    round runs there: [`super::priority`]);
//! 4. publishes the model by replacing `serving.json` atomically (the
//!    commit), swaps it in, and only then removes the applied segments and
//!    the previous round's files.
//!
//! A crash (even `kill -9`) at any step loses nothing: until the commit the
//! old model, its data and every segment are on disk and the round's plan
//! says what it was doing, so the next start resumes it (compaction is
//! redone or kept, training resumes from its last checkpoint, exactly); after
//! the commit the new model is served and what is left over is removed.
//! Every acknowledged rating is in exactly one segment, and every segment
//! is applied by exactly one published round.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use super::manifest::{
    recover, round_dir, stored, Manifest, Plan, Recovered, DATA_FILE_NAME, TRAIN_DIR_NAME,
};
use super::priority;
use super::snapshot::{DataSource, Snapshot};
use super::state::AppState;
use crate::ratingfile::RatingFile;
use crate::report::Reporter;
use crate::runstate::EpochRecord;
use crate::service::status::unix_now;
use crate::train::{TrainConfig, WarmStart};
use funk_kernel::ModelKind;

/// When and how the service trains.
#[derive(Clone, Debug)]
pub struct RoundSettings {
    /// Start a round on its own (not only on `POST /v1/train`).
    pub auto: bool,
    /// A round starts once this many ratings wait in the log...
    pub after_ratings: u64,
    /// ... or this fraction of the served data's train ratings.
    pub after_fraction: f64,
    /// A round starts when this much time passed since the last publish
    /// and at least one rating waits.
    pub every: Option<Duration>,
    /// Training threads.
    pub threads: usize,
    /// Epochs of a round.
    pub epochs: u32,
    /// Fraction of the train ratings held out for validation (0: none;
    /// `None`: `funkd train`'s default for the live model's kind).
    pub validation: Option<f32>,
    /// Early-stopping patience (0: off).
    pub early_stop: u32,
    /// Testing aid: a pause after each step, and after each stratum.
    pub step_delay: Option<Duration>,
}

/// A step of a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Closing the segment and writing the plan.
    Planning,
    /// Writing the new rating file.
    Compacting,
    /// Training the warm-started run.
    Training,
    /// Writing the manifest, swapping the model in, removing what it replaces.
    Publishing,
}

/// The round running now.
#[derive(Clone, Debug, Serialize)]
pub struct Running {
    /// The generation it will publish.
    pub generation: u64,
    /// What it is doing.
    pub step: Step,
    /// Why it started: `ratings`, `time`, `request` or `resume`.
    pub trigger: &'static str,
    /// When it started (seconds since the Unix epoch).
    pub started_unix: f64,
    /// The segments it applies, once closed.
    pub segments: Option<(u64, u64)>,
    /// While it trains: epochs completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u32>,
    /// While it trains: epochs in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epochs: Option<u32>,
    /// Train RMSE of its last completed epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_rmse: Option<f64>,
    /// Test RMSE of its last completed epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_rmse: Option<f64>,
    /// Validation RMSE of its last completed epoch (with --round-validation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_rmse: Option<f64>,
}

/// Where the rounds stand.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Rounds published (the served model's generation).
    pub generation: u64,
    /// The last segment the served data holds.
    pub applied_through: u64,
    /// When the served model was published (or, before the first round,
    /// when its checkpoint was written).
    pub published_unix: f64,
    /// The round running now.
    pub running: Option<Running>,
    /// A round that began and did not publish, to resume.
    pub pending: Option<Plan>,
    /// Rounds published since start.
    pub published: u64,
    /// Rounds that failed since start.
    pub failed: u64,
    /// The last failure: why, and when (seconds since the Unix epoch).
    pub last_error: Option<(String, f64)>,
    /// When the last failure happened (automatic rounds wait a while).
    pub failed_at: Option<Instant>,
}

/// The rounds of one service.
#[derive(Debug)]
pub struct Rounds {
    /// Settings.
    pub settings: RoundSettings,
    /// Where they stand.
    pub progress: Mutex<Progress>,
    busy: AtomicBool,
    requests: crossbeam_channel::Sender<&'static str>,
    inbox: Mutex<Option<crossbeam_channel::Receiver<&'static str>>>,
}

/// How long automatic rounds wait after a failure.
const RETRY_AFTER: Duration = Duration::from_secs(30);

impl Rounds {
    /// Rounds from what a start recovered; `published_unix` is when the
    /// served model was published.
    pub fn new(settings: RoundSettings, recovered: &Recovered, published_unix: f64) -> Rounds {
        let (requests, inbox) = crossbeam_channel::unbounded();
        Rounds {
            settings,
            progress: Mutex::new(Progress {
                generation: recovered.generation(),
                applied_through: recovered.applied_through(),
                published_unix: recovered
                    .manifest
                    .as_ref()
                    .map_or(published_unix, |m| m.published_unix),
                running: None,
                pending: recovered.pending.clone(),
                published: 0,
                failed: 0,
                last_error: None,
                failed_at: None,
            }),
            busy: AtomicBool::new(false),
            requests,
            inbox: Mutex::new(Some(inbox)),
        }
    }

    /// A copy of where the rounds stand.
    pub fn progress(&self) -> Progress {
        self.progress
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn update(&self, change: impl FnOnce(&mut Progress)) {
        change(
            &mut self
                .progress
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
    }

    /// Asks for a round (`why`: what triggered it). `false` when one is
    /// running or asked for already.
    pub fn request(&self, why: &'static str) -> bool {
        if self.busy.swap(true, Ordering::SeqCst) {
            return false;
        }
        self.requests.send(why).is_ok()
    }

    /// Whether a round is running or asked for.
    pub fn busy(&self) -> bool {
        self.busy.load(Ordering::SeqCst)
    }
}

/// Starts the round thread (and the watcher that starts rounds on their
/// own when they are due). A round left unfinished by the last run of
/// the service is resumed at once.
pub fn start(state: &Arc<AppState>) -> anyhow::Result<()> {
    let Some(rounds) = state.rounds.as_ref() else {
        return Ok(());
    };
    let inbox = rounds
        .inbox
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take()
        .context("the round thread is started once")?;
    let worker = Arc::clone(state);
    std::thread::Builder::new()
        .name("funkd-round".into())
        .spawn(move || {
            // Compaction, training and the check of the new data file all
            // run on this thread or on threads it starts, which inherit it.
            priority::enter_background("the training round", &worker.log);
            while let Ok(why) = inbox.recv() {
                let Some(rounds) = worker.rounds.as_ref() else {
                    break;
                };
                let began = Instant::now();
                // A panic (a bug) fails the round like an error does, and
                // leaves the thread to run the next one.
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run_round(&worker, rounds, why)
                }))
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the round panicked (a bug)")));
                match outcome {
                    Ok(generation) => {
                        let s = worker.current();
                        worker.log.line(&format!(
                            "round {generation} published in {:.1} s: serving {} (epoch {}, {} users × {} items, train rmse {})",
                            began.elapsed().as_secs_f64(),
                            s.checkpoint.display(),
                            s.epoch,
                            s.model.users(),
                            s.model.items(),
                            s.train_rmse.map_or("-".to_string(), |r| format!("{r:.4}"))
                        ));
                    }
                    Err(e) => {
                        let why = format!("{e:#}");
                        worker.log.error(&format!(
                            "training round failed: {why}; the model served is unchanged \
                             and the round is tried again (its ratings stay in the log)"
                        ));
                        worker.metrics.round_outcome("failed");
                        rounds.update(|p| {
                            p.running = None;
                            p.failed += 1;
                            p.last_error = Some((why, unix_now()));
                            p.failed_at = Some(Instant::now());
                        });
                    }
                }
                rounds.busy.store(false, Ordering::SeqCst);
            }
        })
        .context("cannot start the training round thread")?;
    if rounds.progress().pending.is_some() {
        rounds.request("resume");
    }
    if rounds.settings.auto {
        let watcher = Arc::clone(state);
        std::thread::Builder::new()
            .name("funkd-round-watch".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_millis(250));
                if let Some(why) = due(&watcher) {
                    if let Some(rounds) = watcher.rounds.as_ref() {
                        rounds.request(why);
                    }
                }
            })
            .context("cannot start the training round watcher")?;
    }
    Ok(())
}

/// Why an automatic round is due now, if it is.
fn due(state: &AppState) -> Option<&'static str> {
    let rounds = state.rounds.as_ref()?;
    let intake = state.intake.as_ref()?;
    if rounds.busy() {
        return None;
    }
    let progress = rounds.progress();
    if progress
        .failed_at
        .is_some_and(|at| at.elapsed() < RETRY_AFTER)
    {
        return None;
    }
    let (pending, _) = intake.log.stats.pending();
    if pending.ratings == 0 {
        return None;
    }
    let settings = &rounds.settings;
    let base = state.current().data.train_count() as f64;
    let by_fraction = (settings.after_fraction * base).ceil().max(1.0) as u64;
    if pending.ratings >= settings.after_ratings.min(by_fraction) {
        return Some("ratings");
    }
    let since = unix_now() - progress.published_unix;
    settings
        .every
        .filter(|every| since >= every.as_secs_f64())
        .map(|_| "time")
}

/// Runs (or resumes) one round to its publish; returns the generation.
fn run_round(state: &AppState, rounds: &Rounds, why: &'static str) -> anyhow::Result<u64> {
    let intake = state
        .intake
        .as_ref()
        .context("training rounds need --intake")?;
    let dir = &state.dir;
    let settings = &rounds.settings;
    let progress = rounds.progress();
    let generation = progress.generation + 1;
    rounds.update(|p| {
        p.running = Some(Running {
            generation,
            step: Step::Planning,
            trigger: why,
            started_unix: unix_now(),
            segments: None,
            epoch: None,
            epochs: None,
            train_rmse: None,
            test_rmse: None,
            validation_rmse: None,
        })
    });
    let step = |s: Step| rounds.update(|p| p.running.iter_mut().for_each(|r| r.step = s));
    let pause = || {
        if let Some(d) = settings.step_delay {
            std::thread::sleep(d);
        }
    };
    let round = round_dir(dir, generation);
    let plan = match progress.pending.clone() {
        Some(plan) => plan,
        None => {
            let last = intake
                .log
                .rotate()
                .map_err(anyhow::Error::msg)
                .context("cannot close the ingest log's segment")?;
            let current = state.current();
            let plan = Plan {
                generation,
                base_data: absolute(current.data.path())?,
                base_checkpoint: absolute(&current.checkpoint)?,
                first_segment: progress.applied_through + 1,
                last_segment: last,
                began_unix: unix_now(),
            };
            if round.exists() {
                std::fs::remove_dir_all(&round)
                    .with_context(|| format!("cannot clear {}", round.display()))?;
            }
            std::fs::create_dir_all(&round)
                .with_context(|| format!("cannot create {}", round.display()))?;
            plan.write(&round)?;
            rounds.update(|p| p.pending = Some(plan.clone()));
            plan
        }
    };
    let segments = (plan.first_segment, plan.last_segment);
    let train_dir = round.join(TRAIN_DIR_NAME);
    state.log.line(&format!(
        "training round {generation} ({}): ingest log segments {}..={} onto {}",
        match why {
            "ratings" => "enough new ratings",
            "time" => "time since the last publish",
            "resume" => "resuming after a restart",
            _ => "asked for",
        },
        segments.0,
        segments.1,
        plan.base_data.display()
    ));
    rounds.update(|p| {
        p.running
            .iter_mut()
            .for_each(|r| r.segments = Some(segments))
    });
    pause();

    step(Step::Compacting);
    let data_path = round.join(DATA_FILE_NAME);
    let data = match RatingFile::open(&data_path) {
        // Written atomically: a file there is a whole one (and a damaged
        // one is written again).
        Ok(data) => data,
        Err(_) => {
            let base = RatingFile::open(&plan.base_data).with_context(|| {
                format!(
                    "cannot open the round's base data {}",
                    plan.base_data.display()
                )
            })?;
            super::compaction::compact_segments(&base, dir, segments, &data_path)?;
            RatingFile::open(&data_path)?
        }
    };
    pause();

    step(Step::Training);
    let reporter = RoundReporter {
        rounds,
        generation,
        log: &state.log,
    };
    let warm = WarmStart::load(&plan.base_checkpoint, Some(&plan.base_data), &reporter)?;
    let mut config = round_config(&data, &warm, settings);
    warm.adapt(&mut config)?;
    let summary = crate::train::train_from(&data, &config, &train_dir, Some(&warm), &reporter)?;
    let checkpoint = summary.checkpoint.with_context(|| {
        format!(
            "the round's run wrote no checkpoint in {}",
            train_dir.display()
        )
    })?;
    pause();

    step(Step::Publishing);
    let current = state.current();
    let source = DataSource::Given(data_path.clone());
    let snapshot = Snapshot::load(&checkpoint, &train_dir, &source, Some(&current), &state.log)
        .with_context(|| {
            format!(
                "the round's model {} cannot be served",
                checkpoint.display()
            )
        })?;
    let manifest = Manifest {
        generation,
        data: stored(dir, &data_path),
        checkpoint: stored(dir, &checkpoint),
        applied_through: plan.last_segment,
        published_unix: unix_now(),
    };
    pause();
    manifest.write(dir)?;
    // Committed: the new model and its data are durable.
    {
        let _no_reload_meanwhile = state.reload_lock.blocking_lock();
        state.set_serving(&train_dir, source);
        state.snapshot.store(Arc::new(snapshot));
    }
    super::snapshot::retire(current, &state.log);
    intake
        .overlay
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .applied_through(plan.last_segment);
    intake.log.stats.applied_through(plan.last_segment);
    rounds.update(|p| {
        p.generation = generation;
        p.applied_through = plan.last_segment;
        p.published_unix = manifest.published_unix;
        p.pending = None;
        p.failed_at = None;
    });
    pause();
    remove_replaced(dir, &plan, &state.log);
    state.metrics.round_outcome("published");
    rounds.update(|p| {
        p.running = None;
        p.published += 1;
    });
    Ok(generation)
}

/// After a publish: the applied segments and the rounds before this one
/// go. A failure here loses nothing (the next start removes them).
fn remove_replaced(dir: &Path, plan: &Plan, log: &super::Log) {
    for n in plan.first_segment..=plan.last_segment {
        let path = super::segments::path(dir, n);
        if let Err(e) = crate::atomic::remove_durably(&path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                log.warning(&format!(
                    "cannot remove the applied segment {}: {e}",
                    path.display()
                ));
            }
        }
    }
    if let Err(e) = recover(dir) {
        log.warning(&format!("cannot remove the previous round's files: {e:#}"));
    }
}

/// The training configuration of a round: the live model's settings
/// (kind, method, schedule, regularisation, seed, ISA) with the round's
/// epochs, validation, threads; quiet, no signals. The learning rate is
/// chosen by [`WarmStart::adapt`]: it continues the live model's schedule.
fn round_config(data: &RatingFile, warm: &WarmStart, s: &RoundSettings) -> TrainConfig {
    let live = &warm.loaded.settings;
    let mut c = TrainConfig::defaults_for(data);
    c.kind = live.kind;
    c.method = live.method;
    c.schedule = live.schedule;
    c.rank = live.rank as usize;
    c.seed = live.seed;
    c.reg = live.reg;
    c.reg_bias = live.reg_bias;
    c.reg_row = live.reg_row;
    if let Some(isa) = funk_kernel::Isa::from_name(&live.isa) {
        c.isa = isa;
    }
    c.epochs = s.epochs;
    // The round's own, not a warm start's default.
    c.explicit.insert("epochs");
    c.validation = s.validation.unwrap_or(match live.kind {
        ModelKind::Plain => 0.0,
        ModelKind::Biased => crate::train::config::DEFAULT_VALIDATION,
    });
    c.early_stop = if c.validation > 0.0 { s.early_stop } else { 0 };
    c.threads = s.threads.clamp(1, data.grid().max(1));
    c.requested_threads = Some(s.threads);
    c.handle_signals = false;
    c.checkpoint_every_epochs = 1;
    c.keep = 2;
    c.stratum_delay = s.step_delay;
    c
}

/// `path` made absolute (a plan outlives the working directory it was
/// written in).
fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))
}

/// What the round's training run tells: its epochs and RMSEs go to the
/// round's progress (for `/v1/status` and `/metrics`), its warnings to
/// the service's log; its notes are not shown (the round's own lines say
/// enough).
struct RoundReporter<'a> {
    rounds: &'a Rounds,
    generation: u64,
    log: &'a super::Log,
}

impl Reporter for RoundReporter<'_> {
    fn note(&self, _message: &str) {}

    fn warning(&self, message: &str) {
        self.log
            .warning(&format!("training round {}: {message}", self.generation));
    }

    fn epoch_started(&self, epoch: u32, epochs: u32, _strata_done: u64, _strata: u64) {
        self.rounds.update(|p| {
            p.running.iter_mut().for_each(|r| {
                r.epoch = Some(epoch);
                r.epochs = Some(epochs);
            })
        });
    }

    fn epoch_done(&self, record: &EpochRecord) {
        self.rounds.update(|p| {
            p.running.iter_mut().for_each(|r| {
                r.epoch = Some(record.epoch);
                r.epochs = Some(record.epochs);
                r.train_rmse = Some(record.train_rmse);
                r.test_rmse = record.test_rmse;
                r.validation_rmse = record.validation_rmse;
            })
        });
    }
}
