//! The full check of a rating file: every checksum, every record.

use std::time::Instant;

use funk_kernel::Rating;
use serde::Serialize;

use super::{FormatError, RatingFile};

/// What [`RatingFile::verify`] checked and how fast.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VerifyReport {
    /// Bytes hashed (the whole file).
    pub bytes: u64,
    /// Blocks checked.
    pub blocks: usize,
    /// Records checked (train + test).
    pub records: u64,
    /// Wall-clock seconds the check took.
    pub seconds: f64,
    /// Throughput in MB/s (10⁶ bytes per second).
    pub mb_per_s: f64,
}

impl RatingFile {
    /// Checks everything `open` does not: the checksum of every block's
    /// records, that every band-local index lies inside its band, that
    /// values are finite, that each block is sorted by (user, item) with no
    /// repeated pair, and that the id indexes are sorted permutations.
    /// Runs on all cores; reports the throughput.
    pub fn verify(&self) -> Result<VerifyReport, FormatError> {
        let start = Instant::now();
        // Re-check the header and the small sections (cheap).
        super::validate::validate(self.path(), self.map())?;
        let p = self.grid();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, p * p);
        // Each thread stops at its first damaged block, the lowest of its
        // share, so the lowest of those is the first damaged block of the
        // file: the error is the same for any number of threads.
        let first_damaged = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        (t..p * p)
                            .step_by(threads)
                            .try_for_each(|b| self.verify_block(b / p, b % p).map_err(|e| (b, e)))
                    })
                })
                .collect();
            handles
                .into_iter()
                .filter_map(|h| {
                    h.join()
                        .unwrap_or_else(|_| {
                            Err((
                                0,
                                FormatError::corrupt(self.path(), "a verification thread panicked"),
                            ))
                        })
                        .err()
                })
                .min_by_key(|&(b, _)| b)
        });
        if let Some((_, error)) = first_damaged {
            return Err(error);
        }
        for (who, index, n) in [
            ("user", self.user_index(), self.users()),
            ("item", self.item_index(), self.items()),
        ] {
            let mut seen = vec![false; n];
            let mut prev: Option<&str> = None;
            for &i in index.sorted {
                let i = i as usize;
                if i >= n || std::mem::replace(&mut seen[i], true) {
                    return Err(FormatError::corrupt(
                        self.path(),
                        format!("the {who} id index is not a permutation (entry {i})"),
                    ));
                }
                let name = index.table.get(i);
                if prev.is_some_and(|p| p >= name) {
                    return Err(FormatError::corrupt(
                        self.path(),
                        format!("the {who} id index is not sorted at {name:?}"),
                    ));
                }
                prev = Some(name);
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        let bytes = self.file_len();
        Ok(VerifyReport {
            bytes,
            blocks: p * p,
            records: self.train_count() + self.test_count(),
            seconds,
            mb_per_s: bytes as f64 / 1e6 / seconds.max(1e-9),
        })
    }

    fn verify_block(&self, ub: usize, ib: usize) -> Result<(), FormatError> {
        match self.block_damage(ub, ib) {
            None => Ok(()),
            Some(BlockDamage::Checksum {
                which,
                stored,
                computed,
            }) => Err(FormatError::Checksum {
                path: self.path().to_path_buf(),
                section: format!("block ({ub}, {ib}) {which} records"),
                stored,
                computed,
            }),
            Some(BlockDamage::Records { which, what }) => Err(FormatError::corrupt(
                self.path(),
                format!("block ({ub}, {ib}) {which} records: {what}"),
            )),
        }
    }

    /// What is wrong with block (`ub`, `ib`)'s records, if anything: a
    /// checksum that does not match, or a record outside the block, not
    /// finite or out of order.
    pub(crate) fn block_damage(&self, ub: usize, ib: usize) -> Option<BlockDamage> {
        let e = self.block_entry(ub, ib);
        let (rows, cols) = (
            self.user_band(ub).len() as u32,
            self.item_band(ib).len() as u32,
        );
        for (which, records, stored) in [
            ("train", self.train_block(ub, ib), e.train_hash),
            ("test", self.test_block(ub, ib), e.test_hash),
        ] {
            let computed = crate::courtesy::xxh3_64(bytemuck::cast_slice(records));
            if computed != stored {
                return Some(BlockDamage::Checksum {
                    which,
                    stored,
                    computed,
                });
            }
            if let Err(what) = check_records(records, rows, cols) {
                return Some(BlockDamage::Records { which, what });
            }
        }
        None
    }
}

/// What is wrong with a block's records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum BlockDamage {
    /// The records of one split do not match their checksum.
    Checksum {
        /// "train" or "test".
        which: &'static str,
        /// The checksum in the block table.
        stored: u64,
        /// The checksum of the records.
        computed: u64,
    },
    /// A record is outside the block, not finite, or out of order.
    Records {
        /// "train" or "test".
        which: &'static str,
        /// What, and which record.
        what: String,
    },
}

impl std::fmt::Display for BlockDamage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlockDamage::Checksum {
                which,
                stored,
                computed,
            } => write!(
                f,
                "its {which} records do not match their checksum (stored {stored:016x}, computed {computed:016x})"
            ),
            BlockDamage::Records { which, what } => write!(f, "{which} records: {what}"),
        }
    }
}

fn check_records(records: &[Rating], rows: u32, cols: u32) -> Result<(), String> {
    let mut prev: Option<(u32, u32)> = None;
    let mut pacer = crate::courtesy::Pacer::new();
    for (n, r) in records.iter().enumerate() {
        pacer.step();
        if r.user >= rows || r.item >= cols {
            return Err(format!(
                "record #{n} ({}, {}) lies outside the {rows} × {cols} block",
                r.user, r.item
            ));
        }
        if !r.value.is_finite() {
            return Err(format!("record #{n} has a non-finite value"));
        }
        if prev.is_some_and(|p| p >= (r.user, r.item)) {
            return Err(format!(
                "record #{n} is out of order or repeats a (user, item) pair"
            ));
        }
        prev = Some((r.user, r.item));
    }
    Ok(())
}
