//! The block schedule: which blocks of the P×P grid are trained together,
//! and in what order.
//!
//! An epoch is a sequence of P strata. Stratum `s` pairs every user band
//! `b` with the item band `σ_s(b) = τ((b + shift + s) mod P)`, where `shift`
//! is a seeded offset and `τ` a seeded permutation of the item bands.
//! Within a stratum no user band and no item band repeats, so its P blocks
//! can be trained in parallel without locks; over the epoch every block
//! (b, j) is trained exactly once (for a fixed b, `s` runs over 0..P).
//! Everything is derived from (seed, epoch) alone, so a resumed run replays
//! the same schedule.
//!
//! Because consecutive strata shift by one, block (b, s) shares its user
//! band with (b, s − 1) and its item band with (b + 1, s − 1) and with
//! nothing else trained before it in the epoch: those two are its only
//! predecessors ([`EpochSchedule::block`]). The model therefore depends
//! only on that partial order, and a trainer may run the blocks in any
//! order that respects it — in particular several consecutive blocks of
//! one user band in a row, so that the band stays in the cache (see
//! `passes.rs`) — and still get the bits of the stratum-by-stratum order.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// One block of the grid: a user band and an item band.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockId {
    /// The user band.
    pub user_band: usize,
    /// The item band.
    pub item_band: usize,
}

/// The strata of one epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochSchedule {
    shift: usize,
    item_order: Vec<usize>,
}

/// A distinct stream for the schedule, so it never coincides with the
/// initialisation's random numbers.
const SCHEDULE_STREAM: u64 = 0x5c4e_d01e_0000_0001;

impl EpochSchedule {
    /// The schedule of `epoch` for a `grid × grid` grid.
    pub fn new(grid: usize, seed: u64, epoch: u32) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(crate::train::state::mix(
            seed ^ SCHEDULE_STREAM,
            u64::from(epoch),
        ));
        let shift = rng.random_range(0..grid.max(1));
        let mut item_order: Vec<usize> = (0..grid).collect();
        item_order.shuffle(&mut rng);
        Self { shift, item_order }
    }

    /// Number of strata (= P).
    pub fn strata(&self) -> usize {
        self.item_order.len()
    }

    /// The block of user band `b` in stratum `s`. Its predecessors in the
    /// epoch are `block(b, s − 1)` (same user band) and `block(b + 1 mod P,
    /// s − 1)` (same item band).
    pub fn block(&self, b: usize, s: usize) -> BlockId {
        let p = self.item_order.len();
        BlockId {
            user_band: b,
            item_band: self.item_order[(b + self.shift + s) % p],
        }
    }

    /// The blocks of stratum `s`, in user-band order (the order in which
    /// their results are merged).
    pub fn stratum(&self, s: usize) -> impl Iterator<Item = BlockId> + '_ {
        (0..self.item_order.len()).map(move |b| self.block(b, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_stratum_pairs_each_user_band_with_a_distinct_item_band() {
        for grid in [1, 2, 3, 7, 16] {
            for epoch in 0..5 {
                let sched = EpochSchedule::new(grid, 42, epoch);
                for s in 0..sched.strata() {
                    let blocks: Vec<BlockId> = sched.stratum(s).collect();
                    let users: HashSet<usize> = blocks.iter().map(|b| b.user_band).collect();
                    let items: HashSet<usize> = blocks.iter().map(|b| b.item_band).collect();
                    assert_eq!(users.len(), grid, "grid {grid} epoch {epoch} stratum {s}");
                    assert_eq!(items.len(), grid, "grid {grid} epoch {epoch} stratum {s}");
                    assert!(items.iter().all(|i| *i < grid));
                }
            }
        }
    }

    #[test]
    fn every_block_is_trained_exactly_once_per_epoch() {
        for grid in [1, 2, 5, 12] {
            let sched = EpochSchedule::new(grid, 7, 3);
            let mut seen = HashSet::new();
            for s in 0..sched.strata() {
                for block in sched.stratum(s) {
                    assert!(seen.insert(block), "{block:?} twice");
                }
            }
            assert_eq!(seen.len(), grid * grid);
        }
    }

    #[test]
    fn a_block_shares_bands_only_with_its_two_predecessors_and_their_chains() {
        for grid in [1, 2, 5, 8] {
            let sched = EpochSchedule::new(grid, 3, 2);
            for s in 1..grid {
                for b in 0..grid {
                    let block = sched.block(b, s);
                    let same_user = sched.block(b, s - 1);
                    let same_item = sched.block((b + 1) % grid, s - 1);
                    assert_eq!(same_user.user_band, block.user_band);
                    assert_eq!(same_item.item_band, block.item_band);
                    // No other block of the previous stratum shares a band.
                    for other in sched.stratum(s - 1) {
                        if other != same_user && other != same_item {
                            assert_ne!(other.user_band, block.user_band);
                            assert_ne!(other.item_band, block.item_band);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_schedule_depends_only_on_seed_and_epoch() {
        assert_eq!(EpochSchedule::new(9, 1, 4), EpochSchedule::new(9, 1, 4));
        let differs =
            (0..10).any(|e| EpochSchedule::new(9, 1, e) != EpochSchedule::new(9, 1, e + 1));
        assert!(differs, "epochs should get different orders");
        assert_ne!(EpochSchedule::new(9, 1, 0), EpochSchedule::new(9, 2, 0));
    }
}
