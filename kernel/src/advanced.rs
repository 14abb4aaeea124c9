//! The visiting order of a block, for callers who replay or check what
//! [`BlockTrainer::train`](crate::BlockTrainer::train) does step by step.
//!
//! Nothing here is needed to train: the trainer chooses the order itself.
//! It is public so that a test (or a port of the trainer) can apply the
//! same steps one rating at a time and compare the bits.
//!
//! A block of `len` ratings is split into `streams` contiguous runs of
//! ⌈len / streams⌉ ratings, visited round-robin: rating 0, then the first
//! of run 1, …, then rating 1, …. How many runs depends on the ISA and the
//! row length ([`block_streams`]).
//!
//! # Examples
//!
//! ```
//! use funk_kernel::{advanced, Isa};
//! let order: Vec<usize> = advanced::block_visit_order(5, 2).collect();
//! assert_eq!(order, [0, 3, 1, 4, 2]);
//! let streams = advanced::block_streams(Isa::Scalar, 32);
//! assert_eq!(streams, advanced::BLOCK_STREAMS);
//! let kept: Vec<usize> = advanced::block_visit_order_skipping(5, 2, &[3]).collect();
//! assert_eq!(kept, [0, 1, 4, 2]);
//! ```

use crate::Isa;

pub use crate::sgd::{block_visit_order, block_visit_order_skipping};
pub use crate::shape::{BLOCK_STREAMS, HELD_STREAMS};

/// Into how many contiguous runs, visited round-robin, `isa`'s trainer
/// splits a block of rows of length `k`.
pub const fn block_streams(isa: Isa, k: usize) -> usize {
    crate::shape::loop_shape(isa.backend(), k).streams()
}
