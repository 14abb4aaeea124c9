//! `funk_train_block`: one pass of SGD over a block.

use funk_kernel::{BlockRatings, BlockTrainer, HyperParams, Rating};

use crate::band::RawBand;
use crate::buffers::{check_disjoint, read_inputs, Raw};
use crate::decode::{self, dispatch_k};
use crate::guard::guarded;
use crate::{FunkBand, FunkBlockStats, FunkRating, FunkStatus, FunkTrainParams};

/// Trains one block: one SGD step per rating, in the kernel's fixed order,
/// updating the user band and item band in place (factors, and biases and
/// accumulators where the model and schedule use them).
///
/// Per rating, with e = r − r̂ from the old values:
/// p_u += η (e q_i − λ p_u), q_i += η (e p_u − λ q_i), and for the biased
/// model b_u += η (e − λ_b b_u), b_i += η (e − λ_b b_i).
///
/// - `params`: required; `params->k` floats per row.
/// - `users`, `items`: required; see `FunkBand` for their buffers.
/// - `ratings`: `n_ratings` records (NULL only when `n_ratings` is 0);
///   each `user` below `users->rows`, each `item` below `items->rows`.
/// - `skip`: `n_skip` positions in `ratings` to leave out (a held-out
///   slice), strictly increasing; NULL when `n_skip` is 0.
/// - `stats`: where to write what the pass saw, or NULL.
///
/// Returns `FUNK_STATUS_OK`, or the first problem found; on a refusal
/// nothing has been written. Deterministic: the same inputs on the same
/// instruction set give the same bits. Allocates nothing.
///
/// # Safety
///
/// Every non-NULL pointer must point to memory of the stated size that
/// stays valid for the call; the buffers it writes must not be read or
/// written by anyone else (another thread) during the call. Alignment,
/// sizes and overlap between the call's own buffers are checked.
#[no_mangle]
pub unsafe extern "C" fn funk_train_block(
    params: *const FunkTrainParams,
    users: *const FunkBand,
    items: *const FunkBand,
    ratings: *const FunkRating,
    n_ratings: usize,
    skip: *const u32,
    n_skip: usize,
    stats: *mut FunkBlockStats,
) -> FunkStatus {
    guarded(|| {
        // SAFETY: each pointer is valid for its stated size (the caller's
        // contract); `read_inputs` checks NULL and alignment first.
        let (params, users, items) = unsafe { read_inputs(params, users, items)? };
        let job = Job {
            ratings: Raw::required(ratings, n_ratings)?,
            skip: Raw::required(skip, n_skip)?,
            stats: Raw::optional(stats.cast_const(), 1)?,
        };
        let model = decode::model(params.model)?;
        let schedule = decode::schedule(params.schedule, params.decay)?;
        let isa = decode::isa(params.isa)?;
        let hyper = HyperParams::new(
            model,
            params.learning_rate,
            params.reg_factors,
            params.reg_bias,
            schedule,
        )?;
        let trainer = BlockTrainer::new(isa, hyper)
            .at_epoch(params.epoch)
            .with_mean(params.mu);
        dispatch_k!(params.k, train(&trainer, &users, &items, job))
    })
}

/// The checked buffers of one call besides the bands.
struct Job {
    ratings: Raw<FunkRating>,
    skip: Raw<u32>,
    stats: Raw<FunkBlockStats>,
}

fn train<const K: usize>(
    trainer: &BlockTrainer,
    users: &FunkBand,
    items: &FunkBand,
    job: Job,
) -> Result<(), FunkStatus> {
    let users = RawBand::<K>::from_band(users)?;
    let items = RawBand::<K>::from_band(items)?;
    let [u0, u1, u2] = users.spans();
    let [i0, i1, i2] = items.spans();
    check_disjoint(
        &[u0, u1, u2, i0, i1, i2, job.stats.span()],
        &[job.ratings.span(), job.skip.span()],
    )?;
    // SAFETY: the caller promised valid, initialised memory that nobody
    // else touches during the call; `check_disjoint` proved that the
    // buffers written here share no byte with any other buffer of the call,
    // so the exclusive slices do not alias. The slices end with this
    // statement, before `stats` is written.
    let result = unsafe {
        let ratings: &[Rating] = bytemuck::cast_slice(job.ratings.as_slice());
        let block = BlockRatings::new(ratings).skipping(job.skip.as_slice());
        trainer.train(users.as_band(), items.as_band(), block)?
    };
    if job.stats.len() == 1 {
        // SAFETY: a checked, writable out-parameter, disjoint from the bands.
        unsafe {
            job.stats.write(FunkBlockStats {
                sse: result.sse,
                count: result.count,
            })
        };
    }
    Ok(())
}
