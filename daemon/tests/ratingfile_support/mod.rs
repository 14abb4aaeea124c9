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
    let (_dir, path) = write_tmp(
        &sample_set(16, 9, 11),
        WriteOptions {
            grid: Some(3),
            seed: 1,
        },
    );
    std::fs::read(path).unwrap()
}
