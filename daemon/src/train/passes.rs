//! The passes of an epoch over the blocks: SGD stratum by stratum, a
//! full-batch GD epoch, and evaluation; each sends jobs to the workers and
//! merges their answers in block order while answering signals.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use crossbeam_channel::select;
use funk_kernel::{gradient_step, BlockStats, LossStats};

use super::schedule::{BlockId, EpochSchedule};
use super::state::{BandState, Gradient};
use super::trainer::{Channels, Flow, Trainer, STATUS_EVERY};
use super::workers::{BlockFailure, Job, Outcome, Split};
use crate::service::RunState;

/// A GD step may raise the train SSE by this fraction before it counts as
/// a step too far: near convergence the f32 residuals wobble by about that
/// much from one evaluation to the next (a noise-free dense matrix trained
/// to its optimum was stopped by "increases" of this size).
const GD_RELATIVE_SLACK: f64 = 1e-4;
/// …and by this much per rating (RMSE changes below 1e-6 are rounding),
/// for errors so close to zero that a relative margin means nothing.
const GD_MSE_FLOOR: f64 = 1e-12;

/// Strata trained as one window (see [`Trainer::run_window`]): a quarter of
/// the epoch, so that a user band can be trained up to P/4 blocks in a row
/// while signals and checkpoints still wait for at most a quarter epoch.
fn window_strata(grid: usize) -> usize {
    (grid / 4).max(1)
}

/// Ready blocks queued beyond one per worker, so that a worker that
/// finishes a block starts the next at once instead of waiting for the
/// main thread to hear of it and send another (a context switch each way;
/// the main thread shares a CPU with a worker when training is pinned to
/// as many CPUs as workers).
const QUEUED_AHEAD: usize = 1;

