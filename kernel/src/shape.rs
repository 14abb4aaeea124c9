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
//!   row (and bias) in registers for as long as its user lasts (≈ 6.5
//!   ratings in a full-scale block): the row is loaded and stored once per
//!   user instead of once per rating, which halves the stores, the loop's
//!   limit there (K = 128: 1.32–1.43× on every block shape). AVX2 has too
//!   few registers to hold a row at those K, and with only two runs and
//!   the rows in memory it loses the overlap of sixteen (K = 128:
//!   0.68–0.94×), so it keeps sixteen.
//! - **Paired steps** (AVX-512 at K ≤ 32). Two neighbouring ratings that
//!   share no row are computed at once, both dot products in flight; the
//!   four rows take at most 8 of the 32 registers (K = 16: 1.08–1.10×,
//!   K = 32: 1.08–1.12×). At K = 64 they take 16 and the pair ran at
//!   0.31–0.34× of one step at a time; at K = 128 0.75–0.9×.
//! - **Rows in registers.** Each step loads its two rows once, for the dot
//!   product and the update, where they fit in the register file; where
//!   they do not, the update reads them again from L1.
//! - **Item prefetch** up to K = 64. A block's item band (555 rows at full
//!   scale) stays in L2, and at K = 128 the eight prefetches per rating
//!   cost more than they hide (1.05–1.14× without them), while at K = 32
//!   and 64 they still pay (0.96–0.98× and 0.88–1.01× without).
//!
//! NEON (32 registers of 128 bits: 512 bytes, the same as AVX2's 16 of
//! 256) takes AVX2's shape: the register-file size, not the register
//! count, is what decides whether rows fit, and a row of K = 32 already
//! takes 8 registers, so two held runs or a pair at K = 32 would leave the
//! loop as short of registers as AVX2 is. Its prefetch hint is a no-op, so
//! the prefetch choice does not matter there; the same holds for the
//! scalar reference, which also keeps AVX2's order.

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
    /// ([`HELD_STREAMS`] runs; non-adaptive schedules).
    pub holds_user_rows: bool,
    /// Two steps of neighbouring runs that share no row run at once
    /// (non-adaptive schedules).
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
        Backend::Avx2 | Backend::Neon | Backend::Scalar => LoopShape {
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
