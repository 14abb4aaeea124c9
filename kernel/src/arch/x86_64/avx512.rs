//! The AVX-512F backend: 16 lanes of f32 (one register per cache line),
//! aligned loads, up to four independent accumulators per dot product.

use core::arch::x86_64::*;

use crate::arch::{RowOps, Step};
use crate::loss::{EvalJob, LossStats};
use crate::sgd::SgdJob;
use crate::FactorRow;

/// f32 lanes per register.
const LANES: usize = 16;
/// Independent accumulators in a reduction (hides the FMA latency).
const ACCUMULATORS: usize = 4;
/// Registers per row at the largest K the daemon uses (256).
const MAX_CHUNKS: usize = 16;

/// The AVX-512F row operations.
pub(crate) struct Avx512Ops;

/// (a0 + a1) + (a2 + a3) over the `used` accumulators in use (1 to 4).
///
/// # Safety
///
/// The CPU must have AVX-512F.
#[inline(always)]
unsafe fn combine(acc: [__m512; ACCUMULATORS], used: usize) -> __m512 {
    // SAFETY: register-only AVX-512F adds; the feature is the caller's promise.
    unsafe {
        if used >= 4 {
            _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]))
        } else if used == 3 {
            _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), acc[2])
        } else if used == 2 {
            _mm512_add_ps(acc[0], acc[1])
        } else {
            acc[0]
        }
    }
}

/// Stores one step's new rows, computed from their old values `pv` and
/// `qv` (the first K / 16 registers of each):
/// p + η_p (e q − λ p) = (1 − η_p λ) p + (η_p e) q, and its mirror for q —
/// two operations per vector instead of three (the same value up to
/// rounding).
///
/// # Safety
///
/// The CPU must have AVX-512F; `pp` and `qp` point to two distinct
/// 64-byte-aligned rows of K (a multiple of 16) f32.
#[inline(always)]
unsafe fn store_step<const K: usize>(
    pp: *mut f32,
    qp: *mut f32,
    pv: &[__m512; MAX_CHUNKS],
    qv: &[__m512; MAX_CHUNKS],
    step: Step,
) {
    // SAFETY: the caller's promise: each store writes 16 f32 at offset
    // c·16 < K of an aligned row; AVX-512F is available.
    unsafe {
        let keep_p = _mm512_set1_ps(1.0 - step.eta_p * step.lambda);
        let keep_q = _mm512_set1_ps(1.0 - step.eta_q * step.lambda);
        let pull_p = _mm512_set1_ps(step.eta_p * step.err);
        let pull_q = _mm512_set1_ps(step.eta_q * step.err);
        for c in 0..K / LANES {
            let p_new = _mm512_fmadd_ps(pull_p, qv[c], _mm512_mul_ps(keep_p, pv[c]));
            let q_new = _mm512_fmadd_ps(pull_q, pv[c], _mm512_mul_ps(keep_q, qv[c]));
            _mm512_store_ps(pp.add(c * LANES), p_new);
            _mm512_store_ps(qp.add(c * LANES), q_new);
        }
    }
}

impl RowOps for Avx512Ops {
    #[inline(always)]
    unsafe fn dot<const K: usize>(p: &FactorRow<K>, q: &FactorRow<K>) -> f32 {
        let (pp, qp) = (p.0.as_ptr(), q.0.as_ptr());
        // SAFETY: AVX-512F is the caller's promise. Each load reads 16 f32 at
        // offset c·16 < K of a 64-byte-aligned row of K (a multiple of 16)
        // f32, so it is in bounds and 64-byte aligned.
        unsafe {
            let mut acc = [_mm512_setzero_ps(); ACCUMULATORS];
            for c in 0..K / LANES {
                let a = _mm512_load_ps(pp.add(c * LANES));
                let b = _mm512_load_ps(qp.add(c * LANES));
                acc[c % ACCUMULATORS] = _mm512_fmadd_ps(a, b, acc[c % ACCUMULATORS]);
            }
            _mm512_reduce_add_ps(combine(acc, K / LANES))
        }
    }

    #[inline(always)]
    unsafe fn update<const K: usize>(p: &mut FactorRow<K>, q: &mut FactorRow<K>, step: Step) {
        let (pp, qp) = (p.0.as_mut_ptr(), q.0.as_mut_ptr());
        // SAFETY: as in `dot`; `p` and `q` are distinct rows (two `&mut`).
        unsafe {
            let mut pv = [_mm512_setzero_ps(); MAX_CHUNKS];
            let mut qv = [_mm512_setzero_ps(); MAX_CHUNKS];
            for c in 0..K / LANES {
                pv[c] = _mm512_load_ps(pp.add(c * LANES));
                qv[c] = _mm512_load_ps(qp.add(c * LANES));
            }
            store_step::<K>(pp, qp, &pv, &qv, step);
        }
    }

    #[inline(always)]
    unsafe fn dot_then_update<const K: usize>(
        p: &mut FactorRow<K>,
        q: &mut FactorRow<K>,
        step_for: impl FnOnce(f32) -> Step,
    ) -> Step {
        let (pp, qp) = (p.0.as_mut_ptr(), q.0.as_mut_ptr());
        // SAFETY: as in `dot` and `update`. The rows are loaded once into
        // locals, so nothing `step_for` stores can change what the update
        // reads (and the compiler need not read them again).
        unsafe {
            let mut pv = [_mm512_setzero_ps(); MAX_CHUNKS];
            let mut qv = [_mm512_setzero_ps(); MAX_CHUNKS];
            let mut acc = [_mm512_setzero_ps(); ACCUMULATORS];
            for c in 0..K / LANES {
                pv[c] = _mm512_load_ps(pp.add(c * LANES));
                qv[c] = _mm512_load_ps(qp.add(c * LANES));
                acc[c % ACCUMULATORS] = _mm512_fmadd_ps(pv[c], qv[c], acc[c % ACCUMULATORS]);
            }
            let step = step_for(_mm512_reduce_add_ps(combine(acc, K / LANES)));
            store_step::<K>(pp, qp, &pv, &qv, step);
            step
        }
    }

