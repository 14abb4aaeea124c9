//! The SGD inner loop, written once and compiled per ISA.
//!
//! [`SgdJob::new`] validates a block (every index, every side slice) once;
//! holding an `SgdJob` is the proof that the unchecked indexing in [`run`]
//! is in bounds. Each backend's `#[target_feature]` `train` calls [`run`]
//! with its own [`RowOps`], so dot product and update inline into one loop
//! compiled for that ISA, and the model/schedule flags become const
//! generics: no branch on them per rating.

use crate::arch::{RowOps, Step};
use crate::validate::{check_ratings, check_side, check_skip};
use crate::{Band, HyperParams, KernelError, LearningRate, ModelKind, Rating};

/// Contiguous runs of a block that are visited round-robin, so that
/// consecutive updates touch different rows and overlap in the CPU.
pub const BLOCK_STREAMS: usize = 16;

/// Ratings ahead in the same run whose item row is prefetched (item rows
/// are visited in no particular order).
const PREFETCH_AHEAD: usize = 2;

/// Ratings ahead in the same run whose user row is prefetched. Users come
/// sorted, ~6.5 ratings each in a full-scale block, so this reaches the
/// next user's row about one user ahead; at full scale the user band (1.9
/// MiB at K = 32, 7.3 MiB at K = 128) is beyond L2 and, across a stratum,
/// beyond L3, so without it every new user was a cache miss (one Netflix
/// block at K = 128: 14.6 → 35 M updates/s).
const USER_AHEAD: usize = 8;

/// Ratings ahead in the same run whose record is prefetched (16 sequential
/// record streams are more than the hardware prefetcher follows).
const RECORDS_AHEAD: usize = 32;

/// A block checked for training. Fields are private so that only
/// [`SgdJob::new`] can make one.
pub(crate) struct SgdJob<'a, 'r, const K: usize> {
    users: Band<'a, K>,
    items: Band<'a, K>,
    ratings: &'r [Rating],
    skip: &'r [u32],
    mu: f32,
    eta: f32,
    lambda: f32,
    lambda_b: f32,
    biased: bool,
    adaptive: bool,
}

impl<'a, 'r, const K: usize> SgdJob<'a, 'r, K> {
    /// Validates the bands against the model and schedule, every rating
    /// against the bands, and the skip list (strictly increasing positions
    /// inside the block) against the block.
    pub(crate) fn new(
        params: &HyperParams,
        epoch: u32,
        mu: f32,
        users: Band<'a, K>,
        items: Band<'a, K>,
        ratings: &'r [Rating],
        skip: &'r [u32],
    ) -> Result<Self, KernelError> {
        let biased = params.model() == ModelKind::Biased;
        let adaptive = params.schedule() == LearningRate::Adaptive;
        for band in [&users, &items] {
            check_side(band.biases.len(), band.factors.len(), biased)?;
            check_side(band.grad_sq.len(), band.factors.len(), adaptive)?;
        }
        check_ratings(ratings, users.factors.len(), items.factors.len())?;
        check_skip(skip, ratings.len())?;
        Ok(Self {
            users,
            items,
            ratings,
            skip,
            mu,
            eta: params.step_size(epoch),
            lambda: params.reg_factors(),
            lambda_b: params.reg_bias(),
            biased,
            adaptive,
        })
    }
}

/// One SGD pass over the block; returns Σ e² of the errors before each
/// update.
///
/// # Safety
///
/// The CPU must have the features `O` needs.
#[inline(always)]
pub(crate) unsafe fn run<O: RowOps, const K: usize>(job: SgdJob<'_, '_, K>) -> f64 {
    // SAFETY: the CPU features are forwarded from the caller.
    unsafe {
        match (job.biased, job.adaptive) {
            (false, false) => pass::<O, K, false, false>(job),
            (false, true) => pass::<O, K, false, true>(job),
            (true, false) => pass::<O, K, true, false>(job),
            (true, true) => pass::<O, K, true, true>(job),
        }
    }
}

