//! Run-time feature detection on x86-64.
//!
//! With the `std` feature this asks `std::is_x86_feature_detected!`;
//! without it, it reads cpuid and XCR0 itself (the same checks std makes:
//! the CPU reports the instructions *and* the OS saves the wider register
//! state). The answer is cached in an atomic after the first call.

use core::arch::x86_64::{__cpuid, __cpuid_count, _xgetbv, CpuidResult};
use core::sync::atomic::{AtomicU8, Ordering};

/// What the CPU and OS allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Features {
    /// AVX2 and FMA, YMM state saved by the OS.
    pub avx2_fma: bool,
    /// AVX-512F, ZMM and opmask state saved by the OS.
    pub avx512f: bool,
}

const PROBED: u8 = 1;
const AVX2_FMA: u8 = 2;
const AVX512F: u8 = 4;

static CACHE: AtomicU8 = AtomicU8::new(0);

/// The CPU's features (probed once, then cached).
pub(crate) fn features() -> Features {
    let mut bits = CACHE.load(Ordering::Relaxed);
    if bits & PROBED == 0 {
        bits = encode(probe()) | PROBED;
        CACHE.store(bits, Ordering::Relaxed);
    }
    Features {
        avx2_fma: bits & AVX2_FMA != 0,
        avx512f: bits & AVX512F != 0,
    }
}

fn encode(f: Features) -> u8 {
    (if f.avx2_fma { AVX2_FMA } else { 0 }) | (if f.avx512f { AVX512F } else { 0 })
}

#[cfg(feature = "std")]
fn probe() -> Features {
    Features {
        avx2_fma: std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma"),
        avx512f: std::is_x86_feature_detected!("avx512f"),
    }
}

#[cfg(not(feature = "std"))]
fn probe() -> Features {
    probe_cpuid()
}

fn bit(word: u32, n: u32) -> bool {
    word & (1 << n) != 0
}

/// Reads cpuid leaves 1 and 7 and XCR0.
#[cfg_attr(all(feature = "std", not(test)), allow(dead_code))]
pub(crate) fn probe_cpuid() -> Features {
    let none = Features {
        avx2_fma: false,
        avx512f: false,
    };
    let max_leaf = cpuid(0, 0).eax;
    if max_leaf < 7 {
        return none;
    }
    let leaf1 = cpuid(1, 0);
    let (osxsave, avx, fma) = (bit(leaf1.ecx, 27), bit(leaf1.ecx, 28), bit(leaf1.ecx, 12));
    if !(osxsave && avx) {
        return none;
    }
    // SAFETY: OSXSAVE is set, so XGETBV is enabled and XCR0 readable.
    let xcr0 = unsafe { read_xcr0() };
    // XCR0 bits 1, 2: SSE and AVX (YMM) state; 5, 6, 7: opmask, ZMM_Hi256
    // and Hi16_ZMM state.
    let ymm_saved = xcr0 & 0b110 == 0b110;
    let zmm_saved = xcr0 & 0b1110_0110 == 0b1110_0110;
    let leaf7 = cpuid(7, 0);
    let (avx2, avx512f) = (bit(leaf7.ebx, 5), bit(leaf7.ebx, 16));
    Features {
        avx2_fma: ymm_saved && avx2 && fma,
        avx512f: zmm_saved && avx512f,
    }
}

#[allow(unused_unsafe)] // `__cpuid_count` is a safe fn on newer toolchains
fn cpuid(leaf: u32, subleaf: u32) -> CpuidResult {
    let _ = __cpuid;
    // SAFETY: every x86-64 CPU has the cpuid instruction.
    unsafe { __cpuid_count(leaf, subleaf) }
}

/// # Safety
///
/// The CPU must have XSAVE enabled by the OS (cpuid leaf 1, ECX bit 27).
#[target_feature(enable = "xsave")]
unsafe fn read_xcr0() -> u64 {
    // SAFETY: the caller guarantees XGETBV is enabled; XCR0 is register 0.
    #[allow(unused_unsafe)]
    unsafe {
        _xgetbv(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuid_probe_agrees_with_std_detection() {
        let ours = probe_cpuid();
        assert_eq!(
            ours.avx2_fma,
            std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
        );
        assert_eq!(ours.avx512f, std::is_x86_feature_detected!("avx512f"));
    }

    #[test]
    fn cached_features_match_a_fresh_probe() {
        assert_eq!(features(), probe());
        assert_eq!(features(), features());
    }
}
