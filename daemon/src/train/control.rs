//! Control of a run between strata: signals, checkpoints, divergence,
//! early stopping and the status file.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::bail;

use super::report::Ending;
use super::state::ModelState;
use super::trainer::Trainer;
use crate::checkpoint::{CheckpointView, Position, Written};
use crate::runstate::best_epoch;
use crate::service::status::unix_now;
use crate::service::{Request, RunState, Status};

impl<const K: usize> Trainer<'_, K> {
    pub(super) fn handle(&mut self, request: Request) {
        match request {
            Request::Stop(signal) => {
                if self.stop.is_none() {
                    self.reporter.note(&format!(
                        "{signal}: finishing the blocks in flight, then checkpointing (send it again to exit at once)"
                    ));
                    self.stop = Some(signal);
                    self.publish(RunState::Stopping, None);
                }
            }
            Request::Checkpoint => {
                self.reporter
                    .note("SIGHUP: checkpointing after this window of strata");
                self.checkpoint_requested = true;
            }
            Request::Status => {
                let last = |v: &Vec<f64>| v.last().copied().filter(|x| x.is_finite());
                self.reporter.notice(&format!(
                    "status: epoch {}/{} stratum {}/{}  lr {:.4e}  train rmse {}  test rmse {}  {}  {} updates  checkpoint {}",
                    self.progress.epoch,
                    self.settings.epochs,
                    self.progress.stratum,
                    self.grid(),
                    self.current_step_size(),
                    last(&self.progress.train_rmse).map_or("-".into(), |x| format!("{x:.4}")),
                    last(&self.progress.test_rmse).map_or("-".into(), |x| format!("{x:.4}")),
                    self.last_rate.map_or("-".into(), |r| format!("{:.1} M updates/s", r / 1e6)),
                    self.progress.updates,
                    self.last_checkpoint.as_ref().map_or("none".into(), |p| p.display().to_string()),
                ));
            }
        }
    }

    pub(super) fn stop_now(&mut self, signal: &'static str) -> anyhow::Result<Ending> {
        // The checkpoint in flight may be the one that makes this stop's
        // unnecessary; either way it is finished before the run ends.
        self.settle_checkpoint();
        let here = Position {
            epoch: self.progress.epoch,
            stratum: self.progress.stratum,
        };
        let saved = self
            .last_checkpoint
            .clone()
            .filter(|_| self.saved_position == Some(here));
        if let Some(path) = saved {
            self.reporter.note(&format!(
                "{signal}: stopped at epoch {} stratum {}; checkpoint {} is current (run the same command to resume)",
                here.epoch,
                here.stratum,
                path.display()
            ));
        } else if self.state.all_finite() {
            let path = self.checkpoint()?;
            self.reporter.note(&format!(
                "{signal}: stopped at epoch {} stratum {}; checkpoint {} (run the same command to resume)",
                self.progress.epoch,
                self.progress.stratum,
                path.display()
            ));
        } else {
            self.reporter.warning(&format!(
                "{signal}: the parameters are not finite, so no checkpoint was written; the last good one is {}",
                self.last_checkpoint.as_ref().map_or("none".into(), |p| p.display().to_string())
            ));
        }
        Ok(Ending::Stopped)
    }

    /// Writes a checkpoint now and waits until it is on the disk (the
    /// final one, a stop's): a failure fails the run.
    pub(super) fn checkpoint(&mut self) -> anyhow::Result<PathBuf> {
        self.settle_checkpoint();
        if !self.state.all_finite() {
            bail!("internal error: refusing to checkpoint non-finite parameters");
        }
        let position = Position {
            epoch: self.progress.epoch,
            stratum: self.progress.stratum,
        };
        let checkpoint = CheckpointView {
            settings: &self.settings,
            progress: &self.progress,
            params: self.state.parts(),
            epoch_start: (self.progress.stratum > 0).then(|| self.epoch_start.parts()),
            best: self.best_to_save().map(ModelState::parts),
        };
        let path = self.dir.write(
            &checkpoint,
            position,
            self.config.keep,
            self.config.checkpoint_pause,
        )?;
        self.last_checkpoint_at = Instant::now();
        self.last_checkpoint = Some(path.clone());
        self.saved_position = Some(position);
        self.checkpoint_requested = false;
        Ok(path)
    }

    /// A checkpoint the run can do without (periodic, SIGHUP), written in
    /// the background: the model is encoded now, exactly as it is, and
    /// training goes on while another thread writes it (see
    /// [`BackgroundWriter`](crate::checkpoint::BackgroundWriter); at most
    /// one write is in flight, so this first waits for the last one). A
    /// failure (disk full, say) is a warning, and training goes on; the
    /// next one is tried at the next occasion. Final and stop checkpoints
    /// use [`Self::checkpoint`] and fail the run instead.
    pub(super) fn periodic_checkpoint(&mut self) {
        self.checkpoint_requested = false;
        self.last_checkpoint_at = Instant::now();
        if !self.state.all_finite() {
            self.settle_checkpoint();
            self.reporter.warning(
                "checkpoint skipped, training goes on: internal error: refusing to checkpoint non-finite parameters",
            );
            return;
        }
        let position = Position {
            epoch: self.progress.epoch,
            stratum: self.progress.stratum,
        };
        // Field by field (not `best_to_save`), so that the writer can be
        // borrowed alongside.
        let best = self.best.as_ref().filter(|best| !best.same_as(&self.state));
        let checkpoint = CheckpointView {
            settings: &self.settings,
            progress: &self.progress,
            params: self.state.parts(),
            epoch_start: (self.progress.stratum > 0).then(|| self.epoch_start.parts()),
            best: best.map(ModelState::parts),
        };
        let (previous, started) = self.checkpoint_writer.start(
            &self.dir,
            &checkpoint,
            position,
            self.config.keep,
            self.config.checkpoint_pause,
        );
        if let Some(written) = previous {
            self.record_written(written);
        }
        if let Err(e) = started {
            self.reporter
                .warning(&format!("checkpoint failed, training goes on: {e:#}"));
        }
    }

    /// Waits for the checkpoint being written in the background, if any,
    /// and records its outcome.
    pub(super) fn settle_checkpoint(&mut self) {
        if let Some(written) = self.checkpoint_writer.wait() {
            self.record_written(written);
        }
    }

    /// Records a finished background write: its file is the last
    /// checkpoint (and the current one if training has not moved since),
    /// or its failure is a warning.
    fn record_written(&mut self, written: Written) {
        match written.result {
            Ok(path) => {
                self.last_checkpoint = Some(path);
                let here = Position {
                    epoch: self.progress.epoch,
                    stratum: self.progress.stratum,
                };
                if here == written.position {
                    self.saved_position = Some(here);
                }
            }
            Err(e) => self
                .reporter
                .warning(&format!("checkpoint failed, training goes on: {e:#}")),
        }
    }

    /// Divergence: go back to the start of the epoch with half the
    /// learning rate, or give up once the back-offs are spent.
    pub(super) fn diverged(&mut self, why: &str) -> anyhow::Result<()> {
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
        self.reporter.warning(&format!(
            "training diverged at {at} ({why}); restarting the epoch from its start with learning rate {lowered} (was {})",
            self.settings.learning_rate
        ));
        self.settings.learning_rate = lowered;
        self.progress.backoffs += 1;
        // No write may be in flight while abandoned checkpoints are removed.
        self.settle_checkpoint();
        self.saved_position = None;
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

    pub(super) fn early_stop_due(&self) -> bool {
        let patience = self.settings.early_stop as usize;
        if patience == 0 {
            return false;
        }
        let hist = &self.progress.validation_rmse;
        let Some(best) = best_epoch(hist) else {
            return false;
        };
        if hist.len() - 1 - best >= patience {
            return true;
        }
        stalled(hist, patience, self.config.early_stop_min_gain)
    }

    /// The step size of the epoch being trained, or of the last epoch
    /// once every epoch is done.
    pub(super) fn current_step_size(&self) -> f32 {
        let epoch = self
            .progress
            .epoch
            .min(self.settings.epochs.saturating_sub(1));
        self.hyper_params()
            .map_or(self.settings.learning_rate, |h| h.step_size(epoch))
    }

    pub(super) fn publish(&mut self, state: RunState, error: Option<String>) {
        let last = |v: &Vec<f64>| v.last().copied().filter(|x| x.is_finite());
        let status = Status {
            state,
            process: self.process.clone(),
            epoch: self.progress.epoch,
            epochs: self.settings.epochs,
            stratum: self.progress.stratum,
            strata: self.grid() as u32,
            learning_rate: self.current_step_size(),
            base_learning_rate: self.settings.learning_rate,
            train_rmse: last(&self.progress.train_rmse),
            test_rmse: last(&self.progress.test_rmse),
            updates_per_sec: self.last_rate,
            checkpoint: self.last_checkpoint.clone(),
            updated_unix: unix_now(),
            error,
        };
        if let Err(e) = self.status_file.write(&status) {
            self.reporter.warning(&format!("{e:#}"));
        }
        self.last_status_at = Instant::now();
    }
}

