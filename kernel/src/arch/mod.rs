//! Instruction-set backends. Every backend exposes the same operations
//! (`dot`, `update`); [`Isa`] picks one at run time from a CPU-feature token.

pub mod scalar;

use crate::FactorRow;

/// An instruction set the kernel can run on. A SIMD variant can only be
/// built from a token that proves the CPU has the feature, so calling
/// through an `Isa` is always safe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Isa {
    /// The portable scalar reference: the definition of correct.
    Scalar,
}

impl Isa {
    /// The best instruction set this CPU offers.
    pub fn detect() -> Self {
        Isa::Scalar
    }

    /// A short, stable name (`scalar`, `avx2`, `avx512`, `neon`).
    pub const fn name(&self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
        }
    }

    /// p·q.
    #[inline]
    pub fn dot<const K: usize>(&self, p: &FactorRow<K>, q: &FactorRow<K>) -> f32 {
        match self {
            Isa::Scalar => scalar::dot(p, q),
        }
    }

    /// The factor part of one SGD step, both gradients from the old values:
    /// p += η_p (e q − λ p), q += η_q (e p − λ q).
    #[inline]
    pub fn update<const K: usize>(
        &self,
        p: &mut FactorRow<K>,
        q: &mut FactorRow<K>,
        err: f32,
        eta_p: f32,
        eta_q: f32,
        lambda: f32,
    ) {
        match self {
            Isa::Scalar => scalar::update(p, q, err, eta_p, eta_q, lambda),
        }
    }
}
