//! The rating file: round trips, blocking, ids, determinism, the writer's
//! refusals, and files made by `gen`.

mod ratingfile_support;

use funkd::ratingfile::{self, RatingFile, RatingSet, Triple, WriteOptions};
use proptest::prelude::*;
use ratingfile_support::{by_external, sample_set, write_grid, write_tmp};

#[test]
fn write_then_open_gives_back_every_rating_by_external_id() {
    let set = sample_set(37, 23, 7);
    let (_dir, path) = write_grid(&set, 4, 9);
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
    let (_dir, path) = write_grid(&set, 5, 1);
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
    let (_a, pa) = write_grid(&set, 3, 4);
    let (_b, pb) = write_grid(&set, 3, 4);
    let (_c, pc) = write_grid(&set, 3, 5);
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
    assert!(path.exists());
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

}

#[test]
fn gen_is_skewed_duplicate_free_and_deterministic_like_the_netflix_shape() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.funk"), dir.path().join("b.funk"));
    let config = funkd::gen::GenConfig {
        scale: 0.01,
        seed: 12,
        ..Default::default()
    };
    let summary = funkd::gen::generate(&config, &a).unwrap();
    funkd::gen::generate(&config, &b).unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let file = RatingFile::open(&a).unwrap();
    file.verify().unwrap(); // sorted blocks with no repeated (user, item)
    let (users, items, ratings) = config.shape();
    assert_eq!((file.users(), file.items()), (users, items));
    assert_eq!(file.train_count() + file.test_count(), ratings);
    let test_share = file.test_count() as f64 / ratings as f64;
    assert!(
        (0.008..0.02).contains(&test_share),
        "test share {test_share}"
    );
    assert_eq!(file.rating_range(), Some((1.0, 5.0)));
    assert!(summary.noise_floor < summary.mean_rmse.unwrap());

    let set = file.to_rating_set();
    let mut per_user = vec![0u32; users];
    let mut per_item = vec![0u32; items];
    let mut pairs = std::collections::HashSet::new();
    for t in set.train.iter().chain(&set.test) {
        per_user[t.user as usize] += 1;
        per_item[t.item as usize] += 1;
        assert!(
            pairs.insert((t.user, t.item)),
            "pair repeated across splits"
        );
        assert!(t.value >= 1.0 && t.value <= 5.0 && t.value.fract() == 0.0);
    }
    let skew = |mut v: Vec<u32>| {
        v.sort_unstable();
        f64::from(v[v.len() - 1]) / f64::from(v[v.len() / 2].max(1))
    };
    assert!(
        per_user.iter().all(|&n| n >= 1),
        "every user rates something"
    );
    // Scale 0.01 measures about 5 for both (uniform sampling would give ~1.5).
    assert!(skew(per_user) > 3.0, "user activity not skewed");
    assert!(skew(per_item) > 3.0, "item popularity not skewed");
}

#[test]
fn the_header_fields_read_back_as_written() {
    let set = sample_set(37, 23, 7);
    let (_dir, path) = write_grid(&set, 4, 9);
    let file = RatingFile::open(&path).unwrap();
    assert_eq!(file.path(), path.as_path());
    assert_eq!(file.format_version(), ratingfile::FORMAT_VERSION);
    assert_eq!(file.format_version(), 1);
    assert_eq!(file.file_len(), std::fs::metadata(&path).unwrap().len());
    assert_eq!(file.seed(), 9);
    assert_eq!(file.user_band(1), ratingfile::band_range(37, 4, 1));
    assert_eq!(file.item_band(3), ratingfile::band_range(23, 4, 3));
    let (with_range, no_meta) = (
        RatingSet {
            meta: ratingfile::Meta {
                rating_range: Some((-2.5, 7.0)),
                noise_floor: Some(0.0625),
                mean_rmse: Some(3.5),
                source: String::new(),
            },
            ..sample_set(5, 4, 1)
        },
        RatingSet {
            meta: ratingfile::Meta::default(),
            ..sample_set(5, 4, 1)
        },
    );
    let (_d, p) = write_tmp(&with_range, WriteOptions::default());
    let file = RatingFile::open(&p).unwrap();
    assert_eq!(file.rating_range(), Some((-2.5, 7.0)));
    assert_eq!(file.noise_floor(), Some(0.0625));
    assert_eq!(file.mean_rmse(), Some(3.5));
    let (_d, p) = write_tmp(&no_meta, WriteOptions::default());
    let file = RatingFile::open(&p).unwrap();
    assert_eq!(file.rating_range(), None);
    assert_eq!(file.noise_floor(), None);
    assert_eq!(file.mean_rmse(), None);
    assert_eq!(file.source(), "");
}

