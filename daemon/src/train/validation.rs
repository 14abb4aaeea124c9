//! The validation slice: a deterministic fraction of the train ratings
//! that the trainer never learns from, watched by early stopping.
//!
//! Which ratings are held out depends only on the (user, item) pair as the
//! data names it — a hash of the pair's original ids, the strings of the
//! rating file's id maps — so it is the same for every seed, thread count
//! and grid, and the same in a file and in any extension of it (a file
//! `funkd compact` or a service round wrote from it, whose internal
//! numbering may differ): a model warm-started on the extension never
//! validates on a rating it trained on before. A pair of the test split
//! can never be in it (the slice is drawn from the train blocks only).
//!
//! The rating file stays untouched and memory-mapped: each train block is
//! handed to the kernel whole with the positions to skip
//! (`BlockRatings::skipping`, zero-copy); only the held-out ratings
//! themselves (2% by default) are copied, once, for evaluation.
//!
//! Nothing is scanned at start-up: each user's and each item's id is
//! hashed once, the first time any block is scanned (one string hash per
//! user and per item, milliseconds at full scale), and a block's held-out
//! positions are found (one mix of two precomputed hashes per rating) the
//! first time anything asks for them — in practice the worker that first
//! trains, differentiates or evaluates the block, which reads the block's
//! pages then anyway. Each block is scanned at most once, and what a scan
//! finds depends only on the block, so the answers are the same whichever
//! thread asks first.

use std::sync::OnceLock;

use funk_kernel::Rating;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::state::mix;
use crate::courtesy::Pacer;
use crate::ratingfile::RatingFile;

/// Salt of the hash that picks the held-out pairs.
const SALT: u64 = 0x7661_6c69_6461_7465;
/// Seed of the hash of a user's original id.
const USER_SEED: u64 = 0x7573_6572_5f69_6473;
/// Seed of the hash of an item's original id.
const ITEM_SEED: u64 = 0x6974_656d_5f69_6473;

/// The hash of a user's original id.
fn user_hash(id: &str) -> u64 {
    xxh3_64_with_seed(id.as_bytes(), USER_SEED)
}

/// The hash of an item's original id.
fn item_hash(id: &str) -> u64 {
    xxh3_64_with_seed(id.as_bytes(), ITEM_SEED)
}

/// Whether the pair (user, item) of original ids is held out when a
/// fraction `fraction` of the train ratings is.
pub fn is_held_out(user: &str, item: &str, fraction: f32) -> bool {
    held_out_below(user_hash(user), item_hash(item), threshold(fraction))
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

/// One mix per pair, of the user's and the item's id hashes.
#[inline(always)]
fn held_out_below(user_hash: u64, item_hash: u64, threshold: u64) -> bool {
    threshold == u64::MAX || mix(user_hash ^ SALT, item_hash) < threshold
}

/// The id hashes of every user and every item of a rating file, in
/// internal-id order.
#[derive(Debug)]
struct IdHashes {
    users: Vec<u64>,
    items: Vec<u64>,
}

impl IdHashes {
    /// Every id hashed, with a pause point every so many (half a million
    /// ids at full scale: milliseconds of a background thread's work).
    fn of(data: &RatingFile) -> IdHashes {
        let mut pacer = Pacer::new();
        IdHashes {
            users: (0..data.users())
                .map(|u| {
                    pacer.step();
                    user_hash(data.user_id(u))
                })
                .collect(),
            items: (0..data.items())
                .map(|i| {
                    pacer.step();
                    item_hash(data.item_id(i))
                })
                .collect(),
        }
    }
}

/// The pairs a run holding out a fraction of a rating file's train
/// ratings validates on, asked pair by pair by internal ids (every id
/// hashed once up front: milliseconds at full scale).
#[derive(Debug)]
pub struct HeldOutPairs {
    hashes: IdHashes,
    below: u64,
}

impl HeldOutPairs {
    /// The held-out pairs of `data` when `fraction` of its train ratings
    /// is held out; `None` when nothing is.
    pub fn of(data: &RatingFile, fraction: f32) -> Option<HeldOutPairs> {
        let below = threshold(fraction);
        (below > 0).then(|| HeldOutPairs {
            hashes: IdHashes::of(data),
            below,
        })
    }

    /// Whether the pair (internal `user`, internal `item`) is held out
    /// (the same answer as [`is_held_out`] on their original ids).
    pub fn contains(&self, user: usize, item: usize) -> bool {
        held_out_below(self.hashes.users[user], self.hashes.items[item], self.below)
    }
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
    fn scan(
        data: &RatingFile,
        hashes: &IdHashes,
        user_band: usize,
        item_band: usize,
        below: u64,
    ) -> BlockSlice {
        let bands = (
            band_hashes(&hashes.users, data.user_band(user_band)),
            band_hashes(&hashes.items, data.item_band(item_band)),
        );
        let block = data.train_block(user_band, item_band);
        let held = held_positions(block, bands, below);
        let ratings = held.iter().map(|&pos| block[pos as usize]).collect();
        BlockSlice { held, ratings }
    }
}

/// The hashes of one band's ids (empty where the band lies outside them).
fn band_hashes(all: &[u64], band: std::ops::Range<usize>) -> &[u64] {
    all.get(band).unwrap_or(&[])
}

/// The id hashes of a user band and an item band.
type BandHashes<'h> = (&'h [u64], &'h [u64]);

/// Ratings hashed per mask word of [`held_positions_with`].
const CHUNK: usize = 64;

/// The positions in `block` (band-local ids; `bands` the id hashes of its
/// user and item bands) of the pairs whose hash is below `below`,
/// ascending; with AVX-512 where the CPU has it (the same answer, faster).
fn held_positions(block: &[Rating], bands: BandHashes<'_>, below: u64) -> Vec<u32> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512dq")
    {
        // SAFETY: the CPU has the features `held_positions_avx512` is
        // compiled for (checked just above); it is otherwise safe code.
        return unsafe { held_positions_avx512(block, bands, below) };
    }
    held_positions_with(block, bands, below)
}

/// [`held_positions_with`] compiled for AVX-512 (8 hashes per instruction).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq")]
unsafe fn held_positions_avx512(block: &[Rating], bands: BandHashes<'_>, below: u64) -> Vec<u32> {
    held_positions_with(block, bands, below)
}

/// The scan itself, branch-free over chunks of [`CHUNK`] ratings (one bit
/// each) so that the compiler can vectorise the hashing. Positions are
/// `u32`, the kernel's skip-list type (a block of 2^32 ratings would be
/// 48 GiB of records). A record whose id lies outside its band (a corrupt
/// block, which training refuses when it checks the block) hashes as id
/// hash 0 rather than stopping the scan.
#[inline(always)]
fn held_positions_with(block: &[Rating], (users, items): BandHashes<'_>, below: u64) -> Vec<u32> {
    let mut held = Vec::new();
    for (c, chunk) in block.chunks(CHUNK).enumerate() {
        let mut mask = 0u64;
        for (j, r) in chunk.iter().enumerate() {
            let user = users.get(r.user as usize).copied().unwrap_or(0);
            let item = items.get(r.item as usize).copied().unwrap_or(0);
            let hit = held_out_below(user, item, below);
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
    /// The id hashes, computed when the first block is scanned.
    hashes: OnceLock<IdHashes>,
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
            hashes: OnceLock::new(),
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
        self.blocks[user_band * self.grid + item_band].get_or_init(|| {
            let hashes = self.hashes.get_or_init(|| IdHashes::of(self.data));
            BlockSlice::scan(self.data, hashes, user_band, item_band, below)
        })
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
