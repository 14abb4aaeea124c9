//! The rating file: round trips, blocking, ids, determinism, and every
//! kind of damage detected with a clear error (never a panic).

use std::collections::BTreeMap;
use std::path::Path;

use funkd::ratingfile::{self, FormatError, Meta, RatingFile, RatingSet, Triple, WriteOptions};
use proptest::prelude::*;

/// A small set with string ids, negative and fractional values.
fn sample_set(users: usize, items: usize, seed: u64) -> RatingSet {
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
fn by_external(set: &RatingSet, which: &[Triple]) -> BTreeMap<(String, String), u32> {
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

fn write_tmp(set: &RatingSet, opts: WriteOptions) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.funk");
    ratingfile::write(&path, set, &opts).unwrap();
    (dir, path)
}

#[test]
fn write_then_open_gives_back_every_rating_by_external_id() {
    let set = sample_set(37, 23, 7);
    let (_dir, path) = write_tmp(
        &set,
        WriteOptions {
            grid: Some(4),
            seed: 9,
        },
    );
    let file = RatingFile::open(&path).unwrap();
    assert_eq!((file.users(), file.items(), file.grid()), (37, 23, 4));
    assert_eq!(file.train_count(), set.train.len() as u64);
    assert_eq!(file.test_count(), set.test.len() as u64);
    assert_eq!(file.noise_floor(), Some(0.5));
    assert_eq!(file.mean_rmse(), Some(1.25));
    assert_eq!(file.rating_range(), None);
    assert_eq!(file.source(), "test");
    let mean = set.train.iter().map(|t| f64::from(t.value)).sum::<f64>() / set.train.len() as f64;
    assert!((file.mean() - mean).abs() < 1e-12);
    let back = file.to_rating_set();
    assert_eq!(
        by_external(&back, &back.train),
        by_external(&set, &set.train)
    );
    assert_eq!(by_external(&back, &back.test), by_external(&set, &set.test));
    assert_eq!(back.meta, set.meta);
    file.verify().unwrap();
}

#[test]
fn blocks_hold_band_local_records_sorted_by_user_then_item() {
    let set = sample_set(50, 31, 3);
    let (_dir, path) = write_tmp(
        &set,
        WriteOptions {
            grid: Some(5),
            seed: 1,
        },
    );
    let file = RatingFile::open(&path).unwrap();
    let mut total = 0;
    for ub in 0..5 {
        for ib in 0..5 {
            let (rows, cols) = (file.user_band(ub), file.item_band(ib));
            let block = file.train_block(ub, ib);
            total += block.len();
            for w in block.windows(2) {
                assert!((w[0].user, w[0].item) < (w[1].user, w[1].item));
            }
            for r in block.iter().chain(file.test_block(ub, ib)) {
                assert!((r.user as usize) < rows.len() && (r.item as usize) < cols.len());
            }
        }
    }
    assert_eq!(total as u64, file.train_count());
    assert_eq!(file.user_band(4).end, 50);
    assert_eq!(file.item_band(0).start, 0);
}

#[test]
fn id_index_maps_external_ids_to_internal_and_back() {
    let set = sample_set(20, 10, 5);
    let (_dir, path) = write_tmp(
        &set,
        WriteOptions {
            grid: None,
            seed: 2,
        },
    );
    let file = RatingFile::open(&path).unwrap();
    let users = file.user_index();
    for name in &set.user_ids {
        let internal = users.get(name).unwrap();
        assert_eq!(file.user_id(internal), name);
    }
    assert_eq!(users.get("nobody"), None);
    let items = file.item_index();
    assert_eq!(file.item_id(items.get("995").unwrap()), "995");
    // The renumbering is a real permutation, not the identity.
    let moved = (0..20)
        .filter(|&i| file.user_id(i) != set.user_ids[i])
        .count();
    assert!(moved > 0);
}

#[test]
fn same_set_and_seed_give_the_same_bytes_and_identity() {
    let set = sample_set(30, 12, 1);
    let (_a, pa) = write_tmp(
        &set,
        WriteOptions {
            grid: Some(3),
            seed: 4,
        },
    );
    let (_b, pb) = write_tmp(
        &set,
        WriteOptions {
            grid: Some(3),
            seed: 4,
        },
    );
    let (_c, pc) = write_tmp(
        &set,
        WriteOptions {
            grid: Some(3),
            seed: 5,
        },
    );
    assert_eq!(std::fs::read(&pa).unwrap(), std::fs::read(&pb).unwrap());
    let (fa, fc) = (
        RatingFile::open(&pa).unwrap(),
        RatingFile::open(&pc).unwrap(),
    );
    assert_ne!(fa.identity(), fc.identity());
    assert_eq!(fa.identity(), RatingFile::open(&pb).unwrap().identity());
}

#[test]
fn encode_gives_the_bytes_write_puts_in_the_file() {
    let set = sample_set(12, 7, 2);
    let opts = WriteOptions {
        grid: Some(2),
        seed: 6,
    };
    let (_dir, path) = write_tmp(&set, opts);
    let (bytes, summary) = ratingfile::encode(&set, &opts).unwrap();
    assert_eq!(bytes, std::fs::read(&path).unwrap());
    assert_eq!(summary.bytes, bytes.len() as u64);
    assert_eq!(
        summary.identity,
        RatingFile::open(&path).unwrap().identity()
    );
}

#[test]
fn default_grid_keeps_every_band_non_empty() {
    let mut set = sample_set(3, 40, 2);
    set.train.extend((0..3).flat_map(|u| {
        (0..40).map(move |i| Triple {
            user: u,
            item: i,
            value: 1.0,
        })
    }));
    set.test.clear();
    set.train.sort_by_key(|t| (t.user, t.item));
    set.train.dedup_by_key(|t| (t.user, t.item));
    let (_dir, path) = write_tmp(&set, WriteOptions::default());
    let file = RatingFile::open(&path).unwrap();
    assert!(file.grid() <= 3);
    for b in 0..file.grid() {
        assert!(!file.user_band(b).is_empty());
    }
}

#[test]
fn writer_refuses_bad_sets_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.funk");
    let mut dup = sample_set(5, 5, 1);
    dup.train.push(dup.train[0]);
    let mut nan = sample_set(5, 5, 1);
    nan.train[0].value = f32::NAN;
    let mut range = sample_set(5, 5, 1);
    range.train[0].user = 99;
    let mut ids = sample_set(5, 5, 1);
    ids.user_ids[1] = ids.user_ids[0].clone();
    let empty = RatingSet {
        train: vec![],
        ..sample_set(5, 5, 1)
    };
    for (set, grid, what) in [
        (&dup, None, "duplicate"),
        (&nan, None, "not finite"),
        (&range, None, "beyond the id tables"),
        (&ids, None, "more than once"),
        (&empty, None, "no training ratings"),
        (&sample_set(5, 5, 1), Some(6), "non-empty"),
        (&sample_set(5, 5, 1), Some(0), "outside"),
    ] {
        let err = ratingfile::write(&path, set, &WriteOptions { grid, seed: 0 }).unwrap_err();
        assert!(err.to_string().contains(what), "{err} lacks {what:?}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

fn open_err(bytes: &[u8]) -> FormatError {
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

fn good_bytes() -> Vec<u8> {
    let (_dir, path) = write_tmp(
        &sample_set(16, 9, 11),
        WriteOptions {
            grid: Some(3),
            seed: 1,
        },
    );
    std::fs::read(path).unwrap()
}

#[test]
fn empty_short_and_foreign_files_are_refused_by_name() {
    assert!(open_err(b"").to_string().contains("empty"));
    assert!(matches!(
        open_err(b"FUNK"),
        FormatError::Corrupt { .. } | FormatError::BadMagic { .. }
    ));
    assert!(matches!(
        open_err(b"user,item,rating\n1,2,3\n"),
        FormatError::BadMagic { .. }
    ));
    let mut bytes = good_bytes();
    bytes[0] = b'X';
    assert!(matches!(open_err(&bytes), FormatError::BadMagic { .. }));
    assert!(open_err(&bytes).to_string().contains("bad.funk"));
}

#[test]
fn a_future_version_is_named_as_such() {
    let mut bytes = good_bytes();
    bytes[8..12].copy_from_slice(&7u32.to_le_bytes());
    let err = open_err(&bytes);
    assert!(
        matches!(err, FormatError::FutureVersion { found: 7, .. }),
        "{err}"
    );
}

#[test]
fn truncated_or_extended_files_are_refused() {
    let bytes = good_bytes();
    for cut in [bytes.len() - 1, bytes.len() / 2, 600, 511, 100, 9] {
        let err = open_err(&bytes[..cut]);
        assert!(
            matches!(err, FormatError::Corrupt { .. }),
            "cut at {cut}: {err}"
        );
    }
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0; 64]);
    assert!(open_err(&longer).to_string().contains("bytes"));
}

#[test]
fn every_single_bit_flip_is_detected() {
    let bytes = good_bytes();
    // Every bit of the header and block table, then a stride through the rest.
    let positions: Vec<usize> = (0..1024.min(bytes.len()))
        .chain((1024..bytes.len()).step_by(7))
        .collect();
    for &pos in &positions {
        for bit in [0, 3, 7] {
            let mut damaged = bytes.clone();
            damaged[pos] ^= 1 << bit;
            let _ = open_err(&damaged); // panics inside if undetected
        }
    }
}

#[test]
fn a_header_whose_counts_disagree_with_the_length_is_refused() {
    // Rewrite train_count and re-seal the header checksum: only the
    // consistency checks can catch it.
    let mut bytes = good_bytes();
    let train_at = 8 + 8 + 8 + 8 + 8 + 8 + 8;
    let n = u64::from_le_bytes(bytes[train_at..train_at + 8].try_into().unwrap());
    bytes[train_at..train_at + 8].copy_from_slice(&(n + 1).to_le_bytes());
    let hash = xxhash_rust_hash(&bytes[..504]);
    bytes[504..512].copy_from_slice(&hash.to_le_bytes());
    let err = open_err(&bytes);
    assert!(matches!(err, FormatError::Corrupt { .. }), "{err}");
}

fn xxhash_rust_hash(b: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(b)
}

#[test]
fn open_reads_a_file_written_by_gen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.funk");
    let config = funkd::gen::GenConfig {
        scale: 0.002,
        seed: 3,
        ..Default::default()
    };
    let summary = funkd::gen::generate(&config, &path).unwrap();
    let file = RatingFile::open(&path).unwrap();
    assert_eq!(file.train_count(), summary.train);
    file.verify().unwrap();
    assert!(Path::new(&path).exists());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn random_sets_round_trip(users in 1usize..30, items in 1usize..30, seed in 0u64..1000, grid in 1usize..6) {
        let set = sample_set(users, items, seed);
        let grid = grid.min(users).min(items);
        let (_dir, path) = write_tmp(&set, WriteOptions { grid: Some(grid), seed });
        let file = RatingFile::open(&path).unwrap();
        file.verify().unwrap();
        let back = file.to_rating_set();
        prop_assert_eq!(by_external(&back, &back.train), by_external(&set, &set.train));
        prop_assert_eq!(by_external(&back, &back.test), by_external(&set, &set.test));
    }

    #[test]
    fn random_damage_never_panics(edits in proptest::collection::vec((0usize..4096, any::<u8>()), 1..8)) {
        let mut bytes = good_bytes();
        for (pos, val) in edits {
            let n = bytes.len();
            bytes[pos % n] = val;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.funk");
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(file) = RatingFile::open(&path) {
            let _ = file.verify();
        }
    }
}
