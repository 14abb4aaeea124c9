//! The on-disk layout: header, section table and block table as plain old
//! data, and the arithmetic of bands and grids.

use std::ops::Range;

use bytemuck::{Pod, Zeroable};

/// The first eight bytes of every rating file.
pub const MAGIC: [u8; 8] = *b"FUNKRATE";
/// The newest format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Written as a native `u32`; reads back as this value only on a machine
/// of the same byte order (the format is little-endian).
pub const ENDIAN_WORD: u32 = 0x0102_0304;
/// The largest grid (P) a file may have.
pub const MAX_GRID: usize = 1024;
/// The grid used for large data sets.
pub const LARGE_GRID: usize = 32;
/// Every section starts at a multiple of this.
pub const SECTION_ALIGN: u64 = 64;
/// Size of [`RawHeader`] on disk.
pub const HEADER_LEN: usize = 512;

/// Header flag: `range` holds the rating range.
pub const FLAG_RANGE: u64 = 1;
/// Header flag: `noise_floor` is known.
pub const FLAG_NOISE_FLOOR: u64 = 2;
/// Header flag: `mean_rmse` is known.
pub const FLAG_MEAN_RMSE: u64 = 4;

/// Where one section lies and its checksum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct SectionRef {
    /// Byte offset from the start of the file.
    pub offset: u64,
    /// Length in bytes.
    pub len: u64,
    /// xxh3-64 of the section's bytes (0 for the records section, whose
    /// blocks carry their own checksums in the block table).
    pub hash: u64,
}

impl SectionRef {
    pub(crate) fn range(&self) -> Range<usize> {
        self.offset as usize..(self.offset + self.len) as usize
    }
}

/// The sections, in file order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Section {
    /// P² [`BlockEntry`]s.
    BlockTable = 0,
    /// All records.
    Records,
    /// (users + 1) u64 byte offsets into `UserBytes`.
    UserOffsets,
    /// Concatenated UTF-8 user ids in internal order.
    UserBytes,
    /// Internal user ids sorted by external id.
    UserSorted,
    /// (items + 1) u64 byte offsets into `ItemBytes`.
    ItemOffsets,
    /// Concatenated UTF-8 item ids in internal order.
    ItemBytes,
    /// Internal item ids sorted by external id.
    ItemSorted,
    /// Provenance text.
    Source,
}

/// Number of sections.
pub const SECTIONS: usize = 9;

impl Section {
    /// All sections in file order.
    pub const ALL: [Section; SECTIONS] = [
        Section::BlockTable,
        Section::Records,
        Section::UserOffsets,
        Section::UserBytes,
        Section::UserSorted,
        Section::ItemOffsets,
        Section::ItemBytes,
        Section::ItemSorted,
        Section::Source,
    ];

    /// A name for messages and `inspect`.
    pub fn name(self) -> &'static str {
        match self {
            Section::BlockTable => "block table",
            Section::Records => "records",
            Section::UserOffsets => "user id offsets",
            Section::UserBytes => "user id bytes",
            Section::UserSorted => "user id index",
            Section::ItemOffsets => "item id offsets",
            Section::ItemBytes => "item id bytes",
            Section::ItemSorted => "item id index",
            Section::Source => "source",
        }
    }
}

/// The fixed-size header at offset 0.
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
#[repr(C)]
pub struct RawHeader {
    /// [`MAGIC`].
    pub magic: [u8; 8],
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// [`ENDIAN_WORD`].
    pub endian: u32,
    /// [`HEADER_LEN`].
    pub header_len: u64,
    /// Length of the whole file in bytes.
    pub file_len: u64,
    /// P: the grid is P × P blocks.
    pub grid: u64,
    /// Number of users.
    pub users: u64,
    /// Number of items.
    pub items: u64,
    /// Number of train records.
    pub train_count: u64,
    /// Number of test records.
    pub test_count: u64,
    /// Mean train rating.
    pub mean: f64,
    /// `FLAG_*` bits.
    pub flags: u64,
    /// Rating range (min, max) when `FLAG_RANGE`.
    pub range: [f32; 2],
    /// Noise floor when `FLAG_NOISE_FLOOR`.
    pub noise_floor: f64,
    /// Mean-predictor RMSE when `FLAG_MEAN_RMSE`.
    pub mean_rmse: f64,
    /// The seed of the id permutation.
    pub seed: u64,
    /// The sections, indexed by [`Section`].
    pub sections: [SectionRef; SECTIONS],
    /// Zero; room for later versions.
    pub reserved: [u64; 21],
    /// xxh3-64 of every header byte before this field.
    pub header_hash: u64,
}

const _: () = assert!(core::mem::size_of::<RawHeader>() == HEADER_LEN);

impl RawHeader {
    /// The xxh3 of the header bytes that precede `header_hash`.
    pub fn compute_hash(&self) -> u64 {
        let bytes = bytemuck::bytes_of(self);
        xxhash_rust::xxh3::xxh3_64(&bytes[..HEADER_LEN - 8])
    }

    /// The section `s`.
    pub fn section(&self, s: Section) -> SectionRef {
        self.sections[s as usize]
    }
}

/// What a writer puts in a header: all but the format's constants, the
/// flags (set from which of the optional values are known) and the hash.
pub(crate) struct HeaderFields {
    /// Length of the whole file in bytes.
    pub file_len: u64,
    /// P.
    pub grid: usize,
    /// Number of users.
    pub users: usize,
    /// Number of items.
    pub items: usize,
    /// Number of train records.
    pub train_count: u64,
    /// Number of test records.
    pub test_count: u64,
    /// Mean train rating.
    pub mean: f64,
    /// Rating range (min, max), if known.
    pub range: Option<(f32, f32)>,
    /// Noise floor, if known.
    pub noise_floor: Option<f64>,
    /// Mean-predictor RMSE, if known.
    pub mean_rmse: Option<f64>,
    /// The seed of the id permutation.
    pub seed: u64,
    /// The sections, indexed by [`Section`].
    pub sections: [SectionRef; SECTIONS],
}

