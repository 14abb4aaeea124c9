//! The NEON backend: 4 lanes of f32, four independent accumulators per dot
//! product, fused multiply-add throughout.

use core::arch::aarch64::*;

use crate::arch::{RowOps, Step};
use crate::loss::{EvalJob, LossStats};
use crate::sgd::SgdJob;
use crate::FactorRow;

/// f32 lanes per register.
const LANES: usize = 4;
/// Independent accumulators in a reduction (hides the FMA latency).
const ACCUMULATORS: usize = 4;

/// The NEON row operations.
pub(crate) struct NeonOps;

impl RowOps for NeonOps {
    #[inline(always)]
    unsafe fn dot<const K: usize>(p: &FactorRow<K>, q: &FactorRow<K>) -> f32 {
        let (pp, qp) = (p.0.as_ptr(), q.0.as_ptr());
        // SAFETY: NEON is the caller's promise. Each load reads 4 f32 at
        // offset c·4 < K of a row of K (a multiple of 16) f32: in bounds.
        unsafe {
            let mut acc = [vdupq_n_f32(0.0); ACCUMULATORS];
            for c in 0..K / LANES {
                let a = vld1q_f32(pp.add(c * LANES));
                let b = vld1q_f32(qp.add(c * LANES));
                acc[c % ACCUMULATORS] = vfmaq_f32(acc[c % ACCUMULATORS], a, b);
            }
            // K / LANES ≥ 4: all four accumulators are in use.
            vaddvq_f32(vaddq_f32(
                vaddq_f32(acc[0], acc[1]),
                vaddq_f32(acc[2], acc[3]),
            ))
        }
    }

    #[inline(always)]
    unsafe fn update<const K: usize>(p: &mut FactorRow<K>, q: &mut FactorRow<K>, step: Step) {
        let (pp, qp) = (p.0.as_mut_ptr(), q.0.as_mut_ptr());
        // p + η_p (e q − λ p) = (1 − η_p λ) p + (η_p e) q: two operations per
        // vector instead of three (the same value up to rounding).
        // SAFETY: as in `dot`; `p` and `q` are distinct rows (two `&mut`).
        unsafe {
            let keep_p = vdupq_n_f32(1.0 - step.eta_p * step.lambda);
            let keep_q = vdupq_n_f32(1.0 - step.eta_q * step.lambda);
            let pull_p = vdupq_n_f32(step.eta_p * step.err);
            let pull_q = vdupq_n_f32(step.eta_q * step.err);
            for c in 0..K / LANES {
                let pv = vld1q_f32(pp.add(c * LANES));
                let qv = vld1q_f32(qp.add(c * LANES));
                let p_new = vfmaq_f32(vmulq_f32(keep_p, pv), pull_p, qv);
                let q_new = vfmaq_f32(vmulq_f32(keep_q, qv), pull_q, pv);
                vst1q_f32(pp.add(c * LANES), p_new);
                vst1q_f32(qp.add(c * LANES), q_new);
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
            let lambda = vdupq_n_f32(step.lambda);
            let eta_p = vdupq_n_f32(step.eta_p);
            let eta_q = vdupq_n_f32(step.eta_q);
            let mut gp_sq = [vdupq_n_f32(0.0); 2];
            let mut gq_sq = [vdupq_n_f32(0.0); 2];
            for c in 0..K / LANES {
                let pv = vld1q_f32(pp.add(c * LANES));
                let qv = vld1q_f32(qp.add(c * LANES));
                let gp = vfmsq_f32(vmulq_n_f32(qv, step.err), lambda, pv);
                let gq = vfmsq_f32(vmulq_n_f32(pv, step.err), lambda, qv);
                gp_sq[c % 2] = vfmaq_f32(gp_sq[c % 2], gp, gp);
                gq_sq[c % 2] = vfmaq_f32(gq_sq[c % 2], gq, gq);
                vst1q_f32(pp.add(c * LANES), vfmaq_f32(pv, eta_p, gp));
                vst1q_f32(qp.add(c * LANES), vfmaq_f32(qv, eta_q, gq));
            }
            (
                vaddvq_f32(vaddq_f32(gp_sq[0], gp_sq[1])),
                vaddvq_f32(vaddq_f32(gq_sq[0], gq_sq[1])),
            )
        }
    }
}

/// p·q.
///
/// # Safety
///
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn dot<const K: usize>(p: &FactorRow<K>, q: &FactorRow<K>) -> f32 {
    // SAFETY: this function's features are the caller's promise.
    unsafe { NeonOps::dot(p, q) }
}

/// The SGD step on two rows.
///
/// # Safety
///
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn update_rows<const K: usize>(
    p: &mut FactorRow<K>,
    q: &mut FactorRow<K>,
    step: Step,
) {
    // SAFETY: this function's features are the caller's promise.
    unsafe { NeonOps::update(p, q, step) }
}

/// One SGD pass over a validated block.
///
/// # Safety
///
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn train<const K: usize>(job: SgdJob<'_, '_, K>) -> f64 {
    // SAFETY: this function's features are the caller's promise.
    unsafe { crate::sgd::run::<NeonOps, K>(job) }
}

/// Prediction errors of a validated block.
///
/// # Safety
///
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn evaluate<const K: usize>(job: EvalJob<'_, '_, K>) -> LossStats {
    // SAFETY: this function's features are the caller's promise.
    unsafe { crate::loss::run::<NeonOps, K>(job) }
}
