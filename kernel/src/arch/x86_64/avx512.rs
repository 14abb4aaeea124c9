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
    /// One shuffle tree for the three sums: each is added up in
    /// `_mm512_reduce_add_ps`'s order (lanes 8 apart, then 4, 2, 1), so
    /// the same bits, in 9 shuffles and 5 additions instead of 12 and 12.
    #[inline(always)]
    unsafe fn reduce_sum3(v: [Self; 3]) -> [f32; 3] {
        // SAFETY: see above (register-only).
        unsafe {
            let [pq, pp, qq] = v;
            // Lanes 8 apart: [pq′ | pp′] and [qq′ | qq′] (8 lanes each).
            let r1 = halves(pq, pp);
            let r2 = _mm512_add_ps(qq, _mm512_shuffle_f32x4::<0b01_00_11_10>(qq, qq));
            // 4 apart: [pq″, pp″, qq″, qq″] (4 lanes each).
            let t = quarters(r1, r2);
            // 2 apart, then 1: the sums in lanes 0, 4 and 8.
            let z = _mm512_add_ps(t, _mm512_shuffle_ps::<0b01_00_11_10>(t, t));
            let f = _mm512_add_ps(z, _mm512_movehdup_ps(z));
            [
                _mm512_cvtss_f32(f),
                _mm_cvtss_f32(_mm512_extractf32x4_ps::<1>(f)),
                _mm_cvtss_f32(_mm512_extractf32x4_ps::<2>(f)),
            ]
        }
    }
    /// One shuffle tree for the six sums of two steps, each in
    /// `_mm512_reduce_add_ps`'s order, so the same bits, in 17 shuffles and
    /// 7 additions instead of 24 and 24.
    #[inline(always)]
    unsafe fn reduce_sum6(v: [Self; 6]) -> [f32; 6] {
        // SAFETY: see above (register-only).
        unsafe {
            let [pq_a, pp_a, qq_a, pq_b, pp_b, qq_b] = v;
            // Lanes 8 apart, two vectors at a time.
            let r1 = halves(pq_a, pq_b);
            let r2 = halves(pp_a, qq_a);
            let r3 = halves(pp_b, qq_b);
            // 4 apart: [pq_a, pq_b, pp_a, qq_a] and [pp_b, pp_b, qq_b, qq_b].
            let t1 = quarters(r1, r2);
            let t2 = _mm512_add_ps(r3, _mm512_shuffle_f32x4::<0b10_11_00_01>(r3, r3));
            // 2 apart, both at once: per 128-bit lane [t1 t1 t2 t2].
            let z = _mm512_add_ps(
                _mm512_shuffle_ps::<0b01_00_01_00>(t1, t2),
                _mm512_shuffle_ps::<0b11_10_11_10>(t1, t2),
            );
            // 1 apart: t1's sums in lanes 0, 4, 8, 12, t2's in 2, 6, 10, 14.
            let f = _mm512_add_ps(z, _mm512_movehdup_ps(z));
            let lane = |x: __m128| _mm_cvtss_f32(x);
            let high = |x: __m128| _mm_cvtss_f32(_mm_movehl_ps(x, x));
            let (l0, l2) = (_mm512_castps512_ps128(f), _mm512_extractf32x4_ps::<2>(f));
            [
                lane(l0),
                lane(l2),
                lane(_mm512_extractf32x4_ps::<3>(f)),
                lane(_mm512_extractf32x4_ps::<1>(f)),
                high(l0),
                high(l2),
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

/// [a′ | b′]: each vector's lanes 8 apart added (a′_j = a_j + a_{j+8}), a's
/// in the low 256 bits, b's in the high.
///
/// # Safety
///
/// The CPU must have AVX-512F.
#[inline(always)]
unsafe fn halves(a: __m512, b: __m512) -> __m512 {
    // SAFETY: register-only AVX-512F; the caller's promise.
    unsafe {
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0b01_00_01_00>(a, b),
            _mm512_shuffle_f32x4::<0b11_10_11_10>(a, b),
        )
    }
}

/// Of two [`halves`] results [a′ | b′] and [c′ | d′], each 8-lane sum's
/// lanes 4 apart added: [a″, b″, c″, d″], one 128-bit lane each.
///
/// # Safety
///
/// The CPU must have AVX-512F.
#[inline(always)]
unsafe fn quarters(ab: __m512, cd: __m512) -> __m512 {
    // SAFETY: register-only AVX-512F; the caller's promise.
    unsafe {
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0b10_00_10_00>(ab, cd),
            _mm512_shuffle_f32x4::<0b11_01_11_01>(ab, cd),
        )
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