impl HeaderFields {
    /// The header: these fields, the format's constants, the `FLAG_*` bits
    /// of the known optional values (an unknown one is written as 0), and
    /// the header hash.
    pub(crate) fn seal(self) -> RawHeader {
        let mut flags = 0;
        if self.range.is_some() {
            flags |= FLAG_RANGE;
        }
        if self.noise_floor.is_some() {
            flags |= FLAG_NOISE_FLOOR;
        }
        if self.mean_rmse.is_some() {
            flags |= FLAG_MEAN_RMSE;
        }
        let (lo, hi) = self.range.unwrap_or((0.0, 0.0));
        let mut header = RawHeader {
            magic: MAGIC,
            version: FORMAT_VERSION,
            endian: ENDIAN_WORD.to_le(),
            header_len: HEADER_LEN as u64,
            file_len: self.file_len,
            grid: self.grid as u64,
            users: self.users as u64,
            items: self.items as u64,
            train_count: self.train_count,
            test_count: self.test_count,
            mean: self.mean,
            flags,
            range: [lo, hi],
            noise_floor: self.noise_floor.unwrap_or(0.0),
            mean_rmse: self.mean_rmse.unwrap_or(0.0),
            seed: self.seed,
            sections: self.sections,
            reserved: [0; 21],
            header_hash: 0,
        };
        header.header_hash = header.compute_hash();
        header
    }
}

/// Where sections of lengths `lens` (indexed by [`Section`]) lie: in file
/// order after the header, each at the next multiple of
/// [`SECTION_ALIGN`]; their hashes are left 0. Returns them and the
/// file's length (the end of the last one).
pub(crate) fn place_sections(lens: [u64; SECTIONS]) -> ([SectionRef; SECTIONS], u64) {
    let mut sections = [SectionRef::default(); SECTIONS];
    let mut offset = align_up(HEADER_LEN as u64);
    for s in Section::ALL {
        let len = lens[s as usize];
        sections[s as usize] = SectionRef {
            offset,
            len,
            hash: 0,
        };
        offset = align_up(offset + len);
    }
    let last = sections[SECTIONS - 1];
    (sections, last.offset + last.len)
}

/// One block of the P × P grid: where its records are (as record indices
/// into the records section) and their checksums.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct BlockEntry {
    /// Index of the block's first train record.
    pub train_start: u64,
    /// Number of train records.
    pub train_len: u64,
    /// Index of the block's first test record.
    pub test_start: u64,
    /// Number of test records.
    pub test_len: u64,
    /// xxh3-64 of the train records' bytes.
    pub train_hash: u64,
    /// xxh3-64 of the test records' bytes.
    pub test_hash: u64,
}

/// Size of a [`BlockEntry`] on disk.
pub const BLOCK_ENTRY_LEN: usize = core::mem::size_of::<BlockEntry>();

/// Band `b` of `n` rows cut into `p` bands: `[b·n/p, (b+1)·n/p)`.
///
/// # Examples
///
/// ```
/// use funkd::ratingfile::band_range;
/// assert_eq!(band_range(10, 3, 0), 0..3);
/// assert_eq!(band_range(10, 3, 2), 6..10);
/// ```
pub fn band_range(n: usize, p: usize, b: usize) -> Range<usize> {
    let start = (b as u128 * n as u128 / p.max(1) as u128) as usize;
    let end = ((b as u128 + 1) * n as u128 / p.max(1) as u128) as usize;
    start..end
}

/// The band that row `r` of `n` rows falls in, for a grid of `p`.
pub(crate) fn band_of(n: usize, p: usize, r: usize) -> usize {
    // b = floor(((r+1)·p − 1)/n) is the largest b with b·n/p ≤ r.
    let b = ((r as u128 + 1) * p as u128 - 1) / n as u128;
    b as usize
}

/// The default grid for a data set: 32 for large sets, smaller for small
/// ones (about 2,000 ratings per block at least), never more bands than
/// users or items (every band non-empty), at least 1.
pub fn default_grid(users: usize, items: usize, ratings: u64) -> usize {
    let by_size = ((ratings as f64 / 2048.0).sqrt().round() as usize).clamp(1, LARGE_GRID);
    by_size.min(users).min(items).max(1)
}

/// Rounds `x` up to a multiple of [`SECTION_ALIGN`].
pub(crate) fn align_up(x: u64) -> u64 {
    x.div_ceil(SECTION_ALIGN) * SECTION_ALIGN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_of_agrees_with_band_range() {
        for n in 1..60 {
            for p in 1..=n.min(13) {
                for b in 0..p {
                    for r in band_range(n, p, b) {
                        assert_eq!(band_of(n, p, r), b, "n={n} p={p} r={r}");
                    }
                }
                assert_eq!(band_range(n, p, p - 1).end, n);
            }
        }
    }

    #[test]
    fn default_grid_is_32_at_netflix_scale_and_small_for_tiny_sets() {
        assert_eq!(default_grid(480_189, 17_770, 99_072_112), 32);
        assert_eq!(default_grid(3, 1000, 1_000_000), 3);
        assert_eq!(default_grid(10, 10, 5), 1);
        assert!(default_grid(943, 1682, 80_000) < 32);
    }
}
