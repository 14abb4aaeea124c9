//! Prediction errors of a block: SSE, SAE and count in f64.

use crate::arch::dispatch;
use crate::arch::vector::{Vector, WithVector};
use crate::rowops::{dot, prefetch_row};
use crate::validate::{check_ratings, check_side};
use crate::{BandView, Isa, KernelError, ModelKind, Rating};

/// Ratings ahead whose user row is prefetched: 4 KiB of user rows in
/// flight (32 ratings at K = 32, 8 at K = 128; the full-scale test split,
/// one thread: 28 → 15 ms at K = 32 and 66 → 49 ms at K = 128 against no
/// prefetch, where 16 ratings ahead at every K gave 17 and 50 ms).
const fn user_ahead(k: usize) -> usize {
    let rows = 4096 / (4 * k);
    if rows < 2 {
        2
    } else {
        rows
    }
}

/// Ratings ahead whose item row is prefetched: item bands are small and
/// mostly cached, so a quarter of the users' distance, 4 to 8.
const fn item_ahead(k: usize) -> usize {
    let ahead = user_ahead(k) / 4;
    if ahead < 4 {
        4
    } else if ahead > 8 {
        8
    } else {
        ahead
    }
}

/// Sums of prediction errors, in f64, mergeable across blocks.
///
/// # Examples
///
/// ```
/// use funk_kernel::LossStats;
/// let mut total = LossStats { sse: 4.0, sae: 2.0, count: 1 };
/// total.merge(LossStats { sse: 0.0, sae: 0.0, count: 3 });
/// assert_eq!(total.rmse(), 1.0);
/// assert_eq!(total.mae(), 0.5);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LossStats {
    /// Σ e².
    pub sse: f64,
    /// Σ |e|.
    pub sae: f64,
    /// Number of ratings.
    pub count: u64,
}

impl LossStats {
    /// Adds another block's sums (merge in a fixed order for determinism).
    pub fn merge(&mut self, other: LossStats) {
        self.sse += other.sse;
        self.sae += other.sae;
        self.count += other.count;
    }

    /// √(Σ e² / n); NaN when no rating was seen.
    pub fn rmse(&self) -> f64 {
        libm::sqrt(self.sse / self.count as f64)
    }

    /// Σ |e| / n; NaN when no rating was seen.
    pub fn mae(&self) -> f64 {
        self.sae / self.count as f64
    }
}

/// A block checked for evaluation. Fields are private so that only
/// [`EvalJob::new`] can make one.
pub(crate) struct EvalJob<'a, 'r, const K: usize> {
    users: BandView<'a, K>,
    items: BandView<'a, K>,
    ratings: &'r [Rating],
    mu: f32,
    biased: bool,
    low: f32,
    high: f32,
}

impl<'a, 'r, const K: usize> EvalJob<'a, 'r, K> {
    fn new(
        model: ModelKind,
        mu: f32,
        users: BandView<'a, K>,
        items: BandView<'a, K>,
        ratings: &'r [Rating],
        clamp: Option<(f32, f32)>,
    ) -> Result<Self, KernelError> {
        let biased = model == ModelKind::Biased;
        for band in [&users, &items] {
            check_side(band.biases.len(), band.factors.len(), biased)?;
        }
        check_ratings(ratings, users.len(), items.len())?;
        let (low, high) = clamp.unwrap_or((f32::NEG_INFINITY, f32::INFINITY));
        if low.is_nan() || high.is_nan() || low > high {
            return Err(KernelError::InvalidClamp);
        }
        Ok(Self {
            users,
            items,
            ratings,
            mu,
            biased,
            low,
            high,
        })
    }
}

