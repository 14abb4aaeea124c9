//! The training loop: a fixed pool of workers for the whole run, strata of
//! blocks sent to them with the ownership of their bands, results merged
//! in block order (never arrival order) so that the model and every number
//! reported are bit-identical for any thread count. Between strata the
//! loop honours signals, checkpoints, and watches for divergence.

use std::ops::Range;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use crossbeam_channel::Receiver;
use funk_kernel::{DivergenceMonitor, Health, HyperParams, Isa};

use super::config::TrainConfig;
use super::report::{Ending, EpochRecord, TrainSummary};
use super::schedule::EpochSchedule;
use super::state::ModelState;
use super::trainer::{Channels, Flow, Trainer, GROWTH_TOLERANCE, MONITOR_WINDOW, TICK};
use super::validation::ValidationSlice;
use super::workers::{work, Job, Outcome};
use crate::checkpoint::{
    BackgroundWriter, Checkpoint, CheckpointDir, Method, Parameters, Progress, Settings,
};
use crate::ratingfile::RatingFile;
use crate::report::Reporter;
use crate::runstate::best_epoch;
use crate::service::status::unix_now;
use crate::service::{MetricsLog, Request, RunState, StatusFile};

/// Where a run starts.
pub enum Start {
    /// A fresh run.
    Fresh,
    /// Resuming a checkpoint read from the given file.
    Resume(Box<Checkpoint>, PathBuf),
    /// A new run from the given first parameters (a warm start).
    Warm(Box<Parameters>),
}

/// What a run talks to besides its data: where it keeps its checkpoints,
/// who may ask it to stop, and whom it tells what it does.
pub struct Surroundings<'a> {
    /// The checkpoint directory (locked by the caller).
    pub dir: &'a CheckpointDir,
    /// Stop, checkpoint and status requests (signals).
    pub requests: &'a Receiver<Request>,
    /// When the caller began: start-up time is counted from here.
    pub entered: Instant,
    /// Where notes, warnings and progress go.
    pub reporter: &'a dyn Reporter,
}

/// Runs (or resumes) training with rows of `K` values. `settings` are
/// already reconciled with the checkpoint, if any.
pub fn run<const K: usize>(
    data: &RatingFile,
    config: &TrainConfig,
    settings: Settings,
    start: Start,
    around: Surroundings<'_>,
) -> anyhow::Result<TrainSummary> {
    let Surroundings {
        dir,
        requests,
        entered,
        reporter,
    } = around;
    let grid = data.grid();
    let user_bands: Vec<Range<usize>> = (0..grid).map(|b| data.user_band(b)).collect();
    let item_bands: Vec<Range<usize>> = (0..grid).map(|b| data.item_band(b)).collect();
    let threads = config.threads.clamp(1, grid.max(1));
    let validation = &ValidationSlice::select(data, settings.validation, threads);
    let (state, epoch_start, best, progress, resumed_from, last_checkpoint) = match start {
        Start::Fresh => {
            let mu = match settings.kind {
                funk_kernel::ModelKind::Biased => data.mean() as f32,
                funk_kernel::ModelKind::Plain => 0.0,
            };
            let state = ModelState::<K>::init(
                &user_bands,
                &item_bands,
                settings.rank as usize,
                settings.seed,
                mu,
                settings.schedule,
            );
            (state.clone(), state, None, Progress::default(), None, None)
        }
        Start::Warm(params) => {
            let state = ModelState::<K>::from_parameters(&params, &user_bands, &item_bands);
            (state.clone(), state, None, Progress::default(), None, None)
        }
        Start::Resume(checkpoint, path) => {
            let checkpoint = *checkpoint;
            let state =
                ModelState::<K>::from_parameters(&checkpoint.params, &user_bands, &item_bands);
            let epoch_start = match &checkpoint.epoch_start {
                Some(p) => ModelState::<K>::from_parameters(p, &user_bands, &item_bands),
                None => state.clone(),
            };
            let at = (checkpoint.progress.epoch, checkpoint.progress.stratum);
            // The best model is in the checkpoint unless it is the current
            // one (a checkpoint written at the end of the best epoch).
            let best = match &checkpoint.best {
                Some(p) => Some(ModelState::<K>::from_parameters(
                    p,
                    &user_bands,
                    &item_bands,
                )),
                None => best_epoch(&checkpoint.progress.validation_rmse).map(|_| state.clone()),
            };
            (
                state,
                epoch_start,
                best,
                checkpoint.progress,
                Some(at),
                Some(path),
            )
        }
    };
    let isa = config.isa_for(&settings, reporter);
    let mut trainer = Trainer {
        data,
        validation,
        best,
        config,
        reporter,
        settings,
        progress,
        state,
        epoch_start,
        dir: dir.clone(),
        checkpoint_writer: BackgroundWriter::new(),
        status_file: StatusFile::new(dir.path()).recording_data(data.path()),
        metrics: MetricsLog::new(dir.path()),
        started: Instant::now(),
        entered,
        startup: None,
        last_checkpoint_at: Instant::now(),
        last_checkpoint,
        saved_position: None,
        last_status_at: Instant::now(),
        train_time: Duration::ZERO,
        epochs_began: None,
        epochs_ended: None,
        updates_here: 0,
        stop: None,
        checkpoint_requested: false,
        last_rate: None,
        last_test_mae: None,
        process: crate::service::ProcessIdentity::current(),
    };
    trainer.settings.isa = isa.name().to_string();
    trainer.publish(RunState::Starting, None);

    let outcome = std::thread::scope(|scope| -> anyhow::Result<Ending> {
        // The first epoch would otherwise take a page fault every 4 KiB of
        // the memory-mapped records; a helper thread maps them in ahead.
        // Failing to start it costs speed, not correctness.
        let _ = std::thread::Builder::new()
            .name("funkd-prefault".into())
            .spawn_scoped(scope, || data.prefault_records());
        let (job_tx, job_rx) = crossbeam_channel::unbounded::<Job<K>>();
        let (result_tx, result_rx) = crossbeam_channel::unbounded::<Outcome<K>>();
        for n in 0..threads {
            let (jobs, results) = (job_rx.clone(), result_tx.clone());
            std::thread::Builder::new()
                .name(format!("funkd-worker-{n}"))
                .spawn_scoped(scope, move || work(data, validation, isa, jobs, results))
                .context("cannot start a worker thread")?;
        }
        drop(result_tx);
        let channels = Channels {
            workers: threads,
            jobs: &job_tx,
            results: &result_rx,
            requests,
            tick: crossbeam_channel::tick(TICK),
        };
        let ending = trainer.run(&channels);
        trainer.epochs_ended = Some(Instant::now());
        // Whatever the ending, no checkpoint is left half-written.
        trainer.settle_checkpoint();
        drop(job_tx);
        ending
    });
    reporter.training_ended();
    let ending = match outcome {
        Ok(ending) => ending,
        Err(e) => {
            trainer.publish(RunState::Failed, Some(format!("{e:#}")));
            return Err(e);
        }
    };
    trainer.publish(
        match ending {
            Ending::Stopped => RunState::Stopped,
            _ => RunState::Finished,
        },
        None,
    );
    Ok(trainer.summary(ending, resumed_from, threads, isa))
}

