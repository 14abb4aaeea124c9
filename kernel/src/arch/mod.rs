//! Instruction-set backends.
//!
//! At the bottom, the private `vector::Vector` trait: a register of f32 lanes
//! with the operations the kernel's loops need. One folder per ISA
//! (`x86_64/avx2`, `x86_64/avx512`, `aarch64/neon`) plus the portable
//! [`scalar`] reference; each holds its vector type's implementation of
//! that trait and one `#[target_feature]` entry point, `run`, that runs
//! any job generic over the vector (the dot product, one update, the SGD
//! pass, the evaluation pass) with its own vector, so the job inlines into
//! one loop compiled for that ISA. The row operations and loops themselves
//! are written once, above this module.
//!
//! [`Isa`] picks a backend at run time. A SIMD variant holds a token (see
//! [`token`]) that can only be made where the CPU has the feature, so every
//! call through an `Isa` is safe; the ISA is matched once per block, never
//! per rating.

pub mod scalar;
pub mod token;
pub(crate) mod vector;

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "x86_64")]
mod x86_64;

use core::fmt;

pub use token::{Avx2FmaToken, Avx512Token, NeonToken};
use vector::{Backend, WithVector};

/// An instruction set the kernel can run on.
///
/// A SIMD variant can only be built from a token that proves the CPU has
/// the feature, so calling through an `Isa` is always safe. Every variant
/// exists on every target; on a foreign architecture its token type is
/// uninhabited, so the variant can never be built there.
///
/// # Examples
///
/// ```
/// use funk_kernel::{FactorRow, Isa};
/// let isa = Isa::detect();
/// assert_eq!(Isa::from_name(isa.name()), Some(isa));
/// let p = FactorRow::<16>::splat(1.0);
/// let q = FactorRow::<16>::splat(0.5);
/// assert_eq!(isa.dot(&p, &q), 8.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Isa {
    /// The portable scalar reference: the definition of correct.
    Scalar,
    /// x86-64 AVX2 with FMA (8 lanes of f32).
    Avx2Fma(Avx2FmaToken),
    /// x86-64 AVX-512F (16 lanes of f32).
    Avx512(Avx512Token),
    /// aarch64 Advanced SIMD (4 lanes of f32).
    Neon(NeonToken),
}

/// Runs `job` in the backend of `isa`, with that backend's vector type.
/// The match happens once, outside any loop over ratings.
#[inline]
pub(crate) fn dispatch<J: WithVector>(isa: Isa, job: J) -> J::Output {
    match isa {
        Isa::Scalar => scalar::run(job),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma(_) => {
            // SAFETY: an `Avx2FmaToken` exists only where cpuid (or std's
            // detection) reported AVX2 and FMA with OS support.
            unsafe { x86_64::avx2::run(job) }
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512(_) => {
            // SAFETY: an `Avx512Token` exists only where AVX-512F is
            // reported with OS support for the ZMM state.
            unsafe { x86_64::avx512::run(job) }
        }
        #[cfg(target_arch = "aarch64")]
        Isa::Neon(_) => {
            // SAFETY: a `NeonToken` exists only where NEON is present (it
            // is baseline on aarch64).
            unsafe { aarch64::neon::run(job) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Isa::Avx2Fma(token) => token.unreachable(),
        #[cfg(not(target_arch = "x86_64"))]
        Isa::Avx512(token) => token.unreachable(),
        #[cfg(not(target_arch = "aarch64"))]
        Isa::Neon(token) => token.unreachable(),
    }
}

impl Isa {
    /// The best instruction set this CPU offers (the last of
    /// [`Isa::available`]). Works without `std`: on x86-64 it reads cpuid
    /// and XCR0 itself (once; the answer is cached).
    pub fn detect() -> Self {
        let all = Self::available();
        all.last().copied().unwrap_or(Isa::Scalar)
    }

    /// Every instruction set this CPU can run, from the scalar reference
    /// up to the best.
    pub fn available() -> heapless::Vec<Isa, 4> {
        let mut all = heapless::Vec::new();
        let candidates = [
            Some(Isa::Scalar),
            Avx2FmaToken::new().map(Isa::Avx2Fma),
            Avx512Token::new().map(Isa::Avx512),
            NeonToken::new().map(Isa::Neon),
        ];
        for isa in candidates.into_iter().flatten() {
            // Four candidates, capacity four: the push cannot fail.
            let _ = all.push(isa);
        }
        all
    }

    /// A short, stable name: `scalar`, `avx2`, `avx512` or `neon`.
    pub const fn name(&self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2Fma(_) => "avx2",
            Isa::Avx512(_) => "avx512",
            Isa::Neon(_) => "neon",
        }
    }

    /// The instruction set called `name` (see [`Isa::name`]), or `None` if
    /// the name is unknown or this CPU lacks it.
    pub fn from_name(name: &str) -> Option<Isa> {
        Self::available().into_iter().find(|isa| isa.name() == name)
    }

    /// The backend this ISA runs in.
    pub(crate) const fn backend(&self) -> Backend {
        match self {
            Isa::Scalar => Backend::Scalar,
            Isa::Avx2Fma(_) => Backend::Avx2,
            Isa::Avx512(_) => Backend::Avx512,
            Isa::Neon(_) => Backend::Neon,
        }
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
