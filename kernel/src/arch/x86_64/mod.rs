//! x86-64 backends: AVX2+FMA (8 lanes) and AVX-512F (16 lanes), and the
//! cpuid/XCR0 feature detection that works without `std`.

pub(crate) mod avx2;
pub(crate) mod avx512;
pub(crate) mod detect;

/// η / √a_p and η / √a_q in one `sqrtps` and one `divps` (lanes 2 and 3
/// hold 1.0 and are dropped), the same bits as two scalar square roots
/// and divisions (IEEE 754 rounds each lane correctly).
///
/// Inlined into an AVX or AVX-512 entry point, the compiler encodes these
/// with VEX. libm's `sqrtf` is inline assembly that always emits the
/// legacy-SSE `sqrtss`: inside AVX-512 code, with the upper halves of the
/// vector registers dirty, each one paid the SSE/AVX transition penalty,
/// and the adaptive schedule ran at 1.0–1.2 M updates/s against the
/// scalar backend's 4.7 (`block_rate`, K = 32, netflix block).
///
/// # Safety
///
/// The CPU must have SSE (every x86-64 CPU has).
#[inline(always)]
pub(crate) unsafe fn step_sizes(eta: f32, acc_p: f32, acc_q: f32) -> (f32, f32) {
    use core::arch::x86_64::*;
    // SAFETY: register-only SSE intrinsics; SSE is baseline on x86-64.
    unsafe {
        let acc = _mm_setr_ps(acc_p, acc_q, 1.0, 1.0);
        let sizes = _mm_div_ps(_mm_set1_ps(eta), _mm_sqrt_ps(acc));
        (
            _mm_cvtss_f32(sizes),
            _mm_cvtss_f32(_mm_shuffle_ps::<1>(sizes, sizes)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::step_sizes;

    /// The vector form gives the bits of the scalar reference's
    /// `η / libm::sqrtf(a)` for each lane, over accumulators from the
    /// initial 1.0 to large, tiny and subnormal values.
    #[test]
    fn step_sizes_are_the_scalar_reference_bit_for_bit() {
        let accumulators = [
            1.0f32,
            1.000_000_1,
            2.0,
            3.0,
            1.5e-3,
            7.25e5,
            f32::MIN_POSITIVE,
            1e-40,
            f32::MAX,
        ];
        for eta in [0.1f32, 0.005, 3.0e-7] {
            for &a in &accumulators {
                for &b in &accumulators {
                    // SAFETY: SSE is baseline on x86-64.
                    let (p, q) = unsafe { step_sizes(eta, a, b) };
                    assert_eq!(
                        p.to_bits(),
                        (eta / libm::sqrtf(a)).to_bits(),
                        "η {eta}, a {a}"
                    );
                    assert_eq!(
                        q.to_bits(),
                        (eta / libm::sqrtf(b)).to_bits(),
                        "η {eta}, a {b}"
                    );
                }
            }
        }
    }
}
