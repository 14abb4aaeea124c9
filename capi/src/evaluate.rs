//! `funk_evaluate_block`: RMSE and MAE of a model on a block.

use funk_kernel::{evaluate_block, Isa, ModelKind, Rating};

use crate::band::RawBand;
use crate::buffers::{check_disjoint, read_inputs, Raw};
use crate::decode::{self, dispatch_k};
use crate::guard::guarded;
use crate::{FunkBandView, FunkEvalParams, FunkLossStats, FunkRating, FunkStatus};

/// The prediction errors e = r − r̂ of one block, with r̂ = p_u·q_i
/// (plain) or μ + b_u + b_i + p_u·q_i (biased), clamped to
/// [`clamp_low`, `clamp_high`]; sums in double precision.
///
/// - `params`, `users`, `items`: required (`FunkBandView`: factors and,
///   for the biased model, biases).
/// - `ratings`: `n_ratings` records (NULL only when `n_ratings` is 0).
/// - `out`: required; receives the sums, RMSE and MAE (NaN for no
///   ratings).
///
/// Several blocks: add their `sse`, `sae` and `count`, then
/// RMSE = √(sse / count), MAE = sae / count.
///
/// # Safety
///
/// Every non-NULL pointer must point to memory of the stated size that
/// stays valid, and is not written by anyone else, for the call.
#[no_mangle]
pub unsafe extern "C" fn funk_evaluate_block(
    params: *const FunkEvalParams,
    users: *const FunkBandView,
    items: *const FunkBandView,
    ratings: *const FunkRating,
    n_ratings: usize,
    out: *mut FunkLossStats,
) -> FunkStatus {
    guarded(|| {
        // SAFETY: each pointer is valid for its stated size (the caller's
        // contract); `read_inputs` checks NULL and alignment first.
        let (params, users, items) = unsafe { read_inputs(params, users, items)? };
        let ratings = Raw::required(ratings, n_ratings)?;
        let out = Raw::one(out.cast_const())?;
        let model = decode::model(params.model)?;
        let isa = decode::isa(params.isa)?;
        let clamp = (params.clamp_low, params.clamp_high);
        dispatch_k!(
            params.k,
            evaluate(isa, model, params.mu, clamp, &users, &items, ratings, out)
        )
    })
}

#[allow(clippy::too_many_arguments)]
fn evaluate<const K: usize>(
    isa: Isa,
    model: ModelKind,
    mu: f32,
    clamp: (f32, f32),
    users: &FunkBandView,
    items: &FunkBandView,
    ratings: Raw<FunkRating>,
    out: Raw<FunkLossStats>,
) -> Result<(), FunkStatus> {
    let users = RawBand::<K>::from_view(users)?;
    let items = RawBand::<K>::from_view(items)?;
    let [u0, u1, _] = users.spans();
    let [i0, i1, _] = items.spans();
    check_disjoint(&[out.span()], &[u0, u1, i0, i1, ratings.span()])?;
    // SAFETY: valid, initialised memory that nobody writes during the call
    // (the caller's contract; `out` is disjoint from all of it). The
    // slices end with this statement, before `out` is written.
    let loss = unsafe {
        let ratings: &[Rating] = bytemuck::cast_slice(ratings.as_slice());
        evaluate_block(
            isa,
            model,
            mu,
            users.as_view(),
            items.as_view(),
            ratings,
            Some(clamp),
        )?
    };
    // SAFETY: a checked, writable out-parameter, no reference to it alive.
    unsafe {
        out.write(FunkLossStats {
            sse: loss.sse,
            sae: loss.sae,
            count: loss.count,
            rmse: loss.rmse(),
            mae: loss.mae(),
        })
    };
    Ok(())
}
