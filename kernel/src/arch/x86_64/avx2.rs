//! The AVX2+FMA backend: `__m256`, 8 lanes of f32.

use core::arch::x86_64::*;

use crate::arch::vector::{Backend, Vector, WithVector};

impl Vector for __m256 {
    const BACKEND: Backend = Backend::Avx2;
    const LANES: usize = 8;
    const ACCUMULATORS: usize = 4;
    const FUSED: bool = true;

    // SAFETY (every method): AVX2 and FMA are the caller's promise; loads
    // and stores read or write 8 f32 at a 32-byte-aligned address (the
    // trait's contract).
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        // SAFETY: see above.
        unsafe { _mm256_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn load(at: *const f32) -> Self {
        // SAFETY: see above.
        unsafe { _mm256_load_ps(at) }
    }
    #[inline(always)]
    unsafe fn store(self, at: *mut f32) {
        // SAFETY: see above.
        unsafe { _mm256_store_ps(at, self) }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        // SAFETY: see above.
        unsafe { _mm256_add_ps(self, b) }
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        // SAFETY: see above.
        unsafe { _mm256_mul_ps(self, b) }
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        // SAFETY: see above.
        unsafe { _mm256_fmadd_ps(self, b, c) }
    }
    #[inline(always)]
    unsafe fn mul_sub(self, b: Self, c: Self) -> Self {
        // SAFETY: see above.
        unsafe { _mm256_fmsub_ps(self, b, c) }
    }
    /// ((v0 + v4) + (v2 + v6)) + ((v1 + v5) + (v3 + v7)).
    #[inline(always)]
    unsafe fn reduce_sum(self) -> f32 {
        // SAFETY: see above (register-only AVX/SSE3 operations).
        unsafe {
            let halves = _mm_add_ps(
                _mm256_castps256_ps128(self),
                _mm256_extractf128_ps::<1>(self),
            );
            let pairs = _mm_add_ps(halves, _mm_movehl_ps(halves, halves));
            _mm_cvtss_f32(_mm_add_ss(pairs, _mm_movehdup_ps(pairs)))
        }
    }
    /// One shuffle tree for the three sums: each is added up in
    /// [`Vector::reduce_sum`]'s order (lanes 4 apart, then 2, then 1), so
    /// the same bits, in 8 shuffles and 4 additions instead of 9 and 9.
    #[inline(always)]
    unsafe fn reduce_sum3(v: [Self; 3]) -> [f32; 3] {
        // SAFETY: see above (register-only AVX operations).
        unsafe {
            let [pq, pp, qq] = v;
            // Lanes 4 apart: [pq′ | pp′] and [qq′ | qq′] (4 lanes each).
            let r1 = _mm256_add_ps(
                _mm256_permute2f128_ps::<0x20>(pq, pp),
                _mm256_permute2f128_ps::<0x31>(pq, pp),
            );
            let r2 = _mm256_add_ps(qq, _mm256_permute2f128_ps::<0x01>(qq, qq));
            // 2 apart: per 128-bit lane [r1 r1 r2 r2].
            let z = _mm256_add_ps(
                _mm256_shuffle_ps::<0b01_00_01_00>(r1, r2),
                _mm256_shuffle_ps::<0b11_10_11_10>(r1, r2),
            );
            // 1 apart: pq in lane 0, qq in 2, pp in 4.
            let f = _mm256_add_ps(z, _mm256_movehdup_ps(z));
            let low = _mm256_castps256_ps128(f);
            [
                _mm_cvtss_f32(low),
                _mm_cvtss_f32(_mm256_extractf128_ps::<1>(f)),
                _mm_cvtss_f32(_mm_movehl_ps(low, low)),
            ]
        }
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

/// Runs `job` with `__m256`, compiled for AVX2 and FMA.
///
/// # Safety
///
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn run<J: WithVector>(job: J) -> J::Output {
    // SAFETY: this function's features are the caller's promise.
    unsafe { job.run::<__m256>() }
}
