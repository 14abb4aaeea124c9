//! Model selection during a run: the per-row prior applied after each
//! epoch, the validation error, and keeping the parameters of the epoch
//! with the lowest validation RMSE: they are the model the run delivers
//! (saved in every checkpoint beside the current parameters, which
//! training goes on from).

use funk_kernel::LossStats;

use super::state::ModelState;
use super::trainer::{Channels, Trainer};
use super::workers::Split;
use crate::runstate::best_epoch;

impl<const K: usize> Trainer<'_, K> {
    /// The end of an epoch's training: the per-row prior λ₀‖p‖² of every
    /// factor row, one step of it per epoch, p ← (1 − η_t·λ₀)·p, row by row
    /// (no order to depend on), in one pass with the check that every
    /// parameter is finite, on the run's `threads`. Whether they all are.
    pub(super) fn prior_and_check(&mut self, threads: usize) -> anyhow::Result<bool> {
        let keep = if self.settings.reg_row > 0.0 {
            let eta = self.hyper_params()?.step_size(self.progress.epoch);
            Some((1.0 - eta * self.settings.reg_row).max(0.0))
        } else {
            None
        };
        Ok(self.state.scale_and_check(keep, threads))
    }

    /// The error on the validation slice (clamped like the test error),
    /// `None` without one.
    pub(super) fn evaluate_validation(
        &mut self,
        ch: &Channels<'_, K>,
    ) -> anyhow::Result<Option<LossStats>> {
        if self.validation.count() == 0 {
            return Ok(None);
        }
        self.evaluate_split(ch, Split::Validation, self.data.rating_range())
            .map(Some)
    }

    /// The best parameters when they must be saved: when there are any and
    /// they are not the current ones.
    pub(super) fn best_to_save(&self) -> Option<&ModelState<K>> {
        self.best.as_ref().filter(|best| !best.same_as(&self.state))
    }

    /// The model this run delivers: the parameters of the epoch with the
    /// best validation RMSE (the current ones without a validation slice).
    /// Training itself goes on from the current parameters, so a resumed
    /// or extended run follows the same path as an uninterrupted one.
    pub(super) fn model(&self) -> &ModelState<K> {
        self.best.as_ref().unwrap_or(&self.state)
    }

    /// At the end of a run: the test MAE of the delivered model, and a note
    /// when it is not the last epoch's.
    pub(super) fn measure_best(&mut self, ch: &Channels<'_, K>) -> anyhow::Result<()> {
        let Some(mut best) = self.best_to_save().cloned() else {
            return Ok(());
        };
        if let Some(epoch) = best_epoch(&self.progress.validation_rmse) {
            self.reporter.note(&format!(
                "keeping the model of epoch {} (best validation rmse {:.4})",
                epoch + 1,
                self.progress.validation_rmse[epoch]
            ));
        }
        std::mem::swap(&mut self.state, &mut best);
        let test = self.evaluate(ch);
        std::mem::swap(&mut self.state, &mut best);
        self.last_test_mae = test?.map(|t| t.mae());
        Ok(())
    }

    /// The epoch (1-based) whose parameters the delivered model holds.
    pub(super) fn model_epoch(&self) -> Option<u32> {
        if self.progress.epoch == 0 {
            return None;
        }
        let best = self
            .best_to_save()
            .and_then(|_| best_epoch(&self.progress.validation_rmse));
        Some(best.map_or(self.progress.epoch, |e| e as u32 + 1))
    }
}
