//! Fixtures shared by the rating-file tests.
#![allow(dead_code)]

use std::collections::BTreeMap;

use funkd::ratingfile::{self, FormatError, Meta, RatingFile, RatingSet, Triple, WriteOptions};

/// A small set with string ids, negative and fractional values.
pub fn sample_set(users: usize, items: usize, seed: u64) -> RatingSet {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        x >> 33
    };
    let mut train = Vec::new();
    let mut test = Vec::new();
    for u in 0..users as u32 {
        for i in 0..items as u32 {
            match next() % 4 {
                0 => train.push(Triple {
                    user: u,
                    item: i,
                    value: (next() % 1000) as f32 / 37.0 - 13.5,
                }),
                1 => test.push(Triple {
                    user: u,
                    item: i,
                    value: -((next() % 100) as f32),
                }),
                _ => {}
            }
        }
    }
    if train.is_empty() {
        train.push(Triple {
            user: 0,
            item: 0,
            value: 1.0,
        });
    }
    RatingSet {
        user_ids: (0..users).map(|u| format!("user-{u}é")).collect(),
        item_ids: (0..items).map(|i| format!("{}", 1000 - i)).collect(),
        train,
        test,
        meta: Meta {
            rating_range: None,
            noise_floor: Some(0.5),
            mean_rmse: Some(1.25),
            source: "test".into(),
        },
    }
}

/// The ratings of a set keyed by external ids.
pub fn by_external(set: &RatingSet, which: &[Triple]) -> BTreeMap<(String, String), u32> {
    which
        .iter()
        .map(|t| {
            (
                (
                    set.user_ids[t.user as usize].clone(),
                    set.item_ids[t.item as usize].clone(),
                ),
                t.value.to_bits(),
            )
        })
        .collect()
}

pub fn write_tmp(set: &RatingSet, opts: WriteOptions) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.funk");
    ratingfile::write(&path, set, &opts).unwrap();
    (dir, path)
}

/// [`write_tmp`] with a `grid` × `grid` block grid and the split's `seed`.
pub fn write_grid(
    set: &RatingSet,
    grid: usize,
    seed: u64,
) -> (tempfile::TempDir, std::path::PathBuf) {
    write_tmp(
        set,
        WriteOptions {
            grid: Some(grid),
            seed,
        },
    )
}

pub fn open_err(bytes: &[u8]) -> FormatError {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.funk");
    std::fs::write(&path, bytes).unwrap();
    match RatingFile::open(&path) {
        Ok(f) => f
            .verify()
            .expect_err("damage not detected by open or verify"),
        Err(e) => e,
    }
}

pub fn good_bytes() -> Vec<u8> {
    let (_dir, path) = write_grid(&sample_set(16, 9, 11), 3, 1);
    std::fs::read(path).unwrap()
}

/// Byte offsets of the header's fields (the format is little-endian).
pub mod field {
    pub const VERSION: usize = 8;
    pub const FILE_LEN: usize = 24;
    pub const GRID: usize = 32;
    pub const USERS: usize = 40;
    pub const ITEMS: usize = 48;
    pub const TRAIN_COUNT: usize = 56;
    pub const TEST_COUNT: usize = 64;
    pub const MEAN: usize = 72;
    pub const FLAGS: usize = 80;
    pub const RANGE: usize = 88;
    pub const SECTIONS: usize = 120;
    pub const HEADER_HASH: usize = 504;
}

/// The sections' places in the header's section table.
pub mod section {
    pub const BLOCK_TABLE: usize = 0;
    pub const RECORDS: usize = 1;
    pub const USER_OFFSETS: usize = 2;
    pub const USER_BYTES: usize = 3;
    pub const USER_SORTED: usize = 4;
    pub const ITEM_SORTED: usize = 7;
    pub const SOURCE: usize = 8;
    pub const COUNT: usize = 9;
}

/// Size of one block-table entry and of one record.
pub const BLOCK_ENTRY_LEN: usize = 48;
pub const RECORD_LEN: usize = 12;

pub fn get_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}

pub fn put_u64(bytes: &mut [u8], at: usize, v: u64) {
    bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

pub fn put_u32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Where section `s` (see [`section`]) lies: (offset, length).
pub fn section_at(bytes: &[u8], s: usize) -> (usize, usize) {
    let at = field::SECTIONS + 24 * s;
    (get_u64(bytes, at) as usize, get_u64(bytes, at + 8) as usize)
}

/// Moves section `s` to `offset` with length `len` in the section table.
pub fn set_section(bytes: &mut [u8], s: usize, offset: u64, len: u64) {
    let at = field::SECTIONS + 24 * s;
    put_u64(bytes, at, offset);
    put_u64(bytes, at + 8, len);
}

/// Byte offset of field `word` (0 train_start, 1 train_len, 2 test_start,
/// 3 test_len) of block-table entry `b`.
pub fn block_field(bytes: &[u8], b: usize, word: usize) -> usize {
    section_at(bytes, section::BLOCK_TABLE).0 + b * BLOCK_ENTRY_LEN + 8 * word
}

/// Byte offset of record `n` (train records first, then test records).
pub fn record_at(bytes: &[u8], n: usize) -> usize {
    section_at(bytes, section::RECORDS).0 + n * RECORD_LEN
}

/// Recomputes every checksum of the file after an edit: each block's
/// record checksums, each section's and the header's, so that only the
/// consistency checks stand between the edit and a reader. Checksums of
/// ranges the edit moved outside the file are left as they are.
pub fn reseal(bytes: &mut [u8]) {
    let hash = xxhash_rust::xxh3::xxh3_64;
    let (table, table_len) = section_at(bytes, section::BLOCK_TABLE);
    let (records, _) = section_at(bytes, section::RECORDS);
    for b in 0..table_len / BLOCK_ENTRY_LEN {
        let entry = table + b * BLOCK_ENTRY_LEN;
        for (start_word, hash_word) in [(0, 4), (2, 5)] {
            let start = get_u64(bytes, entry + 8 * start_word) as usize;
            let len = get_u64(bytes, entry + 8 * start_word + 8) as usize;
            let from = records + start * RECORD_LEN;
            if let Some(r) = bytes.get(from..from + len * RECORD_LEN) {
                let h = hash(r);
                if let Some(slot) = bytes.get_mut(entry + 8 * hash_word..entry + 8 * hash_word + 8)
                {
                    slot.copy_from_slice(&h.to_le_bytes());
                }
            }
        }
    }
    for s in (0..section::COUNT).filter(|&s| s != section::RECORDS) {
        let (offset, len) = section_at(bytes, s);
        if let Some(h) = bytes.get(offset..offset.saturating_add(len)).map(hash) {
            put_u64(bytes, field::SECTIONS + 24 * s + 16, h);
        }
    }
    let h = hash(&bytes[..field::HEADER_HASH]);
    put_u64(bytes, field::HEADER_HASH, h);
}

/// The error opening (then verifying) `bytes` after `edit` and [`reseal`].
pub fn resealed_err(edit: impl FnOnce(&mut Vec<u8>)) -> FormatError {
    let mut bytes = good_bytes();
    edit(&mut bytes);
    reseal(&mut bytes);
    open_err(&bytes)
}
