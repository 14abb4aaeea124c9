//! The portable scalar reference: the definition of correct, and the
//! backend on targets without a SIMD path (thumbv7em, wasm32).
//!
//! Its vector is one `f32` lane that rounds every operation (no fused
//! multiply-add, which such targets may only emulate). [`dot`] and
//! [`update`] spell out the reference steps as plain loops, public so that
//! tests and callers can compare any backend against them.

use super::vector::{Backend, Vector, WithVector};
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
    for k in 0..K {
        let (pk, qk) = (p.0[k], q.0[k]);
        p.0[k] = pk + eta_p * (err * qk - lambda * pk);
        q.0[k] = qk + eta_q * (err * pk - lambda * qk);
    }
}

impl Vector for f32 {
    const BACKEND: Backend = Backend::Scalar;
    const LANES: usize = 1;
    const ACCUMULATORS: usize = 1;
    const FUSED: bool = false;

    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        x
    }
    #[inline(always)]
    unsafe fn load(at: *const f32) -> Self {
        // SAFETY: the caller's promise: `at` is valid for one f32.
        unsafe { *at }
    }
    #[inline(always)]
    unsafe fn store(self, at: *mut f32) {
        // SAFETY: the caller's promise: `at` is valid for one f32.
        unsafe { *at = self }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        self + b
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        self * b
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        self * b + c
    }
    #[inline(always)]
    unsafe fn mul_sub(self, b: Self, c: Self) -> Self {
        self * b - c
    }
    #[inline(always)]
    unsafe fn reduce_sum(self) -> f32 {
        self
    }
}

/// Runs `job` with the scalar vector.
pub(crate) fn run<J: WithVector>(job: J) -> J::Output {
    // SAFETY: the scalar vector needs no CPU feature.
    unsafe { job.run::<f32>() }
}
