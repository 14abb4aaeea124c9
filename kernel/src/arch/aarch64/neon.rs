//! The NEON backend: `float32x4_t`, 4 lanes of f32.

use core::arch::aarch64::*;

use crate::arch::vector::{Backend, Vector, WithVector};

impl Vector for float32x4_t {
    const BACKEND: Backend = Backend::Neon;
    const LANES: usize = 4;
    const ACCUMULATORS: usize = 4;
    const FUSED: bool = true;

    // SAFETY (every method): NEON is the caller's promise; loads and stores
    // read or write 4 f32 at a valid address (the trait's contract).
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        // SAFETY: see above.
        unsafe { vdupq_n_f32(x) }
    }
    #[inline(always)]
    unsafe fn load(at: *const f32) -> Self {
        // SAFETY: see above.
        unsafe { vld1q_f32(at) }
    }
    #[inline(always)]
    unsafe fn store(self, at: *mut f32) {
        // SAFETY: see above.
        unsafe { vst1q_f32(at, self) }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        // SAFETY: see above.
        unsafe { vaddq_f32(self, b) }
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        // SAFETY: see above.
        unsafe { vmulq_f32(self, b) }
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        // SAFETY: see above.
        unsafe { vfmaq_f32(c, self, b) }
    }
    /// self · b + (−c): IEEE 754 defines x − y as x + (−y), so this is a
    /// fused multiply-subtract to the bit, signed zeros included.
    #[inline(always)]
    unsafe fn mul_sub(self, b: Self, c: Self) -> Self {
        // SAFETY: see above.
        unsafe { vfmaq_f32(vnegq_f32(c), self, b) }
    }
    #[inline(always)]
    unsafe fn reduce_sum(self) -> f32 {
        // SAFETY: see above (register-only).
        unsafe { vaddvq_f32(self) }
    }
}

/// Runs `job` with `float32x4_t`, compiled for NEON.
///
/// # Safety
///
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn run<J: WithVector>(job: J) -> J::Output {
    // SAFETY: this function's features are the caller's promise.
    unsafe { job.run::<float32x4_t>() }
}
