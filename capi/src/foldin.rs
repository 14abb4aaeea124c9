//! `funk_fold_in`: a new user's row from their ratings, items fixed.

use funk_kernel::{fold_in, FoldIn, ItemFactors, ItemRating};

use crate::band::RawBand;
use crate::buffers::{check_disjoint, Raw};
use crate::decode::{self, dispatch_k};
use crate::guard::guarded;
use crate::{FunkBandView, FunkFoldInParams, FunkItemRating, FunkStatus};

/// Folds a new user in against fixed item factors: writes the user's
/// factors to `row[0..rank]`, zeros to `row[rank..k]`, and the user's bias
/// (0 for the plain model) to `*bias`.
///
/// The result is the exact minimiser, found in double precision by a
/// Cholesky solve, of the user's part of the training objective
///
///   Σ_i [ (r_ui − μ − b − b_i − p·q_i)² + λ‖p‖² + λ_b b² ] + λ₀‖p‖²,
///
/// (plain model: no μ, b, b_i). No ratings give the zero row.
///
/// - `params`, `items`: required; `items` is the model's item band
///   (biases required for the biased model).
/// - `ratings`: `n_ratings` records (NULL only when `n_ratings` is 0),
///   items below `items->rows`, values finite.
/// - `row`: required, `k` floats (4-byte aligned; 64-byte aligned if it is
///   to be used as a band row).
/// - `bias`: one float, or NULL when not wanted.
///
/// The solve lives on the stack: about 8·k² bytes (8 KiB at k = 32,
/// 128 KiB at k = 128); mind small thread and firmware stacks.
///
/// # Safety
///
/// Every non-NULL pointer must point to memory of the stated size that
/// stays valid for the call; `row` and `bias` must not be read or written
/// by anyone else during it.
#[no_mangle]
pub unsafe extern "C" fn funk_fold_in(
    params: *const FunkFoldInParams,
    items: *const FunkBandView,
    ratings: *const FunkItemRating,
    n_ratings: usize,
    row: *mut f32,
    bias: *mut f32,
) -> FunkStatus {
    guarded(|| {
        // SAFETY: each pointer is valid for its stated size (the caller's
        // contract); `Raw::one` checks NULL and alignment first.
        let (params, items) = unsafe { (Raw::one(params)?.read(), Raw::one(items)?.read()) };
        let job = Job {
            ratings: Raw::required(ratings, n_ratings)?,
            row,
            bias: Raw::optional(bias.cast_const(), 1)?,
        };
        let model = decode::model(params.model)?;
        let solver = FoldIn::new(model, params.reg_factors, params.reg_bias, params.mu)?
            .with_row_prior(params.reg_row)?;
        dispatch_k!(params.k, fold(&solver, params.rank as usize, &items, job))
    })
}

/// The checked buffers of one call besides the item band.
struct Job {
    ratings: Raw<FunkItemRating>,
    /// `k` floats, checked once `k` is a constant.
    row: *mut f32,
    bias: Raw<f32>,
}

fn fold<const K: usize>(
    solver: &FoldIn,
    rank: usize,
    items: &FunkBandView,
    job: Job,
) -> Result<(), FunkStatus> {
    let items = RawBand::<K>::from_view(items)?;
    let row = Raw::required(job.row.cast_const(), K)?;
    let [i0, i1, _] = items.spans();
    check_disjoint(
        &[row.span(), job.bias.span()],
        &[i0, i1, job.ratings.span()],
    )?;
    // SAFETY: valid, initialised memory for the call (the caller's
    // contract); `check_disjoint` proved that `row` and `bias` share no
    // byte with each other or with the inputs, so the exclusive row slice
    // aliases nothing. The slices end with this statement.
    let user_bias = unsafe {
        let items = items.as_view();
        let item_factors = ItemFactors::from_rows(items.factors, rank, items.biases)?;
        let ratings: &[ItemRating] = bytemuck::cast_slice(job.ratings.as_slice());
        fold_in::<K>(solver, &item_factors, ratings, row.as_mut_slice())?
    };
    if job.bias.len() == 1 {
        // SAFETY: a checked, writable out-parameter, no reference to it alive.
        unsafe { job.bias.write(user_bias) };
    }
    Ok(())
}