impl<const K: usize> Trainer<'_, K> {
    /// The rest of an SGD epoch, a window of strata at a time (see
    /// [`Trainer::run_window`]); signals and timed checkpoints are honoured
    /// between windows.
    pub(super) fn sgd_epoch(
        &mut self,
        schedule: &EpochSchedule,
        ch: &Channels<'_, K>,
    ) -> anyhow::Result<Flow> {
        let grid = self.grid();
        while (self.progress.stratum as usize) < grid {
            if let Some(signal) = self.stop {
                return Ok(Flow::Stop(signal));
            }
            let from = self.progress.stratum as usize;
            let to = (from + window_strata(grid)).min(grid);
            let began = Instant::now();
            let per_stratum = self.run_window(schedule, from..to, ch)?;
            let took = began.elapsed();
            self.train_time += took;
            let mut count = 0;
            for stats in &per_stratum {
                if !stats.sse.is_finite() {
                    return Ok(Flow::Diverged("the training error became non-finite"));
                }
                // Stratum by stratum, whatever the window: the sums do not
                // depend on where a resumed run's windows start.
                self.progress.partial_sse += stats.sse;
                self.progress.partial_count += stats.count;
                self.progress.updates += stats.count;
                self.updates_here += stats.count;
                count += stats.count;
            }
            self.progress.stratum = to as u32;
            self.saved_position = None;
            self.reporter
                .stratum_done(count as f64 / took.as_secs_f64().max(1e-9));
            if let Some(delay) = self.config.stratum_delay {
                self.sleep_listening(delay * (to - from) as u32, ch);
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
                self.periodic_checkpoint();
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
    pub(super) fn gd_epoch(
        &mut self,
        schedule: &EpochSchedule,
        ch: &Channels<'_, K>,
    ) -> anyhow::Result<Flow> {
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
        if after.sse.is_nan()
            || after.sse > total.sse * (1.0 + GD_RELATIVE_SLACK) + total.count as f64 * GD_MSE_FLOOR
        {
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
        self.saved_position = None;
        Ok(Flow::Completed)
    }

    pub(super) fn block_error(&self, block: BlockId, e: BlockFailure) -> anyhow::Error {
        match e {
            BlockFailure::Data(e) => e.into(),
            BlockFailure::Kernel(e) => anyhow!(
                "block (user band {}, item band {}) of {}: {e}",
                block.user_band,
                block.item_band,
                self.data.path().display()
            ),
        }
    }

    /// Trains strata `window` of the epoch and returns each stratum's
    /// statistics, merged in user-band order.
    ///
    /// The blocks are not trained stratum by stratum but as soon as their
    /// two predecessors are done (see [`EpochSchedule::block`]): after
    /// block (b, s) the same user band's next block (b, s + 1) goes out
    /// whenever it is ready, so a band is trained several blocks in a row
    /// while its rows are still in the cache, instead of once per stratum
    /// with every other band in between. Otherwise the first ready band
    /// below the one just finished is taken (the descending sweep lets each
    /// band run up to the end of the window). Which ready block a free
    /// worker gets changes the speed, never the result: blocks that share a
    /// band always run in the schedule's order.
    pub(super) fn run_window(
        &mut self,
        schedule: &EpochSchedule,
        window: std::ops::Range<usize>,
        ch: &Channels<'_, K>,
    ) -> anyhow::Result<Vec<BlockStats>> {
        let grid = self.grid();
        let params = self.hyper_params()?;
        self.startup.get_or_insert_with(|| self.entered.elapsed());
        let strata = window.len();
        // Per user band: the next stratum it trains, and whether a block of
        // it is with a worker.
        let mut next = vec![window.start; grid];
        let mut busy = vec![false; grid];
        let mut stats: Vec<Option<BlockStats>> = vec![None; grid * strata];
        let ready = |next: &[usize], busy: &[bool], b: usize| {
            let s = next[b];
            !busy[b] && s < window.end && (s == window.start || next[(b + 1) % grid] >= s)
        };
        let mut in_flight = 0;
        let mut remaining = grid * strata;
        let mut failure = None;
        let mut last = grid.saturating_sub(1);
        while remaining > 0 {
            // Keep every worker busy, and one more block queued, while no
            // failure has been seen. Any number of ready blocks can be out
            // at once: a ready block's two predecessors are done, so no
            // block out shares a band with it.
            while failure.is_none() && in_flight < ch.workers + QUEUED_AHEAD {
                let Some(b) = (0..grid)
                    .map(|d| (last + grid - d) % grid)
                    .find(|&b| ready(&next, &busy, b))
                else {
                    break;
                };
                let block = schedule.block(b, next[b]);
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
                busy[b] = true;
                in_flight += 1;
                last = b;
            }
            if in_flight == 0 {
                break;
            }
            match self.next_outcome(ch)? {
                Outcome::Trained {
                    block,
                    users,
                    items,
                    stats: result,
                } => {
                    let b = block.user_band;
                    self.state.users[b] = users;
                    self.state.items[block.item_band] = items;
                    match result {
                        Ok(st) => stats[(next[b] - window.start) * grid + b] = Some(st),
                        Err(e) => {
                            failure.get_or_insert(self.block_error(block, e));
                        }
                    }
                    busy[b] = false;
                    next[b] += 1;
                    in_flight -= 1;
                    remaining -= 1;
                    // Stay on this band if its next block is ready.
                    last = b;
                }
                _ => bail!("internal error: an unexpected answer during training"),
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        if remaining > 0 {
            bail!("internal error: {remaining} blocks of the window could not be scheduled");
        }
        Ok(stats
            .chunks(grid.max(1))
            .map(|stratum| {
                let mut total = BlockStats::default();
                for st in stratum.iter().flatten() {
                    total.merge(*st);
                }
                total
            })
            .collect())
    }

    /// The test error of the model (clamped to the rating range), in
    /// parallel over user bands, merged in band order. `None` when the file
    /// has no test split.
    pub(super) fn evaluate(&mut self, ch: &Channels<'_, K>) -> anyhow::Result<Option<LossStats>> {
        if self.data.test_count() == 0 {
            return Ok(None);
        }
        self.evaluate_split(ch, Split::Test, self.data.rating_range())
            .map(Some)
    }

    /// The errors of the model on one split, in parallel over user bands,
    /// merged in band order.
    pub(super) fn evaluate_split(
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
                    Err(BlockFailure::Data(e)) => {
                        failure.get_or_insert(e.into());
                    }
                    Err(BlockFailure::Kernel(e)) => {
                        let which = format!("{split:?}").to_lowercase();
                        failure.get_or_insert(anyhow!(
                            "{which} ratings of user band {user_band}: {e}"
                        ));
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
    pub(super) fn next_outcome(&mut self, ch: &Channels<'_, K>) -> anyhow::Result<Outcome<K>> {
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

    pub(super) fn sleep_listening(&mut self, delay: Duration, ch: &Channels<'_, K>) {
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
}
