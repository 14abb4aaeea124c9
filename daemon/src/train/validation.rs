//! The validation slice: a deterministic fraction of the train ratings
//! that the trainer never learns from, watched by early stopping.
//!
//! Which ratings are held out depends only on the (user, item) pair — a
//! hash of their internal ids — so it is the same for every seed, thread
//! count and grid, and a pair of the test split can never be in it (the
//! slice is drawn from the train blocks only). The rating file stays
//! untouched and memory-mapped: each train block is handed to the kernel
//! whole with the positions to skip (`train_block_skipping`, zero-copy);
//! only the held-out ratings themselves (2% by default) are copied, once,
//! for evaluation.

use funk_kernel::Rating;

use super::state::mix;
use crate::ratingfile::RatingFile;

/// Salt of the hash that picks the held-out pairs.
const SALT: u64 = 0x7661_6c69_6461_7465;

/// Whether the pair (user, item) of internal ids is held out when a
/// fraction `fraction` of the train ratings is.
pub fn is_held_out(user: usize, item: usize, fraction: f32) -> bool {
    held_out_below(user, item, threshold(fraction))
}

/// The hash threshold of a fraction: a pair is held out when its hash is
/// below it (`u64::MAX` for a fraction of 1 or more).
fn threshold(fraction: f32) -> u64 {
    if fraction <= 0.0 {
        0
    } else if fraction >= 1.0 {
        u64::MAX
    } else {
        // `as` saturates; fraction < 1 keeps it below 2^64.
        (f64::from(fraction) * 18_446_744_073_709_551_616.0) as u64
    }
}

/// One hash per pair: ids below 2^32 (as every rating file's are) give
/// distinct keys.
fn held_out_below(user: usize, item: usize, threshold: u64) -> bool {
    let key = ((user as u64) << 32) ^ item as u64;
    threshold == u64::MAX || mix(SALT, key) < threshold
}

/// The held-out ratings of every train block.
#[derive(Clone, Debug, Default)]
pub struct ValidationSlice {
    grid: usize,
    /// Per block (user band · P + item band): the positions of the held-out
    /// ratings in the block's train ratings, ascending.
    held: Vec<Vec<u32>>,
    /// Per block: copies of the held-out ratings (band-local ids).
    ratings: Vec<Vec<Rating>>,
    count: u64,
}