    /// Up to K = 32, where the four rows of two steps take at most 8 of the
    /// 32 registers (measured, `block_rate`: K = 16 1.08–1.10×, K = 32
    /// 1.08–1.12×). At K = 64 they take 16 and the pair ran at 0.31–0.34×
    /// of one step at a time; at K = 128 (32 registers) 0.75–0.9×.
    #[inline(always)]
    fn pairs<const K: usize>() -> bool {
        K <= 32
    }

    /// At 64 < K ≤ 128 (see `Isa::block_streams`): `block_rate`, paired
    /// A/B runs at K = 128, 1.32–1.43× on every shape.
    #[inline(always)]
    fn holds_user_rows<const K: usize>() -> bool {
        crate::arch::avx512_holds_user_rows(K)
    }

    #[inline(always)]
    unsafe fn dot_then_update_pair<const K: usize>(
        a: (&mut FactorRow<K>, &mut FactorRow<K>),
        b: (&mut FactorRow<K>, &mut FactorRow<K>),
        mut step_for: impl FnMut(usize, f32) -> Step,
    ) -> [Step; 2] {
        let rows = [
            (a.0 .0.as_mut_ptr(), a.1 .0.as_mut_ptr()),
            (b.0 .0.as_mut_ptr(), b.1 .0.as_mut_ptr()),
        ];
        // SAFETY: as in `dot_then_update`, for each pair; the four rows are
        // distinct (four `&mut`), so each step reads and writes only its own
        // rows, in the order `dot_then_update` would.
        unsafe {
            let mut pv = [[_mm512_setzero_ps(); MAX_CHUNKS]; 2];
            let mut qv = [[_mm512_setzero_ps(); MAX_CHUNKS]; 2];
            let mut acc = [[_mm512_setzero_ps(); ACCUMULATORS]; 2];
            for c in 0..K / LANES {
                for (s, &(pp, qp)) in rows.iter().enumerate() {
                    pv[s][c] = _mm512_load_ps(pp.add(c * LANES));
                    qv[s][c] = _mm512_load_ps(qp.add(c * LANES));
                    acc[s][c % ACCUMULATORS] =
                        _mm512_fmadd_ps(pv[s][c], qv[s][c], acc[s][c % ACCUMULATORS]);
                }
            }
            let dots = acc.map(|acc| _mm512_reduce_add_ps(combine(acc, K / LANES)));
            let steps = [step_for(0, dots[0]), step_for(1, dots[1])];
            for (s, &(pp, qp)) in rows.iter().enumerate() {
                store_step::<K>(pp, qp, &pv[s], &qv[s], steps[s]);
            }
            steps
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
            let err = _mm512_set1_ps(step.err);
            let lambda = _mm512_set1_ps(step.lambda);
            let eta_p = _mm512_set1_ps(step.eta_p);
            let eta_q = _mm512_set1_ps(step.eta_q);
            let mut gp_sq = [_mm512_setzero_ps(); 2];
            let mut gq_sq = [_mm512_setzero_ps(); 2];
            for c in 0..K / LANES {
                let pv = _mm512_load_ps(pp.add(c * LANES));
                let qv = _mm512_load_ps(qp.add(c * LANES));
                let gp = _mm512_fmsub_ps(err, qv, _mm512_mul_ps(lambda, pv));
                let gq = _mm512_fmsub_ps(err, pv, _mm512_mul_ps(lambda, qv));
                gp_sq[c % 2] = _mm512_fmadd_ps(gp, gp, gp_sq[c % 2]);
                gq_sq[c % 2] = _mm512_fmadd_ps(gq, gq, gq_sq[c % 2]);
                _mm512_store_ps(pp.add(c * LANES), _mm512_fmadd_ps(eta_p, gp, pv));
                _mm512_store_ps(qp.add(c * LANES), _mm512_fmadd_ps(eta_q, gq, qv));
            }
            (
                _mm512_reduce_add_ps(_mm512_add_ps(gp_sq[0], gp_sq[1])),
                _mm512_reduce_add_ps(_mm512_add_ps(gq_sq[0], gq_sq[1])),
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
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn dot<const K: usize>(p: &FactorRow<K>, q: &FactorRow<K>) -> f32 {
    // SAFETY: this function's features are the caller's promise.
    unsafe { Avx512Ops::dot(p, q) }
}

/// The SGD step on two rows.
///
/// # Safety
///
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn update_rows<const K: usize>(
    p: &mut FactorRow<K>,
    q: &mut FactorRow<K>,
    step: Step,
) {
    // SAFETY: this function's features are the caller's promise.
    unsafe { Avx512Ops::update(p, q, step) }
}

/// One SGD pass over a validated block.
///
/// # Safety
///
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn train<const K: usize>(job: SgdJob<'_, '_, K>) -> f64 {
    // SAFETY: this function's features are the caller's promise.
    unsafe { crate::sgd::run::<Avx512Ops, K>(job) }
}

/// Prediction errors of a validated block.
///
/// # Safety
///
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn evaluate<const K: usize>(job: EvalJob<'_, '_, K>) -> LossStats {
    // SAFETY: this function's features are the caller's promise.
    unsafe { crate::loss::run::<Avx512Ops, K>(job) }
}
