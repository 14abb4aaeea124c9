//! Instruction-set backends.
//!
//! One folder per ISA (`x86_64/avx2`, `x86_64/avx512`, `aarch64/neon`) plus
//! the portable [`scalar`] reference. Every backend implements the same
//! private `RowOps` trait (dot product, SGD update, adaptive update) and
//! exposes the same entry points (`train`, `evaluate`), each a
//! `#[target_feature]` function that instantiates the generic loops of
//! `crate::sgd` and `crate::loss` with its own row operations, so the
//! per-rating work inlines into one loop compiled for that ISA.
//!
//! [`Isa`] picks a backend at run time. A SIMD variant holds a token (see
//! [`token`]) that can only be made where the CPU has the feature, so every
//! call through an `Isa` is safe; the ISA is matched once per block, never
//! per rating.

pub mod scalar;
pub mod token;

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "x86_64")]
mod x86_64;

use core::fmt;

use crate::loss::{EvalJob, LossStats};
use crate::sgd::SgdJob;
use crate::FactorRow;

pub use token::{Avx2FmaToken, Avx512Token, NeonToken};

/// An instruction set the kernel can run on.
///
/// A SIMD variant can only be built from a token that proves the CPU has
/// the feature, so calling through an `Isa` is always safe. Every variant
/// exists on every target; on a foreign architecture its token type is
/// uninhabited, so the variant can never be built there.
///
/// # Examples
///
/// ```
/// use funk_kernel::{FactorRow, Isa};
/// let isa = Isa::detect();
/// assert_eq!(Isa::from_name(isa.name()), Some(isa));
/// let p = FactorRow::<16>::splat(1.0);
/// let q = FactorRow::<16>::splat(0.5);
/// assert_eq!(isa.dot(&p, &q), 8.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Isa {
    /// The portable scalar reference: the definition of correct.
    Scalar,
    /// x86-64 AVX2 with FMA (8 lanes of f32).
    Avx2Fma(Avx2FmaToken),
    /// x86-64 AVX-512F (16 lanes of f32).
    Avx512(Avx512Token),
    /// aarch64 Advanced SIMD (4 lanes of f32).
    Neon(NeonToken),
}

