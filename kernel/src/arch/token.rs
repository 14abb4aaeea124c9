//! CPU-feature tokens: zero-sized proofs that a feature is present.
//!
//! A token can only be obtained from its `new()`, which checks the CPU (or
//! knows the feature is baseline). On an architecture where the feature
//! cannot exist the token type is uninhabited, so [`Isa`](crate::Isa)
//! variants holding it can be named, matched and compiled everywhere but
//! never built.

/// The private proof inside a token on an architecture that can have the
/// feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(dead_code)] // unused on targets with no SIMD backend (thumbv7em, wasm32)
struct Present;

/// The private proof inside a token on an architecture that cannot have
/// the feature: no value exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(dead_code)]
enum Absent {}

#[cfg(target_arch = "x86_64")]
type X86Proof = Present;
#[cfg(not(target_arch = "x86_64"))]
type X86Proof = Absent;
#[cfg(target_arch = "aarch64")]
type ArmProof = Present;
#[cfg(not(target_arch = "aarch64"))]
type ArmProof = Absent;

/// Proof that the CPU runs AVX2 and FMA and the OS saves the YMM state.
///
/// # Examples
///
/// ```
/// use funk_kernel::{Avx2FmaToken, Isa};
/// if let Some(token) = Avx2FmaToken::new() {
///     assert_eq!(Isa::Avx2Fma(token).name(), "avx2");
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Avx2FmaToken(X86Proof);

/// Proof that the CPU runs AVX-512F and the OS saves the ZMM state.
///
/// # Examples
///
/// ```
/// use funk_kernel::{Avx512Token, Isa};
/// if let Some(token) = Avx512Token::new() {
///     assert_eq!(Isa::Avx512(token).name(), "avx512");
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Avx512Token(X86Proof);

/// Proof that the CPU runs aarch64 Advanced SIMD (NEON).
///
/// # Examples
///
/// ```
/// use funk_kernel::NeonToken;
/// assert_eq!(NeonToken::new().is_some(), cfg!(target_arch = "aarch64"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NeonToken(ArmProof);

impl Avx2FmaToken {
    /// The token, if this CPU has AVX2 and FMA (with OS support).
    pub fn new() -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        {
            crate::arch::x86_64::detect::features()
                .avx2_fma
                .then_some(Self(Present))
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            None
        }
    }

    /// Proves that code holding this token can never run here.
    #[cfg(not(target_arch = "x86_64"))]
    pub(crate) fn unreachable(self) -> ! {
        match self.0 {}
    }
}

impl Avx512Token {
    /// The token, if this CPU has AVX-512F (with OS support).
    pub fn new() -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        {
            crate::arch::x86_64::detect::features()
                .avx512f
                .then_some(Self(Present))
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            None
        }
    }

    /// Proves that code holding this token can never run here.
    #[cfg(not(target_arch = "x86_64"))]
    pub(crate) fn unreachable(self) -> ! {
        match self.0 {}
    }
}

impl NeonToken {
    /// The token, if this CPU has NEON: always on aarch64 (where it is part
    /// of the baseline), never elsewhere.
    pub fn new() -> Option<Self> {
        #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
        {
            Some(Self(Present))
        }
        #[cfg(all(target_arch = "aarch64", not(target_feature = "neon")))]
        {
            #[cfg(feature = "std")]
            {
                std::arch::is_aarch64_feature_detected!("neon").then_some(Self(Present))
            }
            #[cfg(not(feature = "std"))]
            {
                None
            }
        }
        #[cfg(not(target_arch = "aarch64"))]
        {
            None
        }
    }

    /// Proves that code holding this token can never run here.
    #[cfg(not(target_arch = "aarch64"))]
    pub(crate) fn unreachable(self) -> ! {
        match self.0 {}
    }
}
