//! The validation slice: a deterministic fraction of the train ratings
//! that the trainer never learns from, watched by early stopping.
//!
//! Which ratings are held out depends only on the (user, item) pair — a
//! hash of their internal ids — so it is the same for every seed, thread
//! count and grid, and a pair of the test split can never be in it (the
//! slice is drawn from the train blocks only). The rating file stays
//! untouched and memory-mapped: each train block is handed to the kernel
//! whole with the positions to skip (`BlockRatings::skipping`, zero-copy);
//! only the held-out ratings themselves (2% by default) are copied, once,
//! for evaluation.
//!
//! Nothing is scanned at start-up: a block's held-out positions are found
//! (one hash per rating) the first time anything asks for them — in
//! practice the worker that first trains, differentiates or evaluates the
//! block, which reads the block's pages then anyway. Each block is scanned
//! at most once, and what a scan finds depends only on the block, so the
//! answers are the same whichever thread asks first.

use std::sync::OnceLock;

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

/// The held-out ratings of one train block.
#[derive(Debug, Default)]
struct BlockSlice {
    /// The positions of the held-out ratings in the block's train ratings,
    /// ascending.
    held: Vec<u32>,
    /// Copies of the held-out ratings (band-local ids), in the same order.
    ratings: Vec<Rating>,
}

impl BlockSlice {
    /// Scans the train ratings of block (`user_band`, `item_band`) of
    /// `data` for the pairs whose hash is below `below`.
    fn scan(data: &RatingFile, user_band: usize, item_band: usize, below: u64) -> BlockSlice {
        let origin = (
            data.user_band(user_band).start,
            data.item_band(item_band).start,
        );
        let block = data.train_block(user_band, item_band);
        let held = held_positions(block, origin, below);
        let ratings = held.iter().map(|&pos| block[pos as usize]).collect();
        BlockSlice { held, ratings }
    }
}

/// Ratings hashed per mask word of [`held_positions_with`].
const CHUNK: usize = 64;

/// The positions in `block` (band-local ids, bands starting at `origin`)
/// of the pairs whose hash is below `below`, ascending; with AVX-512 where
/// the CPU has it (the same answer, two to three times as fast).
fn held_positions(block: &[Rating], origin: (usize, usize), below: u64) -> Vec<u32> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512dq")
    {
        // SAFETY: the CPU has the features `held_positions_avx512` is
        // compiled for (checked just above); it is otherwise safe code.
        return unsafe { held_positions_avx512(block, origin, below) };
    }
    held_positions_with(block, origin, below)
}

/// [`held_positions_with`] compiled for AVX-512 (8 hashes per instruction).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq")]
unsafe fn held_positions_avx512(block: &[Rating], origin: (usize, usize), below: u64) -> Vec<u32> {
    held_positions_with(block, origin, below)
}

/// The scan itself, branch-free over chunks of [`CHUNK`] ratings (one bit
/// each) so that the compiler can vectorise the hashing. Positions are
/// `u32`, the kernel's skip-list type (a block of 2^32 ratings would be
/// 48 GiB of records).
#[inline(always)]
fn held_positions_with(block: &[Rating], (u0, i0): (usize, usize), below: u64) -> Vec<u32> {
    let mut held = Vec::new();
    for (c, chunk) in block.chunks(CHUNK).enumerate() {
        let mut mask = 0u64;
        for (j, r) in chunk.iter().enumerate() {
            let hit = held_out_below(u0 + r.user as usize, i0 + r.item as usize, below);
            mask |= u64::from(hit) << j;
        }
        while mask != 0 {
            held.push((c * CHUNK) as u32 + mask.trailing_zeros());
            mask &= mask - 1;
        }
    }
    held
}

/// The held-out ratings of every train block of a rating file, each block
/// found when first asked for.
pub struct ValidationSlice<'d> {
    data: &'d RatingFile,
    grid: usize,
    /// The hash threshold; `None` when nothing is held out.
    below: Option<u64>,
    /// Threads for [`ValidationSlice::count`]'s scan of blocks not yet seen.
    threads: usize,
    /// Per block (user band · P + item band), once scanned.
    blocks: Vec<OnceLock<BlockSlice>>,
    /// Held-out ratings in all, once every block is scanned.
    count: OnceLock<u64>,
}

