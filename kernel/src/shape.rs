//! How the SGD loop runs a block, per backend and row length: the one
//! place where that is decided.
//!
//! The loop is written once (`crate::sgd`); these choices are the only
//! things that differ between ISAs, and each was measured (`block_rate`
//! and `cargo bench --bench kernel`, paired A/B runs on a shared 2-core
//! AVX-512 host, ratios of medians):
//!
//! - **Streams.** A block is visited as [`BLOCK_STREAMS`] contiguous runs
//!   taken round-robin, so that neighbouring updates touch different rows
//!   and overlap in the CPU; or as [`HELD_STREAMS`] runs where each run
//!   holds its current user's row in registers (see below).
//! - **Held user rows** (AVX-512 at 64 < K ≤ 128). A user row takes 5 to 8
//!   of AVX-512's 32 registers there, so each of two runs keeps its user's
//!   row (and bias, and accumulator) in registers for as long as its user
//!   lasts (≈ 6.5 ratings in a full-scale block): the row is loaded and
//!   stored once per user instead of once per rating, which halves the
//!   stores, the loop's limit there (K = 128: 1.32–1.43× on every block
//!   shape). AVX2 has too few registers to hold a row at those K, and with
//!   only two runs and the rows in memory it loses the overlap of sixteen
//!   (K = 128: 0.68–0.94×), so it keeps sixteen; at K ≤ 32, where its rows
//!   would fit (2 runs × 4 registers at K = 32), two held runs did not pay
//!   either (K = 16: 0.96–1.10×, K = 32: 0.64–1.04×) and would change its
//!   visiting order, so AVX2 holds no rows at any K.
//! - **Paired steps** (AVX-512 at K ≤ 32, both schedules). Two
//!   neighbouring ratings that share no row are computed at once, both
//!   first passes in flight; the four rows take at most 8 of the 32
//!   registers (K = 16: 1.08–1.10×, K = 32: 1.08–1.12×). With the
//!   adaptive schedule at K = 32 the gain is unsettled: 1.21× when each
//!   of its three sums had a shuffle tree of its own, 0.97× on the one
//!   block shape measured since they share one (`reduce_sum6`), too
//!   little to change the visiting order for. At K = 64 they take 16
//!   and the pair ran at 0.31–0.34× of one step at a time; at K = 128
//!   0.75–0.9×. On AVX2 the four rows take 8 (K = 16) or all 16
//!   (K = 32) of its registers, and the pair lost on every block shape
//!   (K = 16: 0.73–0.97×, K = 32: 0.80–0.88×), so AVX2 takes one step
//!   at a time. At K = 64 and 128 a pair with its rows read from memory
//!   (both first passes before either update, no registers held) did not
//!   pay on AVX2 either (constant schedule 0.93–1.04×, adaptive 0.91–1.06×).
//! - **Rows in registers** (AVX-512 up to K = 256, AVX2 and NEON up to
//!   K = 32). Each step loads its two rows once, for the first pass (the
//!   dot product, and the norms of the adaptive schedule) and the update,
//!   where they fit in the register file; where they do not, the update
//!   reads them again from L1. On AVX2 a row of K = 32 is 4 of its 16
//!   registers, and loading it once paid (K = 32, 7 block shapes, paired
//!   medians of 7 rounds: 1.01–1.10×, median 1.06×; K = 16: 1.02–1.04×;
//!   an earlier, noisier run of 5 rounds: 0.92–1.14× at K = 32); at
//!   K = 64 (two rows of 8 registers: the whole file) it lost
//!   (0.74–0.99×).
//! - **Item prefetch** up to K = 64. A block's item band (555 rows at full
//!   scale) stays in L2, and at K = 128 the eight prefetches per rating
//!   cost more than they hide (1.05–1.14× without them), while at K = 32
//!   and 64 they still pay (0.96–0.98× and 0.88–1.01× without).
//!
//! None of these changes the result: a paired step computes what the two
//! steps one after the other compute, and a row loaded once holds the
//! values it would be loaded again with. Only the number of runs (held
//! rows: [`HELD_STREAMS`] instead of [`BLOCK_STREAMS`]) changes the
//! visiting order, and with it the bits.
//!
//! NEON (32 registers of 128 bits: 512 bytes, the same as AVX2's 16 of
//! 256) takes AVX2's shape: the register-file size, not the register
//! count, is what decides whether rows fit. A row of K = 32 takes 8 NEON
//! registers, so its two rows fill half the file, as AVX2's do at K = 32
//! (rows in registers); two held runs or a pair at K = 32 would take all
//! 32 and leave the loop as short of registers as the pair left AVX2.
//! Its prefetch hint is a no-op, so the prefetch choice does not matter
//! there. The scalar reference (one lane: a row of K = 32 would be 32
//! registers) keeps its rows in memory and AVX2's order.