#[test]
fn the_section_table_lists_every_section_in_file_order() {
    let (_dir, path) = write_grid(&sample_set(16, 9, 11), 3, 1);
    let file = RatingFile::open(&path).unwrap();
    let sections = file.sections();
    let names: Vec<&str> = sections.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        [
            "block table",
            "records",
            "user id offsets",
            "user id bytes",
            "user id index",
            "item id offsets",
            "item id bytes",
            "item id index",
            "source",
        ]
    );
    assert_eq!(sections[0].1.offset, 512);
    assert_eq!(sections[0].1.len, 9 * 48);
    assert_eq!(sections[1].1.hash, 0);
    assert_eq!(
        sections[1].1.len,
        12 * (file.train_count() + file.test_count())
    );
    assert_eq!(sections[2].1.len, 8 * 17);
    let last = sections[8].1;
    assert_eq!(last.offset + last.len, file.file_len());
    assert_eq!(last.len, "test".len() as u64);
}

#[test]
fn block_balance_counts_the_train_ratings_per_block() {
    let (_dir, path) = write_grid(&sample_set(37, 23, 7), 4, 9);
    let file = RatingFile::open(&path).unwrap();
    let lens: Vec<u64> = (0..16)
        .map(|b| file.train_block(b / 4, b % 4).len() as u64)
        .collect();
    let balance = file.block_balance();
    assert_eq!(balance.min, *lens.iter().min().unwrap());
    assert_eq!(balance.max, *lens.iter().max().unwrap());
    assert!(balance.min < balance.max);
    assert_eq!(balance.mean, file.train_count() as f64 / 16.0);
    for (b, &len) in lens.iter().enumerate() {
        assert_eq!(file.block_entry(b / 4, b % 4).train_len, len);
    }
}

#[test]
fn checked_blocks_are_the_blocks_once_every_block_passed() {
    let (_dir, path) = write_grid(&sample_set(16, 9, 11), 3, 1);
    let file = RatingFile::open(&path).unwrap();
    assert_eq!(file.blocks_checked(), 0);
    file.check_all_blocks().unwrap();
    assert_eq!(file.blocks_checked(), 9);
    for (ub, ib) in (0..3).flat_map(|ub| (0..3).map(move |ib| (ub, ib))) {
        let train = file.checked_train_records(ub, ib).unwrap();
        assert_eq!(train, file.train_block(ub, ib));
        assert_eq!(
            file.checked_test_records(ub, ib).unwrap(),
            file.test_block(ub, ib)
        );
        let checked = file.checked_train_block(ub, ib).unwrap();
        assert_eq!(checked.ratings(), train);
        assert_eq!(
            (checked.users(), checked.items()),
            (file.user_band(ub).len(), file.item_band(ib).len())
        );
    }
    assert!(file.train_block(2, 2).len() + file.test_block(2, 2).len() > 1);
}

#[test]
fn prefaulting_the_records_returns_and_changes_nothing() {
    let set = sample_set(37, 23, 7);
    let (_dir, path) = write_tmp(&set, WriteOptions::default());
    let file = RatingFile::open(&path).unwrap();
    let before = file.to_rating_set();
    file.prefault_records();
    assert_eq!(file.to_rating_set(), before);
    file.verify().unwrap();
}

#[test]
fn source_command_adds_the_output_path_to_funkd_commands_only() {
    let cases = [
        ("funkd import ratings.csv", true),
        ("funkd gen --scale 0.1 --seed 3", true),
        ("funkd import ratings.csv -o other.funk", false),
        ("funkd gen --scale 0.1 --out other.funk", false),
        ("collected by hand", false),
        ("funkd importer x", false),
    ];
    for (source, adds) in cases {
        let mut set = sample_set(5, 4, 1);
        set.meta.source = source.into();
        let (_dir, path) = write_tmp(&set, WriteOptions::default());
        let file = RatingFile::open(&path).unwrap();
        let expected = if adds {
            format!("{source} -o {}", path.display())
        } else {
            source.to_string()
        };
        assert_eq!(file.source_command(), expected, "source {source:?}");
    }
}

#[test]
fn the_default_grid_grows_with_the_square_root_of_the_ratings() {
    use ratingfile::default_grid;
    // About 2,048 ratings per block: P = round(√(ratings / 2048)).
    assert_eq!(default_grid(1000, 1000, 2048 * 100), 10);
    assert_eq!(default_grid(1000, 1000, 2048 * 16), 4);
    assert_eq!(default_grid(1000, 1000, 2048 * 6), 2);
    assert_eq!(default_grid(1000, 1000, 5), 1);
    // At most 32, and never more bands than users or items.
    assert_eq!(default_grid(480_189, 17_770, 99_072_112), 32);
    assert_eq!(default_grid(7, 1000, 2048 * 100), 7);
    assert_eq!(default_grid(1000, 5, 2048 * 100), 5);
}