impl ValidationSlice {
    /// Picks the held-out ratings of `data` (none when `fraction` is 0),
    /// scanning the blocks on up to `threads` threads.
    pub fn select(data: &RatingFile, fraction: f32, threads: usize) -> ValidationSlice {
        let grid = data.grid();
        let blocks = grid * grid;
        if fraction <= 0.0 || blocks == 0 {
            return ValidationSlice {
                grid,
                held: vec![Vec::new(); blocks],
                ratings: vec![Vec::new(); blocks],
                count: 0,
            };
        }
        let below = threshold(fraction);
        let scan = |b: usize| -> (Vec<u32>, Vec<Rating>) {
            let (ub, ib) = (b / grid, b % grid);
            let (u0, i0) = (data.user_band(ub).start, data.item_band(ib).start);
            let mut held = Vec::new();
            let mut ratings = Vec::new();
            for (pos, r) in data.train_block(ub, ib).iter().enumerate() {
                if held_out_below(u0 + r.user as usize, i0 + r.item as usize, below) {
                    held.push(pos as u32);
                    ratings.push(*r);
                }
            }
            (held, ratings)
        };
        let threads = threads.clamp(1, blocks);
        let per_thread = blocks.div_ceil(threads);
        let parts: Vec<Vec<(Vec<u32>, Vec<Rating>)>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let scan = &scan;
                    s.spawn(move || {
                        let end = ((t + 1) * per_thread).min(blocks);
                        (t * per_thread..end).map(scan).collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                // A scan cannot panic short of a bug; if it did, re-raise it here.
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        let mut slice = ValidationSlice {
            grid,
            held: Vec::with_capacity(blocks),
            ratings: Vec::with_capacity(blocks),
            count: 0,
        };
        for (held, ratings) in parts.into_iter().flatten() {
            slice.count += held.len() as u64;
            slice.held.push(held);
            slice.ratings.push(ratings);
        }
        slice
    }

    /// Held-out ratings in all.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The held-out ratings of block (`user_band`, `item_band`).
    pub fn ratings(&self, user_band: usize, item_band: usize) -> &[Rating] {
        self.ratings
            .get(user_band * self.grid + item_band)
            .map_or(&[], Vec::as_slice)
    }

    /// The positions of the held-out ratings in the train ratings of block
    /// (`user_band`, `item_band`), strictly increasing: the kernel's skip list.
    pub fn held_out(&self, user_band: usize, item_band: usize) -> &[u32] {
        self.held
            .get(user_band * self.grid + item_band)
            .map_or(&[], Vec::as_slice)
    }

    /// The runs of `block` (the block's train ratings) between its held-out
    /// ratings, in order: what the trainer learns from.
    pub fn training_runs<'r>(
        &self,
        user_band: usize,
        item_band: usize,
        block: &'r [Rating],
    ) -> TrainingRuns<'r, '_> {
        let held = self
            .held
            .get(user_band * self.grid + item_band)
            .map_or(&[][..], Vec::as_slice);
        TrainingRuns {
            block,
            held,
            next: 0,
        }
    }
}

/// Iterator over the non-empty runs of a block between held-out ratings.
#[derive(Debug)]
pub struct TrainingRuns<'r, 'h> {
    block: &'r [Rating],
    held: &'h [u32],
    next: usize,
}

impl<'r> Iterator for TrainingRuns<'r, '_> {
    type Item = &'r [Rating];

    fn next(&mut self) -> Option<&'r [Rating]> {
        loop {
            if self.next >= self.block.len() {
                return None;
            }
            let end = match self.held.split_first() {
                Some((&h, rest)) => {
                    self.held = rest;
                    (h as usize).min(self.block.len())
                }
                None => self.block.len(),
            };
            let run = &self.block[self.next..end.max(self.next)];
            self.next = end + 1;
            if !run.is_empty() {
                return Some(run);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(user: u32, item: u32) -> Rating {
        Rating {
            user,
            item,
            value: 3.0,
        }
    }

    fn runs_of(block: &[Rating], held: &[u32]) -> Vec<Vec<(u32, u32)>> {
        TrainingRuns {
            block,
            held,
            next: 0,
        }
        .map(|run| run.iter().map(|x| (x.user, x.item)).collect())
        .collect()
    }

    #[test]
    fn runs_skip_exactly_the_held_out_positions() {
        let block: Vec<Rating> = (0..6).map(|i| r(i, i)).collect();
        assert_eq!(
            runs_of(&block, &[1, 2, 5]),
            vec![vec![(0, 0)], vec![(3, 3), (4, 4)]]
        );
        assert_eq!(
            runs_of(&block, &[0]),
            vec![(1..6).map(|i| (i, i)).collect::<Vec<_>>()]
        );
        assert_eq!(runs_of(&block, &[]).len(), 1);
        assert!(runs_of(&block, &[0, 1, 2, 3, 4, 5]).is_empty());
        assert!(runs_of(&[], &[]).is_empty());
    }

    #[test]
    fn the_held_out_fraction_is_about_the_asked_one() {
        let n = 200_000;
        let held = (0..n)
            .filter(|&k| is_held_out(k % 977, k / 977, 0.02))
            .count();
        let frac = held as f64 / n as f64;
        assert!((frac - 0.02).abs() < 0.002, "held out {frac}");
        assert!(!(0..1000).any(|k| is_held_out(k, k, 0.0)));
        assert!((0..1000).all(|k| is_held_out(k, 3 * k, 1.0)));
    }
}
