//! The passes of an epoch over the blocks: SGD stratum by stratum, a
//! full-batch GD epoch, and evaluation; each sends jobs to the workers and
//! merges their answers in block order while answering signals.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use crossbeam_channel::select;
use funk_kernel::{gradient_step, BlockStats, KernelError, LossStats};

use super::schedule::{BlockId, EpochSchedule};
use super::state::{BandState, Gradient};
use super::trainer::{Channels, Flow, Trainer, STATUS_EVERY};
use super::workers::{Job, Outcome, Split};
use crate::service::RunState;

impl<const K: usize> Trainer<'_, K> {
    /// The rest of an SGD epoch, stratum by stratum; signals and timed
    /// checkpoints are honoured between strata.
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
            self.saved_position = None;
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
        self.saved_position = None;
        Ok(Flow::Completed)
    }

    pub(super) fn block_error(&self, block: BlockId, e: KernelError) -> anyhow::Error {
        anyhow!(
            "block (user band {}, item band {}) of {}: {e}",
            block.user_band,
            block.item_band,
            self.data.path().display()
        )
    }

    /// Trains one stratum: sends its blocks, waits for all of them while
    /// answering signals, and merges their statistics in user-band order.
    pub(super) fn run_stratum(
        &mut self,
        schedule: &EpochSchedule,
        s: usize,
        ch: &Channels<'_, K>,
    ) -> anyhow::Result<BlockStats> {
        let grid = self.grid();
        let params = self.hyper_params()?;
        self.startup.get_or_insert_with(|| self.entered.elapsed());
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
