//! # funk-kernel
//!
//! The `#![no_std]` numeric core of funk: Simon Funk's stochastic "SVD"
//! (regularised low-rank matrix factorisation trained by SGD).
//!
//! It owns the numbers and nothing else: fixed-size aligned factor rows
//! ([`FactorRow`]), the rating record ([`Rating`]), validated
//! hyper-parameters ([`HyperParams`]), the per-rating update in a scalar
//! reference and explicit SIMD paths chosen at run time from a CPU-feature
//! token ([`Isa`]), the cache-blocked block trainer ([`train_block`]), loss,
//! full gradients, the gradient check and divergence detection.
//!
//! No allocation, no I/O, no threads, no global ids: a block's rows and
//! ratings are handed in by the caller.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod arch;
mod band;
mod block;
mod params;
mod rating;
mod row;

pub use arch::Isa;
pub use band::Band;
pub use block::{train_block, BlockStats, KernelError};
pub use params::{HyperParams, LearningRate, ModelKind, ParamError};
pub use rating::Rating;
pub use row::FactorRow;
