//! The AVX2+FMA backend: 8 lanes of f32, aligned loads (rows are 64-byte
//! aligned), four independent accumulators per dot product.

use core::arch::x86_64::*;

use crate::arch::{RowOps, Step};
use crate::loss::{EvalJob, LossStats};
use crate::sgd::SgdJob;
use crate::FactorRow;

/// f32 lanes per register.
const LANES: usize = 8;
/// Independent accumulators in a reduction (hides the FMA latency).
const ACCUMULATORS: usize = 4;

/// The AVX2+FMA row operations.
pub(crate) struct Avx2Ops;

/// The sum of the eight lanes.
///
/// # Safety
///
/// The CPU must have AVX.
#[inline(always)]
unsafe fn sum_lanes(v: __m256) -> f32 {
    // SAFETY: AVX/SSE3 intrinsics on registers only; AVX is the caller's promise.
    unsafe {
        let halves = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let pairs = _mm_add_ps(halves, _mm_movehl_ps(halves, halves));
        _mm_cvtss_f32(_mm_add_ss(pairs, _mm_movehdup_ps(pairs)))
    }
}

/// (a0 + a1) + (a2 + a3) over the `used` accumulators in use (1 to 4).
///
/// # Safety
///
/// The CPU must have AVX.
#[inline(always)]
unsafe fn combine(acc: [__m256; ACCUMULATORS], used: usize) -> __m256 {
    // SAFETY: register-only AVX adds; AVX is the caller's promise.
    unsafe {
        if used >= 4 {
            _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]))
        } else if used == 3 {
            _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), acc[2])
        } else if used == 2 {
            _mm256_add_ps(acc[0], acc[1])
        } else {
            acc[0]
        }
    }
}

impl RowOps for Avx2Ops {
    #[inline(always)]
    unsafe fn dot<const K: usize>(p: &FactorRow<K>, q: &FactorRow<K>) -> f32 {
        let (pp, qp) = (p.0.as_ptr(), q.0.as_ptr());
        // SAFETY: AVX2+FMA is the caller's promise. Each load reads 8 f32 at
        // offset c·8 < K of a 64-byte-aligned row of K (a multiple of 16)
        // f32, so it is in bounds and 32-byte aligned.
        unsafe {
            let mut acc = [_mm256_setzero_ps(); ACCUMULATORS];
            for c in 0..K / LANES {
                let a = _mm256_load_ps(pp.add(c * LANES));
                let b = _mm256_load_ps(qp.add(c * LANES));
                acc[c % ACCUMULATORS] = _mm256_fmadd_ps(a, b, acc[c % ACCUMULATORS]);
            }
            sum_lanes(combine(acc, K / LANES))
        }
    }

    #[inline(always)]
    unsafe fn update<const K: usize>(p: &mut FactorRow<K>, q: &mut FactorRow<K>, step: Step) {
        let (pp, qp) = (p.0.as_mut_ptr(), q.0.as_mut_ptr());
        // p + η_p (e q − λ p) = (1 − η_p λ) p + (η_p e) q: two operations per
        // vector instead of three (the same value up to rounding).
        // SAFETY: as in `dot`; `p` and `q` are distinct rows (two `&mut`).
        unsafe {
            let keep_p = _mm256_set1_ps(1.0 - step.eta_p * step.lambda);
            let keep_q = _mm256_set1_ps(1.0 - step.eta_q * step.lambda);
            let pull_p = _mm256_set1_ps(step.eta_p * step.err);
            let pull_q = _mm256_set1_ps(step.eta_q * step.err);
            for c in 0..K / LANES {
                let pv = _mm256_load_ps(pp.add(c * LANES));
                let qv = _mm256_load_ps(qp.add(c * LANES));
                let p_new = _mm256_fmadd_ps(pull_p, qv, _mm256_mul_ps(keep_p, pv));
                let q_new = _mm256_fmadd_ps(pull_q, pv, _mm256_mul_ps(keep_q, qv));
                _mm256_store_ps(pp.add(c * LANES), p_new);
                _mm256_store_ps(qp.add(c * LANES), q_new);
            }
        }
    }