impl<const K: usize> Trainer<'_, K> {
    pub(super) fn grid(&self) -> usize {
        self.data.grid()
    }

    pub(super) fn hyper_params(&self) -> anyhow::Result<HyperParams> {
        HyperParams::new(
            self.settings.kind,
            self.settings.learning_rate,
            self.settings.reg,
            self.settings.reg_bias,
            self.settings.schedule,
        )
        .map_err(|e| anyhow!("invalid hyper-parameters: {e}"))
    }

    pub(super) fn run(&mut self, ch: &Channels<'_, K>) -> anyhow::Result<Ending> {
        let grid = self.grid();
        'epochs: while self.progress.epoch < self.settings.epochs {
            if self.early_stop_due() {
                return Ok(Ending::EarlyStopped);
            }
            let schedule = EpochSchedule::new(grid, self.settings.seed, self.progress.epoch);
            let epoch_began = Instant::now();
            self.epochs_began.get_or_insert(epoch_began);
            let epoch_train_time = self.train_time;
            let epoch_updates = self.updates_here;
            self.reporter.epoch_started(
                self.progress.epoch,
                self.settings.epochs,
                u64::from(self.progress.stratum),
                grid as u64,
            );
            self.publish(RunState::Training, None);
            let flow = match self.settings.method {
                Method::Sgd => self.sgd_epoch(&schedule, ch)?,
                Method::Gd => self.gd_epoch(&schedule, ch)?,
            };
            match flow {
                Flow::Completed => {}
                Flow::Stop(signal) => return self.stop_now(signal),
                Flow::Diverged(why) => {
                    self.diverged(why)?;
                    continue 'epochs;
                }
            }

            // The epoch is complete: check it, evaluate it, record it.
            if !self.prior_and_check(ch.workers)? {
                self.diverged("a parameter became non-finite")?;
                continue 'epochs;
            }
            let mse = self.progress.partial_sse / self.progress.partial_count.max(1) as f64;
            let mut monitor =
                DivergenceMonitor::<MONITOR_WINDOW>::new().with_tolerance(GROWTH_TOLERANCE);
            for rmse in &self.progress.train_rmse {
                monitor.observe(rmse * rmse);
            }
            match monitor.observe(mse) {
                Health::Ok => {}
                Health::NonFinite => {
                    self.diverged("the training error became non-finite")?;
                    continue 'epochs;
                }
                Health::Growing => {
                    self.diverged("the training error is growing")?;
                    continue 'epochs;
                }
            }
            let test = self.evaluate(ch)?;
            let valid = self.evaluate_validation(ch)?;
            let train_rmse = mse.sqrt();
            self.progress.train_rmse.push(train_rmse);
            self.progress
                .test_rmse
                .push(test.map_or(f64::NAN, |t| t.rmse()));
            self.progress
                .validation_rmse
                .push(valid.map_or(f64::NAN, |v| v.rmse()));
            if best_epoch(&self.progress.validation_rmse)
                == Some(self.progress.validation_rmse.len() - 1)
            {
                match &mut self.best {
                    Some(best) => best.copy_from(&self.state, ch.workers),
                    None => self.best = Some(self.state.clone()),
                }
            }
            self.progress.epoch += 1;
            self.progress.stratum = 0;
            self.progress.partial_sse = 0.0;
            self.progress.partial_count = 0;
            self.epoch_start.copy_from(&self.state, ch.workers);

            let epoch_time = self.train_time - epoch_train_time;
            let updates = self.updates_here - epoch_updates;
            let window_rate = updates as f64 / epoch_time.as_secs_f64().max(1e-9);
            self.last_test_mae = test.map(|t| t.mae());
            let last = self.progress.epoch >= self.settings.epochs;
            let early = self.early_stop_due();
            let every = self.config.checkpoint_every_epochs;
            let time_due = self.checkpoint_time_due();
            if last || early {
                self.measure_best(ch)?;
                self.checkpoint()?;
            } else if time_due
                || self.checkpoint_requested
                || (every > 0 && self.progress.epoch.is_multiple_of(every))
            {
                self.periodic_checkpoint();
            }
            // The epoch by the clock: from its start to here, everything
            // it did outside the training windows included.
            let seconds = epoch_began.elapsed().as_secs_f64();
            let rate = updates as f64 / seconds.max(1e-9);
            self.last_rate = Some(rate);
            let record = EpochRecord {
                epoch: self.progress.epoch,
                epochs: self.settings.epochs,
                train_rmse,
                test_rmse: test.map(|t| t.rmse()),
                test_mae: test.map(|t| t.mae()),
                validation_rmse: valid.map(|v| v.rmse()),
                learning_rate: self.hyper_params()?.step_size(self.progress.epoch - 1),
                updates_per_sec: rate,
                window_updates_per_sec: window_rate,
                seconds,
                eta_seconds: seconds * f64::from(self.settings.epochs - self.progress.epoch),
                unix_time: unix_now(),
            };
            self.reporter.epoch_done(&record);
            if let Err(e) = self.metrics.append(&record) {
                self.reporter.warning(&format!("{e:#}"));
            }
            self.publish(RunState::Training, None);
            // Patience running out at the last epoch stops nothing early:
            // every epoch asked for was trained.
            if early && !last {
                return Ok(Ending::EarlyStopped);
            }
            if let Some(signal) = self.stop {
                return self.stop_now(signal);
            }
        }
        Ok(Ending::Finished)
    }

    pub(super) fn checkpoint_time_due(&self) -> bool {
        self.config
            .checkpoint_every
            .is_some_and(|every| self.last_checkpoint_at.elapsed() >= every)
    }

    pub(super) fn summary(
        &self,
        ending: Ending,
        resumed_from: Option<(u32, u32)>,
        threads: usize,
        isa: Isa,
    ) -> TrainSummary {
        let finite = |x: f64| x.is_finite().then_some(x);
        let training_seconds = match (self.epochs_began, self.epochs_ended) {
            (Some(began), Some(ended)) => ended.duration_since(began).as_secs_f64(),
            _ => 0.0,
        };
        // The epoch whose parameters the model holds: the best one.
        let model_epoch = self.model_epoch();
        let at = |hist: &[f64]| model_epoch.and_then(|e| hist.get(e as usize - 1).copied());
        let train_rmse = match at(&self.progress.train_rmse) {
            Some(x) => x,
            None => (self.progress.partial_sse / self.progress.partial_count as f64).sqrt(),
        };
        let test = at(&self.progress.test_rmse).and_then(finite);
        let best_validation = best_epoch(&self.progress.validation_rmse)
            .map(|e| (self.progress.validation_rmse[e], e as u32 + 1));
        TrainSummary {
            model_epoch,
            validation_rmse: at(&self.progress.validation_rmse).and_then(finite),
            best_validation_rmse: best_validation,
            validation_ratings: self.validation.count(),
            epochs: self.progress.epoch,
            epochs_target: self.settings.epochs,
            train_rmse,
            test_rmse: test,
            test_mae: self.last_test_mae,
            best_test_rmse: best_epoch(&self.progress.test_rmse)
                .map(|e| (self.progress.test_rmse[e], e as u32 + 1)),
            noise_floor: self.data.noise_floor(),
            updates_per_sec: self.updates_here as f64 / training_seconds.max(1e-9),
            window_updates_per_sec: self.updates_here as f64
                / self.train_time.as_secs_f64().max(1e-9),
            training_seconds,
            updates: self.updates_here,
            seconds: self.started.elapsed().as_secs_f64(),
            startup_seconds: self.startup.map(|d| d.as_secs_f64()),
            model_hash: self.model().model_hash(),
            ending,
            checkpoint: self.last_checkpoint.clone(),
            resumed_from,
            learning_rate: self.settings.learning_rate,
            backoffs: self.progress.backoffs,
            rank: self.settings.rank,
            threads,
            isa: isa.name().to_string(),
        }
    }
}
