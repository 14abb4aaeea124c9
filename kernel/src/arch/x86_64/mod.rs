//! x86-64 backends: AVX2+FMA (8 lanes) and AVX-512F (16 lanes), and the
//! cpuid/XCR0 feature detection that works without `std`.

pub(crate) mod avx2;
pub(crate) mod avx512;
pub(crate) mod detect;
