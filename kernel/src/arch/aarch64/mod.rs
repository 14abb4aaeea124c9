//! aarch64 backend: Advanced SIMD (NEON), part of the aarch64 baseline.

pub(crate) mod neon;