use crate::arch::vector::{Backend, Vector};
use crate::rowops::MAX_HELD_CHUNKS;

/// Contiguous runs of a block that are visited round-robin, so that
/// consecutive updates touch different rows and overlap in the CPU.
pub const BLOCK_STREAMS: usize = 16;

/// The runs of a block where the loop holds each run's current user row in
/// registers between its ratings.
pub const HELD_STREAMS: usize = 2;

/// The largest K at which item rows are prefetched.
const ITEM_PREFETCH_MAX_K: usize = 64;

/// The shape of the SGD loop for one backend and row length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LoopShape {
    /// Each run holds its current user's row and bias in registers
    /// ([`HELD_STREAMS`] runs).
    pub holds_user_rows: bool,
    /// Two steps of neighbouring runs that share no row run at once.
    pub pairs: bool,
    /// A step loads its rows once for the dot product and the update.
    pub rows_in_registers: bool,
    /// Item rows a few ratings ahead are prefetched.
    pub prefetch_items: bool,
}

impl LoopShape {
    /// The number of runs the block is split into.
    pub const fn streams(&self) -> usize {
        if self.holds_user_rows {
            HELD_STREAMS
        } else {
            BLOCK_STREAMS
        }
    }
}

/// The loop's shape for `backend` at row length `k` (see the module
/// documentation for the measurements behind each choice).
pub(crate) const fn loop_shape(backend: Backend, k: usize) -> LoopShape {
    let prefetch_items = k <= ITEM_PREFETCH_MAX_K;
    match backend {
        Backend::Avx512 => LoopShape {
            holds_user_rows: k > 64 && k <= 128,
            pairs: k <= 32,
            // 16 lanes: up to K = 256 (16 registers per row).
            rows_in_registers: k <= 256,
            prefetch_items,
        },
        Backend::Avx2 | Backend::Neon => LoopShape {
            holds_user_rows: false,
            pairs: false,
            // Up to K = 32: two rows take half the register file (AVX2: 8
            // of 16 registers; NEON: 16 of 32).
            rows_in_registers: k <= 32,
            prefetch_items,
        },
        Backend::Scalar => LoopShape {
            holds_user_rows: false,
            pairs: false,
            rows_in_registers: false,
            prefetch_items,
        },
    }
}

/// [`loop_shape`] for vector `V` at row length `K`, checked when the
/// loop is compiled: a shape that keeps rows in registers must have room
/// for them.
pub(crate) const fn shape_for<V: Vector, const K: usize>() -> LoopShape {
    let shape = loop_shape(V::BACKEND, K);
    assert!(
        !shape.rows_in_registers || K / V::LANES <= MAX_HELD_CHUNKS,
        "a loop shape keeps rows in registers that do not fit"
    );
    assert!(
        !shape.pairs || shape.rows_in_registers,
        "paired steps need the rows in registers"
    );
    shape
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shape the loop can take is one it can run: pairs and held
    /// rows need the rows in registers, and those need the rows to fit in
    /// the array that holds them.
    #[test]
    fn every_shape_is_runnable() {
        for backend in [
            Backend::Scalar,
            Backend::Avx2,
            Backend::Avx512,
            Backend::Neon,
        ] {
            let lanes = match backend {
                Backend::Scalar => 1,
                Backend::Neon => 4,
                Backend::Avx2 => 8,
                Backend::Avx512 => 16,
            };
            for k in (16..=1024).step_by(16) {
                let shape = loop_shape(backend, k);
                if shape.pairs || shape.holds_user_rows {
                    assert!(shape.rows_in_registers, "{backend:?} K={k}");
                }
                if shape.rows_in_registers {
                    assert!(k / lanes <= MAX_HELD_CHUNKS, "{backend:?} K={k}");
                }
                assert!(!(shape.pairs && shape.holds_user_rows));
            }
        }
    }
}
