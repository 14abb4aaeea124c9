//! The worker pool: threads that receive a block job together with the
//! ownership of its bands, run the kernel on it, and send everything back.
//! The main loop is the only place that decides what happens next; workers
//! hold no state between jobs.

use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};
use funk_kernel::{
    accumulate_gradient, evaluate_block, BlockRatings, BlockStats, BlockTrainer, HyperParams, Isa,
    KernelError, LossStats, ModelKind,
};

use super::schedule::BlockId;
use super::state::{BandState, Gradient, ModelState};
use super::validation::ValidationSlice;
use crate::ratingfile::{FormatError, RatingFile};

/// Why a worker could not process a block.
#[derive(Debug, thiserror::Error)]
pub enum BlockFailure {
    /// The rating file's block is damaged (its message names the file, the
    /// block and what to do).
    #[error(transparent)]
    Data(#[from] FormatError),
    /// The kernel refused the block.
    #[error("{0}")]
    Kernel(#[from] KernelError),
}

/// Work for one worker.
#[derive(Debug)]
pub enum Job<const K: usize> {
    /// One SGD pass over a block's train ratings.
    Train {
        /// Which block.
        block: BlockId,
        /// The epoch (drives the learning-rate schedule).
        epoch: u32,
        /// The hyper-parameters now.
        params: HyperParams,
        /// Global mean.
        mu: f32,
        /// The user band, moved in.
        users: BandState<K>,
        /// The item band, moved in.
        items: BandState<K>,
    },
    /// Adds a block's part of the full gradient ∂J/∂θ (method gd).
    Gradient {
        /// Which block.
        block: BlockId,
        /// The hyper-parameters now.
        params: HyperParams,
        /// Global mean.
        mu: f32,
        /// The user band, moved in.
        users: BandState<K>,
        /// The item band, moved in.
        items: BandState<K>,
        /// The user band's gradient, moved in.
        grad_users: Gradient<K>,
        /// The item band's gradient, moved in.
        grad_items: Gradient<K>,
    },
    /// Prediction errors over the ratings of one user band.
    Evaluate {
        /// The user band.
        user_band: usize,
        /// Which ratings.
        split: Split,
        /// The whole model, shared read-only for the evaluation.
        model: Arc<ModelState<K>>,
        /// Plain or biased.
        kind: ModelKind,
        /// Clamp predictions to the rating range.
        clamp: Option<(f32, f32)>,
    },
}

/// Which ratings an evaluation covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// The train split less the validation slice (what is learnt from).
    Train,
    /// The validation slice (held out of the train split).
    Validation,
    /// The test split.
    Test,
}

/// What a worker sends back.
#[derive(Debug)]
pub enum Outcome<const K: usize> {
    /// A trained block, with its bands.
    Trained {
        /// Which block.
        block: BlockId,
        /// The user band, moved back.
        users: BandState<K>,
        /// The item band, moved back.
        items: BandState<K>,
        /// What the kernel saw.
        stats: Result<BlockStats, BlockFailure>,
    },
    /// A block's gradient added, with its bands and gradients.
    Accumulated {
        /// Which block.
        block: BlockId,
        /// The user band, moved back.
        users: BandState<K>,
        /// The item band, moved back.
        items: BandState<K>,
        /// The user band's gradient, moved back.
        grad_users: Gradient<K>,
        /// The item band's gradient, moved back.
        grad_items: Gradient<K>,
        /// The block's errors before the step.
        stats: Result<LossStats, BlockFailure>,
    },
    /// The test errors of one user band (merged over its item bands in order).
    Evaluated {
        /// The user band.
        user_band: usize,
        /// Sums of errors.
        stats: Result<LossStats, BlockFailure>,
    },
}

/// Runs jobs until the job channel closes. A job is one block in the
/// kernel (under a millisecond at full scale) or one evaluation. There is
/// no pause point between two blocks: measured in a service's round, a
/// yield there made the scheduler give the background worker a runnable
/// query's turn several times as often, a block each, and raised the
/// queries' p99 during training (see `docs/benchmarks.md`).
pub fn work<const K: usize>(
    data: &RatingFile,
    validation: &ValidationSlice,
    isa: Isa,
    jobs: Receiver<Job<K>>,
    results: Sender<Outcome<K>>,
) {
    for job in jobs {
        let outcome = run_job(data, validation, isa, job);
        if results.send(outcome).is_err() {
            return;
        }
    }
}

fn run_job<const K: usize>(
    data: &RatingFile,
    validation: &ValidationSlice,
    isa: Isa,
    job: Job<K>,
) -> Outcome<K> {
    match job {
        Job::Train {
            block,
            epoch,
            params,
            mu,
            mut users,
            mut items,
        } => {
            // The block less its held-out ratings, without copying it, in
            // the kernel's own (interleaved) visiting order; its checksums
            // and indices are checked the first time only
            // (`checked_train_block`).
            let stats = data
                .checked_train_block(block.user_band, block.item_band)
                .map_err(BlockFailure::from)
                .and_then(|ratings| {
                    BlockTrainer {
                        isa,
                        params,
                        epoch,
                        mu,
                    }
                    .train(
                        users.as_band(),
                        items.as_band(),
                        BlockRatings::checked(ratings)
                            .skipping(validation.held_out(block.user_band, block.item_band)),
                    )
                    .map_err(BlockFailure::from)
                });
            Outcome::Trained {
                block,
                users,
                items,
                stats,
            }
        }
        Job::Gradient {
            block,
            params,
            mu,
            users,
            items,
            mut grad_users,
            mut grad_items,
        } => {
            let stats = data
                .checked_train_records(block.user_band, block.item_band)
                .map_err(BlockFailure::from)
                .and_then(|ratings| {
                    let mut total = LossStats::default();
                    for run in validation.training_runs(block.user_band, block.item_band, ratings) {
                        total.merge(accumulate_gradient(
                            &params,
                            mu,
                            users.view(),
                            items.view(),
                            run,
                            grad_users.as_grad(),
                            grad_items.as_grad(),
                        )?);
                    }
                    Ok(total)
                });
            Outcome::Accumulated {
                block,
                users,
                items,
                grad_users,
                grad_items,
                stats,
            }
        }
        Job::Evaluate {
            user_band,
            split,
            model,
            kind,
            clamp,
        } => {
            let users = &model.users[user_band];
            let mut total = LossStats::default();
            let mut result = Ok(());
            'bands: for (item_band, items) in model.items.iter().enumerate() {
                // Checks the block's train and test records alike (once).
                let train = match data.checked_train_records(user_band, item_band) {
                    Ok(train) => train,
                    Err(e) => {
                        result = Err(e.into());
                        break 'bands;
                    }
                };
                let runs: Vec<&[funk_kernel::Rating]> = match split {
                    Split::Train => validation
                        .training_runs(user_band, item_band, train)
                        .collect(),
                    Split::Validation => vec![validation.ratings(user_band, item_band)],
                    Split::Test => vec![data.test_block(user_band, item_band)],
                };
                for ratings in runs {
                    match evaluate_block(
                        isa,
                        kind,
                        model.mu,
                        users.view(),
                        items.view(),
                        ratings,
                        clamp,
                    ) {
                        Ok(stats) => total.merge(stats),
                        Err(e) => {
                            result = Err(e.into());
                            break 'bands;
                        }
                    }
                }
            }
            // Let go of the shared model before answering, so that the
            // main loop can take it back as soon as every answer is in.
            drop(model);
            Outcome::Evaluated {
                user_band,
                stats: result.map(|()| total),
            }
        }
    }
}
