//! The training loop: a fixed pool of workers for the whole run, strata of
//! blocks sent to them with the ownership of their bands, results merged
//! in block order (never arrival order) so that the model and every number
//! reported are bit-identical for any thread count. Between strata the
//! loop honours signals, checkpoints, and watches for divergence.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use crossbeam_channel::{select, Receiver, Sender};
use funk_kernel::{
    gradient_step, BlockStats, DivergenceMonitor, Health, HyperParams, Isa, KernelError, LossStats,
};

use super::config::TrainConfig;
use super::report::{Ending, EpochRecord, Reporter, TrainSummary};
use super::schedule::{BlockId, EpochSchedule};
use super::state::{BandState, Gradient, ModelState};
use super::workers::{work, Job, Outcome, Split};
use crate::checkpoint::{Checkpoint, CheckpointDir, Method, Position, Progress, Settings};
use crate::ratingfile::RatingFile;
use crate::service::status::unix_now;
use crate::service::{MetricsLog, Request, RunState, Status, StatusFile};

/// Epochs of loss history the divergence monitor looks at.
const MONITOR_WINDOW: usize = 4;
/// The train MSE may exceed the recent maximum by this fraction before it
/// counts as growing (SGD's epoch loss wobbles a little near convergence).
const GROWTH_TOLERANCE: f64 = 0.02;
/// How often the loop wakes up while waiting for workers.
const TICK: Duration = Duration::from_millis(250);
/// How often `status.json` is rewritten while training.
const STATUS_EVERY: Duration = Duration::from_secs(2);

/// Where a run starts.
pub enum Start {
    /// A fresh run.
    Fresh,
    /// Resuming a checkpoint read from the given file.
    Resume(Box<Checkpoint>, PathBuf),
}

/// How an epoch's training pass ended.
enum Flow {
    /// Every stratum trained.
    Completed,
    /// A stop signal arrived (the named one).
    Stop(&'static str),
    /// Divergence, and why.
    Diverged(&'static str),
}

struct Channels<'c, const K: usize> {
    jobs: &'c Sender<Job<K>>,
    results: &'c Receiver<Outcome<K>>,
    requests: &'c Receiver<Request>,
    tick: Receiver<Instant>,
}

struct Trainer<'d, const K: usize> {
    data: &'d RatingFile,
    config: &'d TrainConfig,
    settings: Settings,
    progress: Progress,
    state: ModelState<K>,
    epoch_start: ModelState<K>,
    dir: CheckpointDir,
    status_file: StatusFile,
    metrics: MetricsLog,
    reporter: Reporter,
    started: Instant,
    last_checkpoint_at: Instant,
    last_checkpoint: Option<PathBuf>,
    last_status_at: Instant,
    train_time: Duration,
    updates_here: u64,
    stop: Option<&'static str>,
    checkpoint_requested: bool,
    last_rate: Option<f64>,
    last_test_mae: Option<f64>,
}

