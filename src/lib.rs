//! Facade over the two crates of funk, so that the cross-crate tests in
//! `tests/` and the benchmarks in `benches/` reach both through one name.
//!
//! - [`kernel`]: funk-kernel, the `#![no_std]` numeric core.
//! - [`daemon`]: funkd, files, threads, the service and the CLI.

pub use funk_kernel as kernel;
pub use funkd as daemon;

// The Rust examples in the README run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
