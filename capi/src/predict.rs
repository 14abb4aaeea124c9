//! `funk_predict`: the model's score of one (user, item) pair.

use funk_kernel::{Isa, ModelKind};

use crate::band::RawBand;
use crate::buffers::{check_disjoint, read_inputs, Raw};
use crate::decode::{self, dispatch_k};
use crate::guard::guarded;
use crate::{FunkBandView, FunkEvalParams, FunkStatus};

/// Writes r̂ = p_u·q_i (plain) or μ + b_u + b_i + p_u·q_i (biased) for row
/// `user` of `users` and row `item` of `items`, clamped to
/// [`clamp_low`, `clamp_high`], to `*out`: the same number, to the bit,
/// that `funk_evaluate_block` compares with a rating of that pair.
///
/// - `params`, `users`, `items`, `out`: required.
/// - `user` below `users->rows`, `item` below `items->rows`.
///
/// # Safety
///
/// Every pointer must point to memory of the stated size that stays valid,
/// and is not written by anyone else, for the call.
#[no_mangle]
pub unsafe extern "C" fn funk_predict(
    params: *const FunkEvalParams,
    users: *const FunkBandView,
    items: *const FunkBandView,
    user: u32,
    item: u32,
    out: *mut f32,
) -> FunkStatus {
    guarded(|| {
        // SAFETY: each pointer is valid for its stated size (the caller's
        // contract); `read_inputs` checks NULL and alignment first.
        let (params, users, items) = unsafe { read_inputs(params, users, items)? };
        let out = Raw::one(out.cast_const())?;
        let model = decode::model(params.model)?;
        let isa = decode::isa(params.isa)?;
        let (low, high) = (params.clamp_low, params.clamp_high);
        if low.is_nan() || high.is_nan() || low > high {
            return Err(FunkStatus::InvalidClamp);
        }
        let pair = Pair {
            user: user as usize,
            item: item as usize,
        };
        dispatch_k!(
            params.k,
            predict(
                isa,
                model,
                params.mu,
                (low, high),
                &users,
                &items,
                pair,
                out
            )
        )
    })
}

/// Row indices into the user and item bands.
struct Pair {
    user: usize,
    item: usize,
}

#[allow(clippy::too_many_arguments)]
fn predict<const K: usize>(
    isa: Isa,
    model: ModelKind,
    mu: f32,
    (low, high): (f32, f32),
    users: &FunkBandView,
    items: &FunkBandView,
    pair: Pair,
    out: Raw<f32>,
) -> Result<(), FunkStatus> {
    let users = RawBand::<K>::from_view(users)?;
    let items = RawBand::<K>::from_view(items)?;
    let [u0, u1, _] = users.spans();
    let [i0, i1, _] = items.spans();
    check_disjoint(&[out.span()], &[u0, u1, i0, i1])?;
    // SAFETY: valid, initialised memory that nobody writes during the call
    // (the caller's contract; `out` is disjoint from all of it). The views
    // end with this block, before `out` is written.
    let prediction = unsafe {
        let (users, items) = (users.as_view(), items.as_view());
        let biased = model == ModelKind::Biased;
        let p = users
            .factors
            .get(pair.user)
            .ok_or(FunkStatus::UserOutOfRange)?;
        let q = items
            .factors
            .get(pair.item)
            .ok_or(FunkStatus::ItemOutOfRange)?;
        if biased && (users.biases.len() != users.len() || items.biases.len() != items.len()) {
            return Err(FunkStatus::BandShape);
        }
        // The kernel's evaluation computes r̂ in this order.
        let dot = isa.dot(p, q);
        let raw = if biased {
            dot + mu + users.biases[pair.user] + items.biases[pair.item]
        } else {
            dot
        };
        if raw < low {
            low
        } else if raw > high {
            high
        } else {
            raw
        }
    };
    // SAFETY: a checked, writable out-parameter, no reference to it alive.
    unsafe { out.write(prediction) };
    Ok(())
}