/// Runs (or resumes) training with rows of `K` values. `settings` are
/// already reconciled with the checkpoint, if any.
pub fn run<const K: usize>(
    data: &RatingFile,
    config: &TrainConfig,
    settings: Settings,
    start: Start,
    dir: &CheckpointDir,
    requests: &Receiver<Request>,
) -> anyhow::Result<TrainSummary> {
    let grid = data.grid();
    let user_bands: Vec<Range<usize>> = (0..grid).map(|b| data.user_band(b)).collect();
    let item_bands: Vec<Range<usize>> = (0..grid).map(|b| data.item_band(b)).collect();
    let (state, epoch_start, progress, resumed_from, last_checkpoint) = match start {
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
            (state.clone(), state, Progress::default(), None, None)
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
            (
                state,
                epoch_start,
                checkpoint.progress,
                Some(at),
                Some(path),
            )
        }
    };
    let isa = config.isa_for(&settings);
    let mut trainer = Trainer {
        data,
        config,
        reporter: Reporter::new(config.verbosity, grid as u64),
        settings,
        progress,
        state,
        epoch_start,
        dir: dir.clone(),
        status_file: StatusFile::new(dir.path()),
        metrics: MetricsLog::new(dir.path()),
        started: Instant::now(),
        last_checkpoint_at: Instant::now(),
        last_checkpoint,
        last_status_at: Instant::now(),
        train_time: Duration::ZERO,
        updates_here: 0,
        stop: None,
        checkpoint_requested: false,
        last_rate: None,
        last_test_mae: None,
    };
    trainer.settings.isa = isa.name().to_string();
    trainer.publish(RunState::Starting, None);

    let threads = config.threads.clamp(1, grid.max(1));
    let outcome = std::thread::scope(|scope| -> anyhow::Result<Ending> {
        let (job_tx, job_rx) = crossbeam_channel::unbounded::<Job<K>>();
        let (result_tx, result_rx) = crossbeam_channel::unbounded::<Outcome<K>>();
        for n in 0..threads {
            let (jobs, results) = (job_rx.clone(), result_tx.clone());
            std::thread::Builder::new()
                .name(format!("funkd-worker-{n}"))
                .spawn_scoped(scope, move || work(data, isa, jobs, results))
                .context("cannot start a worker thread")?;
        }
        drop(result_tx);
        let channels = Channels {
            jobs: &job_tx,
            results: &result_rx,
            requests,
            tick: crossbeam_channel::tick(TICK),
        };
        let ending = trainer.run(&channels);
        drop(job_tx);
        ending
    });
    trainer.reporter.finish();
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
    fn grid(&self) -> usize {
        self.data.grid()
    }

    fn hyper_params(&self) -> anyhow::Result<HyperParams> {
        HyperParams::new(
            self.settings.kind,
            self.settings.learning_rate,
            self.settings.reg,
            self.settings.reg_bias,
            self.settings.schedule,
        )
        .map_err(|e| anyhow!("invalid hyper-parameters: {e}"))
    }

    fn run(&mut self, ch: &Channels<'_, K>) -> anyhow::Result<Ending> {
        let grid = self.grid();
        'epochs: while self.progress.epoch < self.settings.epochs {
            if self.early_stop_due() {
                return Ok(Ending::EarlyStopped);
            }
            let schedule = EpochSchedule::new(grid, self.settings.seed, self.progress.epoch);
            let epoch_began = Instant::now();
            let epoch_train_time = self.train_time;
            let epoch_updates = self.updates_here;
            self.reporter.start_epoch(
                self.progress.epoch,
                self.settings.epochs,
                u64::from(self.progress.stratum),
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
            if !self.state.all_finite() {
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
            let train_rmse = mse.sqrt();
            self.progress.train_rmse.push(train_rmse);
            self.progress
                .test_rmse
                .push(test.map_or(f64::NAN, |t| t.rmse()));
            self.progress.epoch += 1;
            self.progress.stratum = 0;
            self.progress.partial_sse = 0.0;
            self.progress.partial_count = 0;
            self.epoch_start.clone_from(&self.state);

            let epoch_time = self.train_time - epoch_train_time;
            let updates = self.updates_here - epoch_updates;
            let rate = updates as f64 / epoch_time.as_secs_f64().max(1e-9);
            self.last_rate = Some(rate);
            self.last_test_mae = test.map(|t| t.mae());
            let seconds = epoch_began.elapsed().as_secs_f64();
            let record = EpochRecord {
                epoch: self.progress.epoch,
                epochs: self.settings.epochs,
                train_rmse,
                test_rmse: test.map(|t| t.rmse()),
                test_mae: test.map(|t| t.mae()),
                learning_rate: self.hyper_params()?.step_size(self.progress.epoch - 1),
                updates_per_sec: rate,
                seconds,
                eta_seconds: seconds * f64::from(self.settings.epochs - self.progress.epoch),
                unix_time: unix_now(),
            };
            self.reporter.epoch_done(&record);
            if let Err(e) = self.metrics.append(&record) {
                self.reporter.warn(&format!("{e:#}"));
            }
            let last = self.progress.epoch >= self.settings.epochs;
            let early = self.early_stop_due();
            let every = self.config.checkpoint_every_epochs;
            let time_due = self.checkpoint_time_due();
            if last
                || early
                || time_due
                || self.checkpoint_requested
                || (every > 0 && self.progress.epoch.is_multiple_of(every))
            {
                self.checkpoint()?;
            }
            self.publish(RunState::Training, None);
            if early {
                return Ok(Ending::EarlyStopped);
            }
            if let Some(signal) = self.stop {
                return self.stop_now(signal);
            }
        }
        Ok(Ending::Finished)
    }

    fn checkpoint_time_due(&self) -> bool {
        self.config
            .checkpoint_every
            .is_some_and(|every| self.last_checkpoint_at.elapsed() >= every)
    }

    /// The rest of an SGD epoch, stratum by stratum; signals and timed
    /// checkpoints are honoured between strata.
    fn sgd_epoch(
        &mut self,
        schedule: &EpochSchedule,
        ch: &Channels<'_, K>,
    ) -> anyhow::Result<Flow> {
        let grid = self.grid();
        while (self.progress.stratum as usize) < grid {
            if let Some(signal) = self.stop {
                return Ok(Flow::Stop(signal));
            }
            let began = Instant::now();
            let stats = self.run_stratum(schedule, self.progress.stratum as usize, ch)?;
            let took = began.elapsed();
            self.train_time += took;
            if !stats.sse.is_finite() {
                return Ok(Flow::Diverged("the training error became non-finite"));
            }
            self.progress.partial_sse += stats.sse;
            self.progress.partial_count += stats.count;
            self.progress.updates += stats.count;
            self.progress.stratum += 1;
            self.updates_here += stats.count;
            self.reporter
                .stratum_done(stats.count as f64 / took.as_secs_f64().max(1e-9));
            if let Some(delay) = self.config.stratum_delay {
                self.sleep_listening(delay, ch);
            }
            if let Some(signal) = self.stop {
                return Ok(Flow::Stop(signal));
            }
            if (self.checkpoint_requested || self.checkpoint_time_due())
                && (self.progress.stratum as usize) < grid
            {
                if !self.state.all_finite() {
                    return Ok(Flow::Diverged("a parameter became non-finite"));
                }
                self.checkpoint()?;
            }
            if self.last_status_at.elapsed() >= STATUS_EVERY {
                self.publish(RunState::Training, None);
            }
        }
        Ok(Flow::Completed)
    }

    /// One full-batch GD epoch: the gradient of J at the epoch's start,
    /// accumulated stratum by stratum (each band's gradient travels with
    /// the band, so the sums are in a fixed order), then one step for every
    /// band, then the train error *after* the step (so that a step that made
    /// things worse is caught in its own epoch and undone). A stop signal
    /// discards the partial gradient: the parameters are still those of the
    /// epoch's start, which is what gets saved.
    fn gd_epoch(&mut self, schedule: &EpochSchedule, ch: &Channels<'_, K>) -> anyhow::Result<Flow> {
        let grid = self.grid();
        let params = self.hyper_params()?;
        let mut grad_users: Vec<Gradient<K>> = self
            .state
            .users
            .iter()
            .map(BandState::zero_gradient)
            .collect();
        let mut grad_items: Vec<Gradient<K>> = self
            .state
            .items
            .iter()
            .map(BandState::zero_gradient)
            .collect();
        let mut total = LossStats::default();
        let began = Instant::now();
        for s in 0..grid {
            if let Some(signal) = self.stop {
                return Ok(Flow::Stop(signal));
            }
            for block in schedule.stratum(s) {
                let job = Job::Gradient {
                    block,
                    params,
                    mu: self.state.mu,
                    users: std::mem::take(&mut self.state.users[block.user_band]),
                    items: std::mem::take(&mut self.state.items[block.item_band]),
                    grad_users: std::mem::take(&mut grad_users[block.user_band]),
                    grad_items: std::mem::take(&mut grad_items[block.item_band]),
                };
                ch.jobs
                    .send(job)
                    .map_err(|_| anyhow!("the worker threads are gone"))?;
            }
            let mut per_block: Vec<Option<LossStats>> = vec![None; grid];
            let mut failure = None;
            for _ in 0..grid {
                match self.next_outcome(ch)? {
                    Outcome::Accumulated {
                        block,
                        users,
                        items,
                        grad_users: gu,
                        grad_items: gi,
                        stats,
                    } => {
                        self.state.users[block.user_band] = users;
                        self.state.items[block.item_band] = items;
                        grad_users[block.user_band] = gu;
                        grad_items[block.item_band] = gi;
                        match stats {
                            Ok(st) => per_block[block.user_band] = Some(st),
                            Err(e) => {
                                failure.get_or_insert(self.block_error(block, e));
                            }
                        }
                    }
                    _ => bail!("internal error: an unexpected answer during a gradient pass"),
                }
            }
            if let Some(e) = failure {
                return Err(e);
            }
            for st in per_block.into_iter().flatten() {
                total.merge(st);
            }
            self.reporter
                .stratum_done(total.count as f64 / began.elapsed().as_secs_f64().max(1e-9));
            if let Some(delay) = self.config.stratum_delay {
                self.sleep_listening(delay, ch);
            }
        }
        if !total.sse.is_finite() {
            return Ok(Flow::Diverged("the training error became non-finite"));
        }
        let eta = params.step_size(self.progress.epoch);
        for (band, grad) in self.state.users.iter_mut().zip(&grad_users) {
            gradient_step(band.as_band(), grad.view(), eta);
        }
        for (band, grad) in self.state.items.iter_mut().zip(&grad_items) {
            gradient_step(band.as_band(), grad.view(), eta);
        }
        self.train_time += began.elapsed();
        let after = self.evaluate_split(ch, Split::Train, None)?;
        if after.sse.is_nan() || after.sse > total.sse {
            self.state.clone_from(&self.epoch_start);
            return Ok(Flow::Diverged(
                "the gradient step increased the training error",
            ));
        }
        self.progress.partial_sse = after.sse;
        self.progress.partial_count = after.count;
        self.progress.updates += total.count;
        self.updates_here += total.count;
        self.progress.stratum = grid as u32;
        Ok(Flow::Completed)
    }

    fn block_error(&self, block: BlockId, e: KernelError) -> anyhow::Error {
        anyhow!(
            "block (user band {}, item band {}) of {}: {e}",
            block.user_band,
            block.item_band,
            self.data.path().display()
        )
    }

    /// Trains one stratum: sends its blocks, waits for all of them while
    /// answering signals, and merges their statistics in user-band order.
    fn run_stratum(
        &mut self,
        schedule: &EpochSchedule,
        s: usize,
        ch: &Channels<'_, K>,
    ) -> anyhow::Result<BlockStats> {
        let grid = self.grid();
        let params = self.hyper_params()?;
        for block in schedule.stratum(s) {
            let job = Job::Train {
                block,
                epoch: self.progress.epoch,
                params,
                mu: self.state.mu,
                users: std::mem::take(&mut self.state.users[block.user_band]),
                items: std::mem::take(&mut self.state.items[block.item_band]),
            };
            ch.jobs
                .send(job)
                .map_err(|_| anyhow!("the worker threads are gone"))?;
        }
        let mut stats: Vec<Option<BlockStats>> = vec![None; grid];
        let mut failure = None;
        let mut pending = grid;
        while pending > 0 {
            match self.next_outcome(ch)? {
                Outcome::Trained {
                    block,
                    users,
                    items,
                    stats: result,
                } => {
                    self.state.users[block.user_band] = users;
                    self.state.items[block.item_band] = items;
                    match result {
                        Ok(st) => stats[block.user_band] = Some(st),
                        Err(e) => {
                            failure.get_or_insert(self.block_error(block, e));
                        }
                    }
                    pending -= 1;
                }
                _ => bail!("internal error: an unexpected answer during training"),
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        let mut total = BlockStats::default();
        for st in stats.into_iter().flatten() {
            total.merge(st);
        }
        Ok(total)
    }

    /// The test error of the model (clamped to the rating range), in
    /// parallel over user bands, merged in band order. `None` when the file
    /// has no test split.
    fn evaluate(&mut self, ch: &Channels<'_, K>) -> anyhow::Result<Option<LossStats>> {
        if self.data.test_count() == 0 {
            return Ok(None);
        }
        self.evaluate_split(ch, Split::Test, self.data.rating_range())
            .map(Some)
    }

    /// The errors of the model on one split, in parallel over user bands,
    /// merged in band order.
    fn evaluate_split(
        &mut self,
        ch: &Channels<'_, K>,
        split: Split,
        clamp: Option<(f32, f32)>,
    ) -> anyhow::Result<LossStats> {
        let grid = self.grid();
        let model = Arc::new(std::mem::take(&mut self.state));
        for user_band in 0..grid {
            let job = Job::Evaluate {
                user_band,
                split,
                model: Arc::clone(&model),
                kind: self.settings.kind,
                clamp,
            };
            ch.jobs
                .send(job)
                .map_err(|_| anyhow!("the worker threads are gone"))?;
        }
        let mut per_band: Vec<Option<LossStats>> = vec![None; grid];
        let mut failure = None;
        for _ in 0..grid {
            match self.next_outcome(ch)? {
                Outcome::Evaluated { user_band, stats } => match stats {
                    Ok(st) => per_band[user_band] = Some(st),
                    Err(e) => {
                        failure
                            .get_or_insert(anyhow!("test ratings of user band {user_band}: {e}"));
                    }
                },
                _ => bail!("internal error: an unexpected answer during evaluation"),
            }
        }
        self.state = Arc::try_unwrap(model)
            .map_err(|_| anyhow!("internal error: the model is still shared"))?;
        if let Some(e) = failure {
            return Err(e);
        }
        let mut total = LossStats::default();
        for st in per_band.into_iter().flatten() {
            total.merge(st);
        }
        Ok(total)
    }

    /// Waits for the next worker result, answering signals and ticks meanwhile.
    fn next_outcome(&mut self, ch: &Channels<'_, K>) -> anyhow::Result<Outcome<K>> {
        loop {
            select! {
                recv(ch.results) -> msg => {
                    return msg.map_err(|_| anyhow!("a worker thread died"));
                }
                recv(ch.requests) -> req => {
                    if let Ok(req) = req {
                        self.handle(req);
                    }
                }
                recv(ch.tick) -> _ => {}
            }
        }
    }

    fn sleep_listening(&mut self, delay: Duration, ch: &Channels<'_, K>) {
        let deadline = crossbeam_channel::after(delay);
        loop {
            select! {
                recv(deadline) -> _ => return,
                recv(ch.requests) -> req => {
                    if let Ok(req) = req {
                        self.handle(req);
                    }
                }
            }
        }
    }

    fn handle(&mut self, request: Request) {
        match request {
            Request::Stop(signal) => {
                if self.stop.is_none() {
                    self.reporter.note(&format!(
                        "funkd: {signal}: finishing the blocks in flight, then checkpointing (send it again to exit at once)"
                    ));
                    self.stop = Some(signal);
                    self.publish(RunState::Stopping, None);
                }
            }
            Request::Checkpoint => {
                self.reporter
                    .note("funkd: SIGHUP: checkpointing after this stratum");
                self.checkpoint_requested = true;
            }
            Request::Status => {
                let last = |v: &Vec<f64>| v.last().copied().filter(|x| x.is_finite());
                self.reporter.line(&format!(
                    "funkd: status: epoch {}/{} stratum {}/{}  lr {:e}  train rmse {}  test rmse {}  {}  {} updates  checkpoint {}",
                    self.progress.epoch,
                    self.settings.epochs,
                    self.progress.stratum,
                    self.grid(),
                    self.settings.learning_rate,
                    last(&self.progress.train_rmse).map_or("-".into(), |x| format!("{x:.4}")),
                    last(&self.progress.test_rmse).map_or("-".into(), |x| format!("{x:.4}")),
                    self.last_rate.map_or("-".into(), |r| format!("{:.1} M updates/s", r / 1e6)),
                    self.progress.updates,
                    self.last_checkpoint.as_ref().map_or("none".into(), |p| p.display().to_string()),
                ));
            }
        }
    }

    fn stop_now(&mut self, signal: &'static str) -> anyhow::Result<Ending> {
        if self.state.all_finite() {
            let path = self.checkpoint()?;
            self.reporter.note(&format!(
                "funkd: {signal}: stopped at epoch {} stratum {}; checkpoint {} (run the same command to resume)",
                self.progress.epoch,
                self.progress.stratum,
                path.display()
            ));
        } else {
            self.reporter.warn(&format!(
                "{signal}: the parameters are not finite, so no checkpoint was written; the last good one is {}",
                self.last_checkpoint.as_ref().map_or("none".into(), |p| p.display().to_string())
            ));
        }
        Ok(Ending::Stopped)
    }

    fn checkpoint(&mut self) -> anyhow::Result<PathBuf> {
        if !self.state.all_finite() {
            bail!("internal error: refusing to checkpoint non-finite parameters");
        }
        let position = Position {
            epoch: self.progress.epoch,
            stratum: self.progress.stratum,
        };
        let checkpoint = Checkpoint {
            settings: self.settings.clone(),
            progress: self.progress.clone(),
            params: self.state.to_parameters(),
            epoch_start: (self.progress.stratum > 0).then(|| self.epoch_start.to_parameters()),
        };
        let path = self.dir.write(
            &checkpoint,
            position,
            self.config.keep,
            self.config.checkpoint_pause,
        )?;
        self.last_checkpoint_at = Instant::now();
        self.last_checkpoint = Some(path.clone());
        self.checkpoint_requested = false;
        Ok(path)
    }

    /// Divergence: go back to the start of the epoch with half the
    /// learning rate, or give up once the back-offs are spent.
    fn diverged(&mut self, why: &str) -> anyhow::Result<()> {
        let at = format!(
            "epoch {} stratum {}",
            self.progress.epoch + 1,
            self.progress.stratum
        );
        if self.progress.backoffs >= self.config.max_backoffs {
            bail!(
                "training diverged at {at} ({why}) with learning rate {} after {} back-offs; nothing non-finite was saved \
                 (last good checkpoint: {}); try a smaller --learning-rate",
                self.settings.learning_rate,
                self.progress.backoffs,
                self.last_checkpoint.as_ref().map_or("none".into(), |p| p.display().to_string())
            );
        }
        let lowered = self.settings.learning_rate * 0.5;
        self.reporter.warn(&format!(
            "training diverged at {at} ({why}); restarting the epoch from its start with learning rate {lowered} (was {})",
            self.settings.learning_rate
        ));
        self.settings.learning_rate = lowered;
        self.progress.backoffs += 1;
        self.progress.stratum = 0;
        self.progress.partial_sse = 0.0;
        self.progress.partial_count = 0;
        self.state.clone_from(&self.epoch_start);
        // Checkpoints taken inside the abandoned epoch must not be resumed from.
        self.dir.remove_after(Position {
            epoch: self.progress.epoch,
            stratum: 0,
        })?;
        Ok(())
    }

    fn early_stop_due(&self) -> bool {
        let patience = self.settings.early_stop as usize;
        if patience == 0 {
            return false;
        }
        let hist = &self.progress.test_rmse;
        let Some(best) = best_epoch(hist) else {
            return false;
        };
        hist.len() - 1 - best >= patience
    }

    fn publish(&mut self, state: RunState, error: Option<String>) {
        let last = |v: &Vec<f64>| v.last().copied().filter(|x| x.is_finite());
        let status = Status {
            state,
            pid: std::process::id(),
            epoch: self.progress.epoch,
            epochs: self.settings.epochs,
            stratum: self.progress.stratum,
            strata: self.grid() as u32,
            learning_rate: self.settings.learning_rate,
            train_rmse: last(&self.progress.train_rmse),
            test_rmse: last(&self.progress.test_rmse),
            updates_per_sec: self.last_rate,
            checkpoint: self.last_checkpoint.clone(),
            updated_unix: unix_now(),
            error,
        };
        if let Err(e) = self.status_file.write(&status) {
            self.reporter.warn(&format!("{e:#}"));
        }
        self.last_status_at = Instant::now();
    }

    fn summary(
        &self,
        ending: Ending,
        resumed_from: Option<(u32, u32)>,
        threads: usize,
        isa: Isa,
    ) -> TrainSummary {
        let finite = |x: f64| x.is_finite().then_some(x);
        let train_rmse = match self.progress.train_rmse.last() {
            Some(x) => *x,
            None => (self.progress.partial_sse / self.progress.partial_count as f64).sqrt(),
        };
        let test = self.progress.test_rmse.last().copied().and_then(finite);
        TrainSummary {
            epochs: self.progress.epoch,
            epochs_target: self.settings.epochs,
            train_rmse,
            test_rmse: test,
            test_mae: self.last_test_mae,
            best_test_rmse: best_epoch(&self.progress.test_rmse)
                .map(|e| (self.progress.test_rmse[e], e as u32 + 1)),
            noise_floor: self.data.noise_floor(),
            updates_per_sec: self.updates_here as f64 / self.train_time.as_secs_f64().max(1e-9),
            updates: self.updates_here,
            seconds: self.started.elapsed().as_secs_f64(),
            model_hash: self.state.model_hash(),
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

/// The index of the lowest finite value (the first one on ties).
fn best_epoch(hist: &[f64]) -> Option<usize> {
    hist.iter()
        .enumerate()
        .filter(|(_, x)| x.is_finite())
        .fold(None, |best: Option<(usize, f64)>, (i, x)| match best {
            Some((_, b)) if b <= *x => best,
            _ => Some((i, *x)),
        })
        .map(|(i, _)| i)
}
