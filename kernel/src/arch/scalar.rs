//! The portable scalar reference: the definition of correct, and the
//! backend on targets without a SIMD path (thumbv7em, wasm32).
//!
//! [`dot`] and [`update`] are public so that tests and callers can compare
//! any backend against them.

use super::{RowOps, Step};
use crate::loss::{EvalJob, LossStats};
use crate::sgd::SgdJob;
use crate::FactorRow;

/// p·q, summed left to right.
///
/// # Examples
///
/// ```
/// use funk_kernel::{arch::scalar, FactorRow};
/// let p = FactorRow::<16>::splat(2.0);
/// assert_eq!(scalar::dot(&p, &p), 64.0);
/// ```
#[inline]
pub fn dot<const K: usize>(p: &FactorRow<K>, q: &FactorRow<K>) -> f32 {
    let mut sum = 0.0f32;
    for k in 0..K {
        sum += p.0[k] * q.0[k];
    }
    sum
}

/// p += η_p (e q − λ p), q += η_q (e p − λ q), both from the old values.
///
/// # Examples
///
/// ```
/// use funk_kernel::{arch::scalar, FactorRow};
/// let mut p = FactorRow::<16>::splat(1.0);
/// let mut q = FactorRow::<16>::splat(0.0);
/// scalar::update(&mut p, &mut q, 1.0, 0.5, 0.5, 0.0);
/// assert_eq!((p.0[0], q.0[0]), (1.0, 0.5));
/// ```
#[inline]
pub fn update<const K: usize>(
    p: &mut FactorRow<K>,
    q: &mut FactorRow<K>,
    err: f32,
    eta_p: f32,
    eta_q: f32,
    lambda: f32,
) {
    update_rows(
        p,
        q,
        Step {
            err,
            eta_p,
            eta_q,
            lambda,
        },
    );
}

/// The scalar row operations.
pub(crate) struct ScalarOps;

impl RowOps for ScalarOps {
    #[inline(always)]
    unsafe fn dot<const K: usize>(p: &FactorRow<K>, q: &FactorRow<K>) -> f32 {
        dot(p, q)
    }

    #[inline(always)]
    unsafe fn update<const K: usize>(p: &mut FactorRow<K>, q: &mut FactorRow<K>, step: Step) {
        update_rows(p, q, step);
    }

    #[inline(always)]
    unsafe fn update_adaptive<const K: usize>(
        p: &mut FactorRow<K>,
        q: &mut FactorRow<K>,
        step: Step,
    ) -> (f32, f32) {
        let Step {
            err,
            eta_p,
            eta_q,
            lambda,
        } = step;
        let (mut gp_sq, mut gq_sq) = (0.0f32, 0.0f32);
        for k in 0..K {
            let (pk, qk) = (p.0[k], q.0[k]);
            let gp = err * qk - lambda * pk;
            let gq = err * pk - lambda * qk;
            p.0[k] = pk + eta_p * gp;
            q.0[k] = qk + eta_q * gq;
            gp_sq += gp * gp;
            gq_sq += gq * gq;
        }
        (gp_sq, gq_sq)
    }
}

#[inline]
pub(crate) fn update_rows<const K: usize>(p: &mut FactorRow<K>, q: &mut FactorRow<K>, step: Step) {
    let Step {
        err,
        eta_p,
        eta_q,
        lambda,
    } = step;
    for k in 0..K {
        let (pk, qk) = (p.0[k], q.0[k]);
        p.0[k] = pk + eta_p * (err * qk - lambda * pk);
        q.0[k] = qk + eta_q * (err * pk - lambda * qk);
    }
}

/// One SGD pass over a validated block.
pub(crate) fn train<const K: usize>(job: SgdJob<'_, '_, K>) -> f64 {
    // SAFETY: the scalar operations need no CPU feature.
    unsafe { crate::sgd::run::<ScalarOps, K>(job) }
}

/// Prediction errors of a validated block.
pub(crate) fn evaluate<const K: usize>(job: EvalJob<'_, '_, K>) -> LossStats {
    // SAFETY: the scalar operations need no CPU feature.
    unsafe { crate::loss::run::<ScalarOps, K>(job) }
}
