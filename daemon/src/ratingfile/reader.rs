//! Opening a rating file: map it, validate the header, the section table,
//! the block table and the id tables, and hand out blocks as `&[Rating]`
//! straight from the map.

use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use funk_kernel::{CheckedRatings, Rating};
use memmap2::Mmap;
use serde::Serialize;

use crate::courtesy;

use super::ids::{IdIndex, IdTable};
use super::layout::{
    band_range, BlockEntry, RawHeader, Section, SectionRef, FLAG_MEAN_RMSE, FLAG_NOISE_FLOOR,
    FLAG_RANGE,
};
use super::{FormatError, Meta, RatingSet, Triple};

/// An open, validated, memory-mapped rating file.
///
/// Opening checks everything but the records themselves: header checksum,
/// magic, version, byte order, that the counts agree with the file length,
/// the block table (checksum, and that its blocks tile the records
/// exactly), and the id tables (checksums, bounds, UTF-8). The records'
/// checksums, band-local indices and values are checked block by block
/// when first used ([`RatingFile::check_block`]), or all at once by
/// [`RatingFile::verify`].
#[derive(Debug)]
pub struct RatingFile {
    path: PathBuf,
    map: Mmap,
    header: RawHeader,
    /// Per block (user band · P + item band): its records passed
    /// [`RatingFile::check_block`] in this process.
    checked: Box<[AtomicBool]>,
}

/// Train ratings per block: the smallest, mean and largest block.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BlockBalance {
    /// Fewest train ratings in a block.
    pub min: u64,
    /// Mean train ratings per block.
    pub mean: f64,
    /// Most train ratings in a block.
    pub max: u64,
}

impl RatingFile {
    /// Maps and validates the file at `path` (see the type's docs); reads
    /// the header, block table and id tables only, never the records.
    pub fn open(path: &Path) -> Result<RatingFile, FormatError> {
        let io = |error| FormatError::Io {
            path: path.to_path_buf(),
            error,
        };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len == 0 {
            return Err(FormatError::corrupt(path, "the file is empty (0 bytes)"));
        }
        // SAFETY: the map is read-only and funk never modifies a rating
        // file in place (files are replaced by rename, so an existing map
        // keeps the old inode). Another process truncating or rewriting the
        // file while it is mapped is outside what we can guard against, as
        // for every memory-mapped reader; the contents are validated before
        // use and every bit pattern of the record type is valid.
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        let header = super::validate::validate(path, &map)?;
        let blocks = (header.grid as usize).pow(2);
        Ok(RatingFile {
            path: path.to_path_buf(),
            map,
            header,
            checked: (0..blocks).map(|_| AtomicBool::new(false)).collect(),
        })
    }

    /// The path the file was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A stable identity of the contents: the header checksum, which covers
    /// the checksums of every section and block. Checkpoints store it so
    /// they refuse to resume on another data file.
    pub fn identity(&self) -> u64 {
        self.header.header_hash
    }

    /// The format version of the file.
    pub fn format_version(&self) -> u32 {
        self.header.version
    }

    /// Size of the file in bytes.
    pub fn file_len(&self) -> u64 {
        self.header.file_len
    }

    /// The seed of the id permutation.
    pub fn seed(&self) -> u64 {
        self.header.seed
    }

    /// Number of users (rows).
    pub fn users(&self) -> usize {
        self.header.users as usize
    }

    /// Number of items (columns).
    pub fn items(&self) -> usize {
        self.header.items as usize
    }

    /// P: the grid has P × P blocks.
    pub fn grid(&self) -> usize {
        self.header.grid as usize
    }

    /// Internal user ids of user band `b`: `[b·users/P, (b+1)·users/P)`.
    pub fn user_band(&self, b: usize) -> Range<usize> {
        band_range(self.users(), self.grid(), b)
    }

    /// Internal item ids of item band `b`.
    pub fn item_band(&self, b: usize) -> Range<usize> {
        band_range(self.items(), self.grid(), b)
    }