/// The answer for a block outside the grid, or for every block when
/// nothing is held out.
static EMPTY: BlockSlice = BlockSlice {
    held: Vec::new(),
    ratings: Vec::new(),
};

impl<'d> ValidationSlice<'d> {
    /// The held-out ratings of `data` (none when `fraction` is 0). Scans
    /// nothing yet: each block is scanned on first use, and
    /// [`ValidationSlice::count`] scans the blocks still unseen on up to
    /// `threads` threads.
    pub fn select(data: &'d RatingFile, fraction: f32, threads: usize) -> ValidationSlice<'d> {
        let grid = data.grid();
        let below = (fraction > 0.0 && grid > 0).then(|| threshold(fraction));
        ValidationSlice {
            data,
            grid,
            below,
            threads: threads.max(1),
            blocks: (0..grid * grid).map(|_| OnceLock::new()).collect(),
            count: OnceLock::new(),
        }
    }

    /// Block (`user_band`, `item_band`), scanned now unless it already was.
    fn block(&self, user_band: usize, item_band: usize) -> &BlockSlice {
        let Some(below) = self.below else {
            return &EMPTY;
        };
        if user_band >= self.grid || item_band >= self.grid {
            return &EMPTY;
        }
        self.blocks[user_band * self.grid + item_band]
            .get_or_init(|| BlockSlice::scan(self.data, user_band, item_band, below))
    }

    /// Held-out ratings in all. The first call scans every block not yet
    /// scanned (in parallel); later calls only read the total.
    pub fn count(&self) -> u64 {
        *self.count.get_or_init(|| {
            if self.below.is_none() {
                return 0;
            }
            self.scan_unseen();
            (0..self.grid * self.grid)
                .map(|b| self.block(b / self.grid, b % self.grid).held.len() as u64)
                .sum()
        })
    }

    /// Scans the blocks nobody has asked for yet, on up to `threads`
    /// threads (each block still at most once, whoever else asks).
    fn scan_unseen(&self) {
        let unseen: Vec<usize> = (0..self.blocks.len())
            .filter(|&b| self.blocks[b].get().is_none())
            .collect();
        if unseen.is_empty() {
            return;
        }
        let threads = self.threads.clamp(1, unseen.len());
        let per_thread = unseen.len().div_ceil(threads);
        std::thread::scope(|s| {
            for part in unseen.chunks(per_thread) {
                s.spawn(move || {
                    for &b in part {
                        self.block(b / self.grid, b % self.grid);
                    }
                });
            }
        });
    }

    /// The held-out ratings of block (`user_band`, `item_band`).
    pub fn ratings(&self, user_band: usize, item_band: usize) -> &[Rating] {
        &self.block(user_band, item_band).ratings
    }

    /// The positions of the held-out ratings in the train ratings of block
    /// (`user_band`, `item_band`), strictly increasing: the kernel's skip list.
    pub fn held_out(&self, user_band: usize, item_band: usize) -> &[u32] {
        &self.block(user_band, item_band).held
    }

    /// The runs of `block` (the block's train ratings) between its held-out
    /// ratings, in order: what the trainer learns from.
    pub fn training_runs<'r>(
        &self,
        user_band: usize,
        item_band: usize,
        block: &'r [Rating],
    ) -> TrainingRuns<'r, '_> {
        TrainingRuns {
            block,
            held: self.held_out(user_band, item_band),
            next: 0,
        }
    }
}

impl std::fmt::Debug for ValidationSlice<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidationSlice")
            .field("grid", &self.grid)
            .field("below", &self.below)
            .field(
                "blocks_scanned",
                &self.blocks.iter().filter(|b| b.get().is_some()).count(),
            )
            .field("count", &self.count.get())
            .finish()
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
mod tests;
