//! The block schedule: which blocks of the P×P grid are trained together,
//! and in what order.
//!
//! An epoch is a sequence of P strata. Stratum `s` pairs every user band
//! `b` with the item band `σ_s(b) = τ((b + shift_s) mod P)`, where `shift`
//! is a seeded permutation of 0..P (the order of the strata) and `τ` a
//! seeded permutation of the item bands. Within a stratum no user band and
//! no item band repeats, so its P blocks can be trained in parallel without
//! locks; over the epoch every block (b, j) is trained exactly once (for a
//! fixed b, `shift_s` runs over all of 0..P). Everything is derived from
//! (seed, epoch) alone, so a resumed run replays the same schedule.

use rand::seq::SliceRandom;
use rand::SeedableRng;
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
    shifts: Vec<usize>,
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
        let mut shifts: Vec<usize> = (0..grid).collect();
        shifts.shuffle(&mut rng);
        let mut item_order: Vec<usize> = (0..grid).collect();
        item_order.shuffle(&mut rng);
        Self { shifts, item_order }
    }

    /// Number of strata (= P).
    pub fn strata(&self) -> usize {
        self.shifts.len()
    }

    /// The blocks of stratum `s`, in user-band order (the order in which
    /// their results are merged).
    pub fn stratum(&self, s: usize) -> impl Iterator<Item = BlockId> + '_ {
        let p = self.shifts.len();
        let shift = self.shifts[s];
        (0..p).map(move |b| BlockId {
            user_band: b,
            item_band: self.item_order[(b + shift) % p],
        })
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
    fn the_schedule_depends_only_on_seed_and_epoch() {
        assert_eq!(EpochSchedule::new(9, 1, 4), EpochSchedule::new(9, 1, 4));
        let differs =
            (0..10).any(|e| EpochSchedule::new(9, 1, e) != EpochSchedule::new(9, 1, e + 1));
        assert!(differs, "epochs should get different orders");
        assert_ne!(EpochSchedule::new(9, 1, 0), EpochSchedule::new(9, 2, 0));
    }
}