    /// The block table entry of block (`ub`, `ib`).
    ///
    /// # Panics
    ///
    /// If `ub` or `ib` is not below [`RatingFile::grid`].
    pub fn block_entry(&self, ub: usize, ib: usize) -> BlockEntry {
        let p = self.grid();
        assert!(
            ub < p && ib < p,
            "block ({ub}, {ib}) outside the {p} × {p} grid"
        );
        self.block_table()[ub * p + ib]
    }

    /// The train records of block (`ub`, `ib`), sorted by user then item,
    /// with band-local indices.
    ///
    /// # Panics
    ///
    /// If `ub` or `ib` is not below [`RatingFile::grid`].
    pub fn train_block(&self, ub: usize, ib: usize) -> &[Rating] {
        let e = self.block_entry(ub, ib);
        self.records(e.train_start, e.train_len)
    }

    /// The train records of block (`ub`, `ib`) as the kernel's
    /// [`CheckedRatings`] against the block's user and item bands, once the
    /// block passed [`RatingFile::check_block`] (which checks every index,
    /// once per process).
    ///
    /// # Panics
    ///
    /// If `ub` or `ib` is not below [`RatingFile::grid`].
    pub fn checked_train_block(
        &self,
        ub: usize,
        ib: usize,
    ) -> Result<CheckedRatings<'_>, FormatError> {
        self.check_block(ub, ib)?;
        let ratings = self.train_block(ub, ib);
        let (users, items) = (self.user_band(ub).len(), self.item_band(ib).len());
        // SAFETY: `check_block` succeeded, so every record of this block
        // has its user below the user band's size and its item below the
        // item band's size (`check_records`), and the records cannot have
        // changed since: the map is read-only and funk never rewrites a
        // rating file in place (the premise under which `open` maps it).
        Ok(unsafe { CheckedRatings::new_unchecked(ratings, users, items) })
    }

    /// The train records of block (`ub`, `ib`) once the block passed
    /// [`RatingFile::check_block`].
    ///
    /// # Panics
    ///
    /// If `ub` or `ib` is not below [`RatingFile::grid`].
    pub fn checked_train_records(&self, ub: usize, ib: usize) -> Result<&[Rating], FormatError> {
        self.check_block(ub, ib)?;
        Ok(self.train_block(ub, ib))
    }

    /// The test records of block (`ub`, `ib`) once the block passed
    /// [`RatingFile::check_block`].
    ///
    /// # Panics
    ///
    /// If `ub` or `ib` is not below [`RatingFile::grid`].
    pub fn checked_test_records(&self, ub: usize, ib: usize) -> Result<&[Rating], FormatError> {
        self.check_block(ub, ib)?;
        Ok(self.test_block(ub, ib))
    }

    /// Checks block (`ub`, `ib`) the first time it is asked for in this
    /// process: the checksums of its train and test records, and that every
    /// record lies inside the block, has a finite value and is in order.
    /// Later calls cost one atomic load. Opening a file never reads the
    /// records, so this is how a command that reads blocks (training,
    /// evaluation, ...) refuses a damaged file without a slow start: each
    /// block is hashed by the thread that first needs it, once per run,
    /// never once per epoch. A damaged block is a
    /// [`FormatError::DamagedBlock`] that tells the user to run
    /// `funkd inspect --verify`.
    ///
    /// # Panics
    ///
    /// If `ub` or `ib` is not below [`RatingFile::grid`].
    pub fn check_block(&self, ub: usize, ib: usize) -> Result<(), FormatError> {
        let flag = &self.checked[ub * self.grid() + ib];
        if flag.load(Ordering::Acquire) {
            return Ok(());
        }
        if let Some(damage) = self.block_damage(ub, ib) {
            return Err(FormatError::DamagedBlock {
                path: self.path.clone(),
                user_band: ub,
                item_band: ib,
                what: damage.to_string(),
            });
        }
        flag.store(true, Ordering::Release);
        Ok(())
    }

    /// How many blocks have passed [`RatingFile::check_block`] in this
    /// process so far (of [`RatingFile::grid`]²).
    pub fn blocks_checked(&self) -> usize {
        self.checked
            .iter()
            .filter(|flag| flag.load(Ordering::Acquire))
            .count()
    }

    /// [`RatingFile::check_block`] for every block, in order: for commands
    /// that read the whole file anyway.
    pub fn check_all_blocks(&self) -> Result<(), FormatError> {
        let p = self.grid();
        (0..p * p).try_for_each(|b| self.check_block(b / p, b % p))
    }

    /// Maps the record pages in ahead of their first use (Linux:
    /// `MADV_POPULATE_READ`, 64 MiB at a time, or on a background thread
    /// [`courtesy::PAGES_BETWEEN_PAUSES`] at a time with a pause point
    /// after each; where that is unsupported, read-ahead with
    /// `MADV_WILLNEED`), so that a trainer's first epoch does not stop on a
    /// page fault every 4 KiB of every block. It blocks until done (≈
    /// 0.1–0.3 s for the 1.2 GB full-scale file when it is in the page
    /// cache; longer from disk): call it on a thread of its own. Purely an
    /// optimisation: failures are ignored.
    pub fn prefault_records(&self) {
        #[cfg(unix)]
        {
            use memmap2::Advice;
            let chunk = if courtesy::is_background() {
                courtesy::PAGES_BETWEEN_PAUSES
            } else {
                64 << 20
            };
            let records = self.section_bytes(Section::Records);
            let start = records.as_ptr() as usize - self.map.as_ptr() as usize;
            advise_in_chunks(
                records.len(),
                chunk,
                |at, len| {
                    #[cfg(target_os = "linux")]
                    let populated = self
                        .map
                        .advise_range(Advice::PopulateRead, start + at, len)
                        .is_ok();
                    #[cfg(not(target_os = "linux"))]
                    let populated = {
                        let _ = (at, len);
                        false
                    };
                    courtesy::pause_point();
                    populated
                },
                |at, len| {
                    let _ = self.map.advise_range(Advice::WillNeed, start + at, len);
                },
            );
        }
    }

    /// Closes the file; on a background thread its mapping is taken down
    /// a piece at a time ([`courtesy::release_mapping`]).
    pub fn release(self) {
        courtesy::release_mapping(self.map);
    }

    /// The test records of block (`ub`, `ib`), band-local indices.
    ///
    /// # Panics
    ///
    /// If `ub` or `ib` is not below [`RatingFile::grid`].
    pub fn test_block(&self, ub: usize, ib: usize) -> &[Rating] {
        let e = self.block_entry(ub, ib);
        self.records(e.test_start, e.test_len)
    }

    /// Number of train ratings.
    pub fn train_count(&self) -> u64 {
        self.header.train_count
    }

    /// Number of test ratings.
    pub fn test_count(&self) -> u64 {
        self.header.test_count
    }

    /// Mean train rating.
    pub fn mean(&self) -> f64 {
        self.header.mean
    }

    /// The rating scale (predictions are clamped to it), if any.
    pub fn rating_range(&self) -> Option<(f32, f32)> {
        (self.header.flags & FLAG_RANGE != 0)
            .then_some((self.header.range[0], self.header.range[1]))
    }

    /// Test RMSE of the true model (synthetic data), if known.
    pub fn noise_floor(&self) -> Option<f64> {
        (self.header.flags & FLAG_NOISE_FLOOR != 0).then_some(self.header.noise_floor)
    }

    /// Test RMSE of predicting the train mean, if known.
    pub fn mean_rmse(&self) -> Option<f64> {
        (self.header.flags & FLAG_MEAN_RMSE != 0).then_some(self.header.mean_rmse)
    }

    /// Where the data came from.
    pub fn source(&self) -> &str {
        std::str::from_utf8(self.section_bytes(Section::Source)).unwrap_or("")
    }

    /// The command that made the file, to run again: [`RatingFile::source`]
    /// with `-o` and this file's path added when the source is a `funkd
    /// import` or `funkd gen` command (the output path is not stored, so
    /// that the same inputs give the same bytes wherever they are written).
    pub fn source_command(&self) -> String {
        let source = self.source();
        let made_by_funkd = source.starts_with("funkd import ") || source.starts_with("funkd gen ");
        if made_by_funkd && !source.split(' ').any(|w| w == "-o" || w == "--out") {
            format!(
                "{source} -o {}",
                super::shell_word(&self.path.display().to_string())
            )
        } else {
            source.to_string()
        }
    }

    /// The external id of internal user `internal` (empty if out of range).
    pub fn user_id(&self, internal: usize) -> &str {
        self.user_table().get(internal)
    }

    /// The external id of internal item `internal` (empty if out of range).
    pub fn item_id(&self, internal: usize) -> &str {
        self.item_table().get(internal)
    }

    /// External → internal user ids.
    pub fn user_index(&self) -> IdIndex<'_> {
        IdIndex {
            table: self.user_table(),
            sorted: self.u32s(Section::UserSorted),
        }
    }

    /// External → internal item ids.
    pub fn item_index(&self) -> IdIndex<'_> {
        IdIndex {
            table: self.item_table(),
            sorted: self.u32s(Section::ItemSorted),
        }
    }

    /// Train ratings per block: fewest, mean, most.
    pub fn block_balance(&self) -> BlockBalance {
        let table = self.block_table();
        let min = table.iter().map(|e| e.train_len).min().unwrap_or(0);
        let max = table.iter().map(|e| e.train_len).max().unwrap_or(0);
        let mean = self.train_count() as f64 / table.len().max(1) as f64;
        BlockBalance { min, mean, max }
    }

    /// The section table (offset, length, checksum of each section).
    pub fn sections(&self) -> Vec<(&'static str, SectionRef)> {
        Section::ALL
            .iter()
            .map(|&s| (s.name(), self.header.section(s)))
            .collect()
    }

    /// Everything back as a [`RatingSet`] by internal id: `user_ids[i]` is
    /// the external id of internal user `i`; ratings in block order.
    pub fn to_rating_set(&self) -> RatingSet {
        let p = self.grid();
        let mut train = Vec::with_capacity(self.train_count() as usize);
        let mut test = Vec::with_capacity(self.test_count() as usize);
        for ub in 0..p {
            let u0 = self.user_band(ub).start as u32;
            for ib in 0..p {
                let i0 = self.item_band(ib).start as u32;
                let global = |r: &Rating| Triple {
                    user: u0.wrapping_add(r.user),
                    item: i0.wrapping_add(r.item),
                    value: r.value,
                };
                train.extend(self.train_block(ub, ib).iter().map(global));
                test.extend(self.test_block(ub, ib).iter().map(global));
            }
        }
        RatingSet {
            user_ids: (0..self.users())
                .map(|i| self.user_id(i).to_string())
                .collect(),
            item_ids: (0..self.items())
                .map(|i| self.item_id(i).to_string())
                .collect(),
            train,
            test,
            meta: Meta {
                rating_range: self.rating_range(),
                noise_floor: self.noise_floor(),
                mean_rmse: self.mean_rmse(),
                source: self.source().to_string(),
            },
        }
    }

    pub(crate) fn map(&self) -> &[u8] {
        &self.map
    }

    pub(crate) fn section_bytes(&self, s: Section) -> &[u8] {
        self.map.get(self.header.section(s).range()).unwrap_or(&[])
    }

    pub(crate) fn block_table(&self) -> &[BlockEntry] {
        bytemuck::try_cast_slice(self.section_bytes(Section::BlockTable)).unwrap_or(&[])
    }

    pub(crate) fn all_records(&self) -> &[Rating] {
        bytemuck::try_cast_slice(self.section_bytes(Section::Records)).unwrap_or(&[])
    }

    fn records(&self, start: u64, len: u64) -> &[Rating] {
        self.all_records()
            .get(start as usize..(start + len) as usize)
            .unwrap_or(&[])
    }

    pub(crate) fn u32s(&self, s: Section) -> &[u32] {
        bytemuck::try_cast_slice(self.section_bytes(s)).unwrap_or(&[])
    }

    pub(crate) fn user_table(&self) -> IdTable<'_> {
        IdTable {
            offsets: bytemuck::try_cast_slice(self.section_bytes(Section::UserOffsets))
                .unwrap_or(&[]),
            bytes: self.section_bytes(Section::UserBytes),
        }
    }

    pub(crate) fn item_table(&self) -> IdTable<'_> {
        IdTable {
            offsets: bytemuck::try_cast_slice(self.section_bytes(Section::ItemOffsets))
                .unwrap_or(&[]),
            bytes: self.section_bytes(Section::ItemBytes),
        }
    }
}

