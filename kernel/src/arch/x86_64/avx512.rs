//! The AVX-512F backend: `__m512`, 16 lanes of f32 (one register per
//! cache line).

use core::arch::x86_64::*;

use crate::arch::vector::{Backend, Vector, WithVector};

impl Vector for __m512 {
    const BACKEND: Backend = Backend::Avx512;
    const LANES: usize = 16;
    const ACCUMULATORS: usize = 4;
    const FUSED: bool = true;

    // SAFETY (every method): AVX-512F is the caller's promise; loads and
    // stores read or write 16 f32 at a 64-byte-aligned address (the
    // trait's contract).
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        // SAFETY: see above.
        unsafe { _mm512_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn load(at: *const f32) -> Self {
        // SAFETY: see above.
        unsafe { _mm512_load_ps(at) }
    }
    #[inline(always)]
    unsafe fn store(self, at: *mut f32) {
        // SAFETY: see above.
        unsafe { _mm512_store_ps(at, self) }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        // SAFETY: see above.
        unsafe { _mm512_add_ps(self, b) }
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        // SAFETY: see above.
        unsafe { _mm512_mul_ps(self, b) }
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        // SAFETY: see above.
        unsafe { _mm512_fmadd_ps(self, b, c) }
    }
    #[inline(always)]
    unsafe fn mul_sub(self, b: Self, c: Self) -> Self {
        // SAFETY: see above.
        unsafe { _mm512_fmsub_ps(self, b, c) }
    }
    #[inline(always)]
    unsafe fn reduce_sum(self) -> f32 {
        // SAFETY: see above (register-only).
        unsafe { _mm512_reduce_add_ps(self) }
    }
    #[inline(always)]
    unsafe fn prefetch(at: *const u8) {
        // SAFETY: a prefetch never faults, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(at.cast::<i8>()) };
    }
    #[inline(always)]
    unsafe fn step_sizes(eta: f32, acc_p: f32, acc_q: f32) -> (f32, f32) {
        // SAFETY: SSE is baseline on x86-64.
        unsafe { super::step_sizes(eta, acc_p, acc_q) }
    }
}

/// Runs `job` with `__m512`, compiled for AVX-512F.
///
/// # Safety
///
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn run<J: WithVector>(job: J) -> J::Output {
    // SAFETY: this function's features are the caller's promise.
    unsafe { job.run::<__m512>() }
}