    #[inline(always)]
    unsafe fn update_adaptive<const K: usize>(
        p: &mut FactorRow<K>,
        q: &mut FactorRow<K>,
        step: Step,
    ) -> (f32, f32) {
        let (pp, qp) = (p.0.as_mut_ptr(), q.0.as_mut_ptr());
        // SAFETY: as in `update`.
        unsafe {
            let err = _mm256_set1_ps(step.err);
            let lambda = _mm256_set1_ps(step.lambda);
            let eta_p = _mm256_set1_ps(step.eta_p);
            let eta_q = _mm256_set1_ps(step.eta_q);
            let mut gp_sq = [_mm256_setzero_ps(); 2];
            let mut gq_sq = [_mm256_setzero_ps(); 2];
            for c in 0..K / LANES {
                let pv = _mm256_load_ps(pp.add(c * LANES));
                let qv = _mm256_load_ps(qp.add(c * LANES));
                let gp = _mm256_fmsub_ps(err, qv, _mm256_mul_ps(lambda, pv));
                let gq = _mm256_fmsub_ps(err, pv, _mm256_mul_ps(lambda, qv));
                gp_sq[c % 2] = _mm256_fmadd_ps(gp, gp, gp_sq[c % 2]);
                gq_sq[c % 2] = _mm256_fmadd_ps(gq, gq, gq_sq[c % 2]);
                _mm256_store_ps(pp.add(c * LANES), _mm256_fmadd_ps(eta_p, gp, pv));
                _mm256_store_ps(qp.add(c * LANES), _mm256_fmadd_ps(eta_q, gq, qv));
            }
            (
                sum_lanes(_mm256_add_ps(gp_sq[0], gp_sq[1])),
                sum_lanes(_mm256_add_ps(gq_sq[0], gq_sq[1])),
            )
        }
    }

    #[inline(always)]
    unsafe fn adaptive_step_sizes(eta: f32, acc_p: f32, acc_q: f32) -> (f32, f32) {
        // SAFETY: SSE is baseline on x86-64.
        unsafe { super::step_sizes(eta, acc_p, acc_q) }
    }

    #[inline(always)]
    unsafe fn prefetch<const K: usize>(row: &FactorRow<K>) {
        let base = row.0.as_ptr().cast::<i8>();
        for line in 0..K / 16 {
            // SAFETY: a prefetch never faults; the address is inside the row
            // (one 64-byte line per 16 f32).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(base.add(line * 64)) };
        }
    }

    #[inline(always)]
    unsafe fn prefetch_bytes(at: *const u8) {
        // SAFETY: a prefetch never faults, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(at.cast::<i8>()) };
    }
}

/// p·q.
///
/// # Safety
///
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn dot<const K: usize>(p: &FactorRow<K>, q: &FactorRow<K>) -> f32 {
    // SAFETY: this function's features are the caller's promise.
    unsafe { Avx2Ops::dot(p, q) }
}

/// The SGD step on two rows.
///
/// # Safety
///
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn update_rows<const K: usize>(
    p: &mut FactorRow<K>,
    q: &mut FactorRow<K>,
    step: Step,
) {
    // SAFETY: this function's features are the caller's promise.
    unsafe { Avx2Ops::update(p, q, step) }
}

/// One SGD pass over a validated block.
///
/// # Safety
///
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn train<const K: usize>(job: SgdJob<'_, '_, K>) -> f64 {
    // SAFETY: this function's features are the caller's promise.
    unsafe { crate::sgd::run::<Avx2Ops, K>(job) }
}

/// Prediction errors of a validated block.
///
/// # Safety
///
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn evaluate<const K: usize>(job: EvalJob<'_, '_, K>) -> LossStats {
    // SAFETY: this function's features are the caller's promise.
    unsafe { crate::loss::run::<Avx2Ops, K>(job) }
}