/// The advice [`RatingFile::prefault_records`] gives over `len` bytes:
/// `populate` on consecutive chunks of at most `chunk` bytes from offset 0,
/// until one is refused (it returns `false`); then `read_ahead` once on
/// everything from that chunk's start to the end, and nothing more.
#[cfg_attr(not(unix), allow(dead_code))]
fn advise_in_chunks(
    len: usize,
    chunk: usize,
    mut populate: impl FnMut(usize, usize) -> bool,
    mut read_ahead: impl FnMut(usize, usize),
) {
    let mut at = 0;
    while at < len {
        let n = chunk.min(len - at);
        if !populate(at, n) {
            read_ahead(at, len - at);
            return;
        }
        at += n;
    }
}

#[cfg(test)]
mod tests {
    use super::advise_in_chunks;

    /// The calls `advise_in_chunks` makes over `len` bytes in chunks of
    /// `chunk`, the populate advice refused from the `refuse_from`-th call
    /// on: ("populate" | "read ahead", offset, length) in order.
    fn advice(len: usize, chunk: usize, refuse_from: usize) -> Vec<(&'static str, usize, usize)> {
        let calls = std::cell::RefCell::new(Vec::new());
        advise_in_chunks(
            len,
            chunk,
            |at, n| {
                let mut calls = calls.borrow_mut();
                let accepted = calls.len() < refuse_from;
                calls.push(("populate", at, n));
                accepted
            },
            |at, n| calls.borrow_mut().push(("read ahead", at, n)),
        );
        calls.into_inner()
    }

    #[test]
    fn populate_covers_every_byte_once_in_chunks_when_it_is_accepted() {
        assert_eq!(
            advice(250, 100, usize::MAX),
            [
                ("populate", 0, 100),
                ("populate", 100, 100),
                ("populate", 200, 50)
            ]
        );
        assert_eq!(
            advice(200, 100, usize::MAX),
            [("populate", 0, 100), ("populate", 100, 100)]
        );
        assert_eq!(advice(0, 100, usize::MAX), []);
    }

    #[test]
    fn a_refused_populate_reads_ahead_the_rest_once_and_stops() {
        assert_eq!(
            advice(250, 100, 1),
            [
                ("populate", 0, 100),
                ("populate", 100, 100),
                ("read ahead", 100, 150)
            ]
        );
        assert_eq!(
            advice(250, 100, 0),
            [("populate", 0, 100), ("read ahead", 0, 250)]
        );
        assert_eq!(
            advice(250, 100, 2),
            [
                ("populate", 0, 100),
                ("populate", 100, 100),
                ("populate", 200, 50),
                ("read ahead", 200, 50)
            ]
        );
    }
}
