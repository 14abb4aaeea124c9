//! The `uint32_t` codes of the parameter structs, checked into the
//! kernel's types.

use funk_kernel::{Isa, LearningRate, ModelKind};

use crate::{FunkIsa, FunkModelKind, FunkSchedule, FunkStatus};

/// The model kind with code `code` (a `FunkModelKind`).
pub(crate) fn model(code: u32) -> Result<ModelKind, FunkStatus> {
    match code {
        c if c == FunkModelKind::Plain as u32 => Ok(ModelKind::Plain),
        c if c == FunkModelKind::Biased as u32 => Ok(ModelKind::Biased),
        _ => Err(FunkStatus::UnknownModel),
    }
}

/// The schedule with code `code` (a `FunkSchedule`); `decay` is used by
/// the decaying one only (and validated by `HyperParams::new`).
pub(crate) fn schedule(code: u32, decay: f32) -> Result<LearningRate, FunkStatus> {
    match code {
        c if c == FunkSchedule::Constant as u32 => Ok(LearningRate::Constant),
        c if c == FunkSchedule::Decay as u32 => Ok(LearningRate::Decay { decay }),
        c if c == FunkSchedule::Adaptive as u32 => Ok(LearningRate::Adaptive),
        _ => Err(FunkStatus::UnknownSchedule),
    }
}

/// The instruction set with code `code` (a `FunkIsa`), if this CPU has it.
pub(crate) fn isa(code: u32) -> Result<Isa, FunkStatus> {
    let name = match code {
        c if c == FunkIsa::Auto as u32 => return Ok(Isa::detect()),
        c if c == FunkIsa::Scalar as u32 => "scalar",
        c if c == FunkIsa::Avx2 as u32 => "avx2",
        c if c == FunkIsa::Avx512 as u32 => "avx512",
        c if c == FunkIsa::Neon as u32 => "neon",
        _ => return Err(FunkStatus::UnknownIsa),
    };
    Isa::from_name(name).ok_or(FunkStatus::IsaUnavailable)
}

/// Whether `k` is one of the row lengths the entry points are compiled
/// for.
pub(crate) const fn k_supported(k: u32) -> bool {
    matches!(k, 16 | 32 | 64 | 128)
}

/// Calls `$f::<K>(args)` with the const `K` equal to the run-time `$k`,
/// for each supported row length; `FunkStatus::UnsupportedK` for any
/// other. Keep in step with [`k_supported`].
macro_rules! dispatch_k {
    ($k:expr, $f:ident($($arg:expr),* $(,)?)) => {
        match $k {
            16 => $f::<16>($($arg),*),
            32 => $f::<32>($($arg),*),
            64 => $f::<64>($($arg),*),
            128 => $f::<128>($($arg),*),
            _ => Err($crate::FunkStatus::UnsupportedK),
        }
    };
}
pub(crate) use dispatch_k;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatch_covers_exactly_the_supported_ks() {
        fn k_of<const K: usize>() -> Result<usize, FunkStatus> {
            Ok(K)
        }
        for k in 0..=300u32 {
            let got = dispatch_k!(k, k_of());
            assert_eq!(got.is_ok(), k_supported(k), "k = {k}");
            if let Ok(v) = got {
                assert_eq!(v, k as usize);
            }
        }
    }

    #[test]
    fn unknown_codes_are_refused() {
        assert_eq!(model(2), Err(FunkStatus::UnknownModel));
        assert_eq!(schedule(3, 0.0), Err(FunkStatus::UnknownSchedule));
        assert_eq!(isa(5).unwrap_err(), FunkStatus::UnknownIsa);
        assert_eq!(isa(FunkIsa::Scalar as u32), Ok(Isa::Scalar));
        assert_eq!(isa(FunkIsa::Auto as u32), Ok(Isa::detect()));
    }
}