/// Whether the validation RMSE gained less than the fraction `min_gain` of
/// itself over its last `patience` epochs (never with `min_gain` 0): the
/// best of those epochs against the best before them.
pub(super) fn stalled(hist: &[f64], patience: usize, min_gain: f64) -> bool {
    if min_gain <= 0.0 || hist.len() <= patience {
        return false;
    }
    let best_of = |v: &[f64]| {
        v.iter()
            .copied()
            .filter(|x| x.is_finite())
            .fold(f64::INFINITY, f64::min)
    };
    let (before, recent) = hist.split_at(hist.len() - patience);
    let (before, recent) = (best_of(before), best_of(recent));
    before.is_finite() && before - recent < min_gain * before
}

#[cfg(test)]
mod tests {
    use super::stalled;

    #[test]
    fn a_gain_below_the_threshold_over_the_patience_window_is_a_stall() {
        let hist = [1.0, 0.9, 0.89995, 0.8999, 0.89988];
        // 0.9 → 0.89988 over the last 3 epochs: a gain of 1.3e-4 of 0.9.
        assert!(stalled(&hist, 3, 2e-4));
        assert!(!stalled(&hist, 3, 1e-4));
        assert!(!stalled(&hist, 3, 0.0), "0: any gain counts");
        assert!(!stalled(&hist[..3], 3, 0.5), "too few epochs to tell");
    }
}