/// The loop itself, for one model and schedule.
///
/// The block is split into [`BLOCK_STREAMS`] contiguous runs, visited round-robin
/// (see [`block_visit_order`]): consecutive updates then touch different user
/// rows (the block is sorted by user), so the CPU overlaps them instead of
/// waiting for each update's stores to feed the next rating's dot product.
/// Where two neighbours in that order do share a row, memory ordering makes
/// the result exactly that of the sequential order, which is what every
/// backend, the scalar reference included, computes.
///
/// # Safety
///
/// The CPU must have the features `O` needs; `job.biased == BIASED` and
/// `job.adaptive == ADAPTIVE`.
#[inline(always)]
unsafe fn pass<O: RowOps, const K: usize, const BIASED: bool, const ADAPTIVE: bool>(
    job: SgdJob<'_, '_, K>,
) -> f64 {
    let SgdJob {
        users,
        items,
        ratings,
        skip,
        mu,
        eta,
        lambda,
        lambda_b,
        ..
    } = job;
    let Band {
        factors: user_rows,
        biases: user_biases,
        grad_sq: user_acc,
    } = users;
    let Band {
        factors: item_rows,
        biases: item_biases,
        grad_sq: item_acc,
    } = items;
    let inv_k = 1.0 / K as f32;
    let mut sse = 0.0f64;
    let run = ratings.len().div_ceil(BLOCK_STREAMS);
    // Per stream, where in `skip` its next left-out position is (the list
    // is strictly increasing, so each stream walks its own part of it).
    let mut next_skip: [usize; BLOCK_STREAMS] =
        core::array::from_fn(|stream| skip.partition_point(|&h| (h as usize) < stream * run));
    for round in 0..run {
        for (stream, next) in next_skip.iter_mut().enumerate() {
            let n = stream * run + round;
            let Some(r) = ratings.get(n) else { continue };
            if skip.get(*next).is_some_and(|&h| h as usize == n) {
                *next += 1;
                continue;
            }
            if let Some(ahead) = ratings.get(n + PREFETCH_AHEAD) {
                // SAFETY: `SgdJob::new` checked every item index; the CPU
                // features are the caller's promise.
                unsafe { O::prefetch(item_rows.get_unchecked(ahead.item as usize)) };
            }
            if let Some(ahead) = ratings.get(n + USER_AHEAD) {
                // SAFETY: as above, for the user index.
                unsafe { O::prefetch(user_rows.get_unchecked(ahead.user as usize)) };
            }
            // SAFETY: a prefetch never faults, even past the end (the
            // pointer is formed with wrapping arithmetic); the CPU features
            // are the caller's promise. The records come in BLOCK_STREAMS
            // sequential runs, more than the hardware prefetcher follows.
            unsafe { O::prefetch_bytes(ratings.as_ptr().wrapping_add(n + RECORDS_AHEAD).cast()) };
            let (u, i) = (r.user as usize, r.item as usize);
            // SAFETY: `SgdJob::new` checked u < user rows and i < item rows,
            // and (when BIASED / ADAPTIVE) one bias / accumulator per row; the
            // CPU features are the caller's promise.
            unsafe {
                let p = user_rows.get_unchecked_mut(u);
                let q = item_rows.get_unchecked_mut(i);
                let mut prediction = O::dot(p, q);
                if BIASED {
                    prediction +=
                        mu + *user_biases.get_unchecked(u) + *item_biases.get_unchecked(i);
                }
                let err = r.value - prediction;
                sse += f64::from(err) * f64::from(err);
                let (eta_p, eta_q) = if ADAPTIVE {
                    (
                        eta / libm::sqrtf(*user_acc.get_unchecked(u)),
                        eta / libm::sqrtf(*item_acc.get_unchecked(i)),
                    )
                } else {
                    (eta, eta)
                };
                if BIASED {
                    let bu = user_biases.get_unchecked_mut(u);
                    *bu += eta_p * (err - lambda_b * *bu);
                    let bi = item_biases.get_unchecked_mut(i);
                    *bi += eta_q * (err - lambda_b * *bi);
                }
                let step = Step {
                    err,
                    eta_p,
                    eta_q,
                    lambda,
                };
                if ADAPTIVE {
                    let (gp_sq, gq_sq) = O::update_adaptive(p, q, step);
                    *user_acc.get_unchecked_mut(u) += gp_sq * inv_k;
                    *item_acc.get_unchecked_mut(i) += gq_sq * inv_k;
                } else {
                    O::update(p, q, step);
                }
            }
        }
    }
    sse
}

/// The positions of a block of `len` ratings that
/// [`train_block_skipping`](crate::train_block_skipping) trains on, in its
/// order: [`block_visit_order`] less the positions in `skip`.
pub fn block_visit_order_skipping(len: usize, skip: &[u32]) -> impl Iterator<Item = usize> + '_ {
    block_visit_order(len).filter(move |&n| skip.binary_search(&(n as u32)).is_err())
}

/// The order in which [`train_block`](crate::train_block) visits a block of
/// `len` ratings: [`BLOCK_STREAMS`] contiguous runs of ⌈len / BLOCK_STREAMS⌉ ratings,
/// round-robin (rating 0, then the first of run 1, …, then rating 1, …).
pub fn block_visit_order(len: usize) -> impl Iterator<Item = usize> {
    let run = len.div_ceil(BLOCK_STREAMS);
    (0..run)
        .flat_map(move |round| (0..BLOCK_STREAMS).map(move |stream| stream * run + round))
        .filter(move |&n| n < len)
}