/// The prediction errors e = r − r̂ of one block, with r̂ = p_u·q_i (plain)
/// or μ + b_u + b_i + p_u·q_i (biased), clamped to `clamp` when given (a
/// NaN prediction stays NaN, so divergence is never hidden). Every index is
/// validated first; the ISA is dispatched once.
///
/// # Examples
///
/// ```
/// use funk_kernel::*;
/// let p = [FactorRow::<16>::splat(0.5)];
/// let q = [FactorRow::<16>::splat(0.5)];
/// let view = |f| BandView { factors: f, biases: &[] };
/// let ratings = [Rating { user: 0, item: 0, value: 5.0 }];
/// let loss = evaluate_block(Isa::detect(), ModelKind::Plain, 0.0, view(&p), view(&q), &ratings, None).unwrap();
/// assert_eq!(loss.rmse(), 1.0); // prediction 4
/// let clamped = evaluate_block(Isa::detect(), ModelKind::Plain, 0.0, view(&p), view(&q), &ratings, Some((1.0, 3.0))).unwrap();
/// assert_eq!(clamped.sae, 2.0); // prediction clamped to 3
/// ```
pub fn evaluate_block<const K: usize>(
    isa: Isa,
    model: ModelKind,
    mu: f32,
    users: BandView<'_, K>,
    items: BandView<'_, K>,
    ratings: &[Rating],
    clamp: Option<(f32, f32)>,
) -> Result<LossStats, KernelError> {
    let job = EvalJob::new(model, mu, users, items, ratings, clamp)?;
    Ok(dispatch(isa, job))
}

impl<const K: usize> WithVector for EvalJob<'_, '_, K> {
    type Output = LossStats;

    /// The evaluation loop, compiled per ISA like the SGD loop.
    #[inline(always)]
    unsafe fn run<V: Vector>(self) -> LossStats {
        // SAFETY: the CPU features are forwarded from the caller.
        unsafe {
            if self.biased {
                pass::<V, K, true>(self)
            } else {
                pass::<V, K, false>(self)
            }
        }
    }
}

/// # Safety
///
/// The CPU must have the features `V` needs; `job.biased == BIASED`.
#[inline(always)]
unsafe fn pass<V: Vector, const K: usize, const BIASED: bool>(
    job: EvalJob<'_, '_, K>,
) -> LossStats {
    let EvalJob {
        users,
        items,
        ratings,
        mu,
        low,
        high,
        ..
    } = job;
    let (user_ahead, item_ahead) = const { (user_ahead(K), item_ahead(K)) };
    let mut stats = LossStats {
        count: ratings.len() as u64,
        ..LossStats::default()
    };
    for (n, r) in ratings.iter().enumerate() {
        // Rows a few ratings ahead, so that their loads overlap this one's
        // arithmetic: users come sorted but sparse (about one test rating
        // per user and block), so every user row is a cache miss otherwise.
        if let Some(ahead) = ratings.get(n + user_ahead) {
            let u = ahead.user as usize;
            // SAFETY: `EvalJob::new` checked every user index against the
            // band (and, when BIASED, its biases); the CPU features are the
            // caller's promise.
            unsafe {
                prefetch_row::<V, K>(users.factors.get_unchecked(u));
                if BIASED {
                    V::prefetch(users.biases.as_ptr().wrapping_add(u).cast::<u8>());
                }
            }
        }
        if let Some(ahead) = ratings.get(n + item_ahead) {
            // SAFETY: as above, for the item index.
            unsafe { prefetch_row::<V, K>(items.factors.get_unchecked(ahead.item as usize)) };
        }
        let (u, i) = (r.user as usize, r.item as usize);
        // SAFETY: `EvalJob::new` checked u and i against the bands and (when
        // BIASED) one bias per row; the CPU features are the caller's promise.
        let prediction = unsafe {
            let dot = dot::<V, K>(
                users.factors.get_unchecked(u),
                items.factors.get_unchecked(i),
            );
            if BIASED {
                dot + mu + *users.biases.get_unchecked(u) + *items.biases.get_unchecked(i)
            } else {
                dot
            }
        };
        // Two selects, no branch to mispredict (a NaN stays NaN: both
        // comparisons are false).
        let prediction = if prediction < low { low } else { prediction };
        let prediction = if prediction > high { high } else { prediction };
        let err = f64::from(r.value) - f64::from(prediction);
        stats.sse += err * err;
        stats.sae += err.abs();
    }
    stats
}