/// Calls `$func($args)` in the backend of `$isa`. The match happens once,
/// outside any loop over ratings.
macro_rules! dispatch {
    ($isa:expr, $func:ident($($arg:expr),* $(,)?)) => {
        match $isa {
            Isa::Scalar => scalar::$func($($arg),*),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma(_) => {
                // SAFETY: an `Avx2FmaToken` exists only where cpuid (or std's
                // detection) reported AVX2 and FMA with OS support.
                unsafe { x86_64::avx2::$func($($arg),*) }
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512(_) => {
                // SAFETY: an `Avx512Token` exists only where AVX-512F is
                // reported with OS support for the ZMM state.
                unsafe { x86_64::avx512::$func($($arg),*) }
            }
            #[cfg(target_arch = "aarch64")]
            Isa::Neon(_) => {
                // SAFETY: a `NeonToken` exists only where NEON is present
                // (it is baseline on aarch64).
                unsafe { aarch64::neon::$func($($arg),*) }
            }
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Avx2Fma(token) => token.unreachable(),
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Avx512(token) => token.unreachable(),
            #[cfg(not(target_arch = "aarch64"))]
            Isa::Neon(token) => token.unreachable(),
        }
    };
}

impl Isa {
    /// The best instruction set this CPU offers (the last of
    /// [`Isa::available`]). Works without `std`: on x86-64 it reads cpuid
    /// and XCR0 itself (once; the answer is cached).
    pub fn detect() -> Self {
        let all = Self::available();
        all.last().copied().unwrap_or(Isa::Scalar)
    }

    /// Every instruction set this CPU can run, from the scalar reference
    /// up to the best.
    pub fn available() -> heapless::Vec<Isa, 4> {
        let mut all = heapless::Vec::new();
        let candidates = [
            Some(Isa::Scalar),
            Avx2FmaToken::new().map(Isa::Avx2Fma),
            Avx512Token::new().map(Isa::Avx512),
            NeonToken::new().map(Isa::Neon),
        ];
        for isa in candidates.into_iter().flatten() {
            // Four candidates, capacity four: the push cannot fail.
            let _ = all.push(isa);
        }
        all
    }

    /// Into how many contiguous runs, visited round-robin, this ISA's
    /// the block trainer splits a block of rows of
    /// length `k` ([`block_visit_order`](crate::advanced::block_visit_order)):
    /// [`HELD_STREAMS`](crate::advanced::HELD_STREAMS) for AVX-512 at 64 < K ≤ 128,
    /// [`BLOCK_STREAMS`](crate::advanced::BLOCK_STREAMS) otherwise.
    ///
    /// At those K a user row takes 5 to 8 of AVX-512's 32 registers, so
    /// each of two runs keeps its current user's row (and bias) in
    /// registers for as long as its user lasts (≈ 6.5 ratings in a
    /// full-scale block): the row is loaded and stored once per user
    /// instead of once per rating, which halves the stores, the loop's
    /// limit there. The two runs' steps still overlap each other. AVX2 and
    /// NEON have too few registers to hold a row at those K, and with only
    /// two runs and the rows in memory they lose the overlap of sixteen
    /// (AVX2, K = 128: 0.68–0.94×), so they keep sixteen. Results therefore
    /// differ across ISAs by the order as well as by rounding; on one ISA
    /// they are the same for any thread count.
    pub(crate) const fn block_streams(&self, k: usize) -> usize {
        match self {
            Isa::Avx512(_) if avx512_holds_user_rows(k) => crate::sgd::HELD_STREAMS,
            _ => crate::sgd::BLOCK_STREAMS,
        }
    }

    /// A short, stable name: `scalar`, `avx2`, `avx512` or `neon`.
    pub const fn name(&self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2Fma(_) => "avx2",
            Isa::Avx512(_) => "avx512",
            Isa::Neon(_) => "neon",
        }
    }

    /// The instruction set called `name` (see [`Isa::name`]), or `None` if
    /// the name is unknown or this CPU lacks it.
    pub fn from_name(name: &str) -> Option<Isa> {
        Self::available().into_iter().find(|isa| isa.name() == name)
    }

    /// p·q. The SIMD paths sum in several independent accumulators, so
    /// they agree with the scalar reference to rounding, not to the bit.
    #[inline]
    pub fn dot<const K: usize>(&self, p: &FactorRow<K>, q: &FactorRow<K>) -> f32 {
        dispatch!(*self, dot(p, q))
    }

    /// The factor part of one SGD step, both gradients from the old values:
    /// p += η_p (e q − λ p), q += η_q (e p − λ q).
    #[inline]
    pub fn update<const K: usize>(
        &self,
        p: &mut FactorRow<K>,
        q: &mut FactorRow<K>,
        err: f32,
        eta_p: f32,
        eta_q: f32,
        lambda: f32,
    ) {
        let step = Step {
            err,
            eta_p,
            eta_q,
            lambda,
        };
        dispatch!(*self, update_rows(p, q, step))
    }

    /// One pass of SGD over a validated block, in this ISA's compiled loop.
    pub(crate) fn train<const K: usize>(&self, job: SgdJob<'_, '_, K>) -> f64 {
        dispatch!(*self, train(job))
    }

    /// Prediction errors of a validated block, in this ISA's compiled loop.
    pub(crate) fn evaluate<const K: usize>(&self, job: EvalJob<'_, '_, K>) -> LossStats {
        dispatch!(*self, evaluate(job))
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether the AVX-512 loop holds user rows in registers at row length
/// `k` (see `Isa::block_streams`).
pub(crate) const fn avx512_holds_user_rows(k: usize) -> bool {
    k > 64 && k <= 128
}

/// The scalars of one SGD step on a pair of rows.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Step {
    /// e = r − r̂, from the old values.
    pub err: f32,
    /// Step size of the user row.
    pub eta_p: f32,
    /// Step size of the item row.
    pub eta_q: f32,
    /// λ, the factor regularisation.
    pub lambda: f32,
}

/// The row operations every backend provides, with one meaning:
///
/// - `dot`: p·q;
/// - `update`: p += η_p (e q − λ p), q += η_q (e p − λ q), both from the
///   old values;
/// - `update_adaptive`: the same update, also returning ‖e q − λ p‖² and
///   ‖e p − λ q‖² (the squared gradients the AdaGrad accumulators need);
/// - `prefetch`: a hint that a row will be used soon (may do nothing).
///
/// The methods are `#[inline(always)]` and carry no `#[target_feature]`
/// themselves: they are meant to be inlined into a backend's
/// `#[target_feature]` entry point, as memchr's `Vector` trait is.
///
/// # Safety (of every method)
///
/// The caller must be running on a CPU with the backend's features, which
/// holding the backend's token (or being inside its `#[target_feature]`
/// entry point) proves.
pub(crate) trait RowOps {
    /// p·q.
    unsafe fn dot<const K: usize>(p: &FactorRow<K>, q: &FactorRow<K>) -> f32;
    /// The SGD step on both rows.
    unsafe fn update<const K: usize>(p: &mut FactorRow<K>, q: &mut FactorRow<K>, step: Step);
    /// The SGD step on both rows; returns (‖g_p‖², ‖g_q‖²).
    unsafe fn update_adaptive<const K: usize>(
        p: &mut FactorRow<K>,
        q: &mut FactorRow<K>,
        step: Step,
    ) -> (f32, f32);
    /// The whole non-adaptive SGD step: `step_for(p·q)` gives the step
    /// (and may store anything but the two rows, e.g. the biases), then
    /// [`RowOps::update`] with it. Returns the step. A backend may override
    /// it to load each row once (the same values, so the same result).
    #[inline(always)]
    unsafe fn dot_then_update<const K: usize>(
        p: &mut FactorRow<K>,
        q: &mut FactorRow<K>,
        step_for: impl FnOnce(f32) -> Step,
    ) -> Step {
        // SAFETY: the caller's promise (CPU features) is forwarded.
        unsafe {
            let step = step_for(Self::dot(p, q));
            Self::update(p, q, step);
            step
        }
    }
    /// Whether [`RowOps::dot_then_update_pair`] is worth calling at this
    /// K: the two steps' rows must fit in registers at once. The default
    /// (no) keeps one step at a time.
    #[inline(always)]
    fn pairs<const K: usize>() -> bool {
        false
    }
    /// Two non-adaptive SGD steps on two disjoint pairs of rows, each
    /// exactly as [`RowOps::dot_then_update`] computes it (so the result is
    /// that of doing `a` then `b`), but with both dot products in flight at
    /// once, so that one step's reduction latency overlaps the other's.
    /// `step_for(0, dot)` gives `a`'s step and `step_for(1, dot)` `b`'s.
    #[inline(always)]
    unsafe fn dot_then_update_pair<const K: usize>(
        a: (&mut FactorRow<K>, &mut FactorRow<K>),
        b: (&mut FactorRow<K>, &mut FactorRow<K>),
        mut step_for: impl FnMut(usize, f32) -> Step,
    ) -> [Step; 2] {
        // SAFETY: the caller's promise (CPU features) is forwarded.
        unsafe {
            let first = Self::dot_then_update(a.0, a.1, |dot| step_for(0, dot));
            let second = Self::dot_then_update(b.0, b.1, |dot| step_for(1, dot));
            [first, second]
        }
    }
    /// Whether the loop keeps each run's current user row in registers
    /// at this K (and so visits the block in `HELD_STREAMS` runs;
    /// see `Isa::block_streams`). The default (no) keeps the rows in
    /// memory and `BLOCK_STREAMS` runs.
    #[inline(always)]
    fn holds_user_rows<const K: usize>() -> bool {
        false
    }
    /// The adaptive step sizes of one update, η / √a_p and η / √a_q.
    /// Square root and division are correctly rounded in IEEE 754, so
    /// every backend gives the same bits; a backend overrides this to
    /// compute them in its own instruction encoding (see the x86-64
    /// backends: libm's `sqrtf` is a legacy-SSE `sqrtss` there).
    #[inline(always)]
    unsafe fn adaptive_step_sizes(eta: f32, acc_p: f32, acc_q: f32) -> (f32, f32) {
        (eta / libm::sqrtf(acc_p), eta / libm::sqrtf(acc_q))
    }
    /// Hints that `row` will be read soon.
    #[inline(always)]
    unsafe fn prefetch<const K: usize>(row: &FactorRow<K>) {
        let _ = row;
    }
    /// Hints that the cache line holding `at` will be read soon. `at` may
    /// point anywhere (even out of bounds): a prefetch never faults.
    #[inline(always)]
    unsafe fn prefetch_bytes(at: *const u8) {
        let _ = at;
    }
}
