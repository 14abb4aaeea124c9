//! Damage that keeps every checksum right: the file is edited, then every
//! block, section and header checksum is recomputed, so only the
//! consistency checks of `open` and `verify` stand between the edit and a
//! reader. Each check is pinned by the message it gives, so a check that
//! stops working cannot hide behind a later one that happens to fail too.

mod ratingfile_support;

use funkd::ratingfile::{FormatError, RatingFile};
use ratingfile_support::{
    block_field, field, get_u64, good_bytes, open_err, put_u32, put_u64, record_at, reseal,
    resealed_err, sample_set, section, section_at, set_section, write_grid,
};

/// `err` is a [`FormatError::Corrupt`] about the file `open_err` wrote,
/// whose message contains `what`.
fn assert_corrupt(err: &FormatError, what: &str) {
    assert!(
        matches!(err, FormatError::Corrupt { .. }),
        "expected a corrupt-file error about {what:?}, got: {err}"
    );
    let message = err.to_string();
    assert!(
        message.contains("bad.funk: corrupt rating file: "),
        "{message} does not name the file"
    );
    assert!(message.contains(what), "{message} lacks {what:?}");
}

fn open_bytes(bytes: &[u8]) -> (tempfile::TempDir, RatingFile) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.funk");
    std::fs::write(&path, bytes).unwrap();
    let file = RatingFile::open(&path).unwrap();
    (dir, file)
}

#[test]
fn resealing_an_untouched_file_changes_nothing() {
    let good = good_bytes();
    let mut bytes = good.clone();
    reseal(&mut bytes);
    assert!(bytes == good, "reseal changed an untouched file");
}

#[test]
fn a_file_shorter_than_the_magic_is_foreign_and_the_bare_magic_is_truncated() {
    let err = open_err(b"FUNK");
    assert!(matches!(err, FormatError::BadMagic { .. }), "{err}");
    assert_corrupt(
        &open_err(b"FUNKRATE"),
        "the file is 8 bytes, shorter than the 512-byte header",
    );
}

#[test]
fn the_header_alone_is_truncated_at_the_length_it_claims() {
    let bytes = good_bytes();
    let err = open_err(&bytes[..512]);
    assert_corrupt(
        &err,
        &format!(
            "the header says the file is {} bytes but it is 512 bytes (truncated)",
            bytes.len()
        ),
    );
}

#[test]
fn format_version_0_is_refused() {
    let err = resealed_err(|b| put_u32(b, field::VERSION, 0));
    assert_corrupt(&err, "format version 0 does not exist");
}

#[test]
fn a_grid_outside_1_to_1024_is_refused_as_such() {
    for grid in [0, 1025, u64::MAX] {
        let err = resealed_err(|b| put_u64(b, field::GRID, grid));
        assert_corrupt(&err, &format!("grid {grid} is outside 1..=1024"));
    }
    // 1024 itself is a grid; 16 users cannot fill it.
    let err = resealed_err(|b| put_u64(b, field::GRID, 1024));
    assert_corrupt(&err, "16 users and 9 items cannot fill a 1024 × 1024 grid");
}

#[test]
fn too_few_or_too_many_users_or_items_for_the_grid_are_refused() {
    let beyond_u32 = u64::from(u32::MAX) + 1;
    for (at, n, what) in [
        (field::USERS, 2, "2 users and 9 items"),
        (field::ITEMS, 2, "16 users and 2 items"),
        (field::USERS, beyond_u32, "4294967296 users and 9 items"),
        (field::ITEMS, beyond_u32, "16 users and 4294967296 items"),
    ] {
        let err = resealed_err(|b| put_u64(b, at, n));
        assert_corrupt(&err, &format!("{what} cannot fill a 3 × 3 grid"));
    }
    // u32::MAX users or items fit the grid and the ids; the tables then
    // disagree with the counts.
    let err = resealed_err(|b| put_u64(b, field::USERS, u64::from(u32::MAX)));
    assert_corrupt(&err, "the user id offsets section is");
    let err = resealed_err(|b| put_u64(b, field::ITEMS, u64::from(u32::MAX)));
    assert_corrupt(&err, "the item id offsets section is");
}

#[test]
fn as_many_users_and_items_as_bands_is_a_valid_file() {
    let set = sample_set(3, 3, 5);
    let (_dir, path) = write_grid(&set, 3, 2);
    let file = RatingFile::open(&path).unwrap();
    assert_eq!((file.users(), file.items(), file.grid()), (3, 3, 3));
    file.verify().unwrap();
}

#[test]
fn a_mean_that_is_not_finite_is_refused() {
    for mean in [f64::NAN, f64::INFINITY] {
        let err = resealed_err(|b| put_u64(b, field::MEAN, mean.to_bits()));
        assert_corrupt(&err, &format!("mean rating {mean} is not finite"));
    }
}

#[test]
fn unknown_header_flags_are_refused() {
    let err = resealed_err(|b| {
        let flags = get_u64(b, field::FLAGS);
        put_u64(b, field::FLAGS, flags | 8);
    });
    assert_corrupt(&err, "unknown header flags 0xe");
}

fn with_range(bytes: &mut [u8], flag: bool, lo: f32, hi: f32) {
    let flags = get_u64(bytes, field::FLAGS);
    put_u64(
        bytes,
        field::FLAGS,
        if flag { flags | 1 } else { flags & !1 },
    );
    bytes[field::RANGE..field::RANGE + 4].copy_from_slice(&lo.to_le_bytes());
    bytes[field::RANGE + 4..field::RANGE + 8].copy_from_slice(&hi.to_le_bytes());
}

#[test]
fn a_rating_range_must_be_a_finite_interval_when_its_flag_is_set() {
    for (lo, hi) in [
        (5.0, 1.0),
        (f32::NEG_INFINITY, 5.0),
        (1.0, f32::INFINITY),
        (f32::NAN, 5.0),
        (1.0, f32::NAN),
    ] {
        let err = resealed_err(|b| with_range(b, true, lo, hi));
        assert_corrupt(
            &err,
            &format!("rating range {lo}..{hi} is not a finite interval"),
        );
    }
    let mut bytes = good_bytes();
    with_range(&mut bytes, true, 1.0, 5.0);
    reseal(&mut bytes);
    let (_dir, file) = open_bytes(&bytes);
    assert_eq!(file.rating_range(), Some((1.0, 5.0)));
}

#[test]
fn the_range_field_is_ignored_while_its_flag_is_clear() {
    let mut bytes = good_bytes();
    with_range(&mut bytes, false, 5.0, f32::NAN);
    reseal(&mut bytes);
    let (_dir, file) = open_bytes(&bytes);
    assert_eq!(file.rating_range(), None);
    file.verify().unwrap();
}

#[test]
fn blocks_must_tile_the_records_in_order() {
    // Block (0, 1) starting one train or one test record late.
    for word in [0, 2] {
        let err = resealed_err(|b| {
            let at = block_field(b, 1, word);
            let n = get_u64(b, at);
            put_u64(b, at, n + 1);
        });
        assert_corrupt(&err, "block (0, 1) starts at train record");
    }
    // The last block holding one train or one test record more than the
    // header counts.
    for word in [1, 3] {
        let err = resealed_err(|b| {
            let at = block_field(b, 8, word);
            let n = get_u64(b, at);
            put_u64(b, at, n + 1);
        });
        assert_corrupt(&err, "the block table holds");
    }
}

#[test]
fn sections_must_be_as_long_as_the_counts_say() {
    let err = resealed_err(|b| {
        let (offset, len) = section_at(b, section::USER_SORTED);
        set_section(b, section::USER_SORTED, offset as u64, len as u64 - 4);
    });
    assert_corrupt(
        &err,
        "the user id index section is 60 bytes, the header's counts need 64",
    );
}

#[test]
fn sections_must_start_aligned_after_the_one_before() {
    let err = resealed_err(|b| {
        let (offset, len) = section_at(b, section::SOURCE);
        set_section(b, section::SOURCE, offset as u64 + 1, len as u64 - 1);
    });
    assert_corrupt(&err, "the source section starts at a bad offset");
    // Aligned, but on top of the section before it.
    let err = resealed_err(|b| {
        let (before, _) = section_at(b, section::ITEM_SORTED);
        let (_, len) = section_at(b, section::SOURCE);
        set_section(b, section::SOURCE, before as u64, len as u64);
    });
    assert_corrupt(&err, "the source section starts at a bad offset");
}

#[test]
fn sections_must_end_where_the_file_ends() {
    let err = resealed_err(|b| {
        let (offset, len) = section_at(b, section::SOURCE);
        set_section(b, section::SOURCE, offset as u64, len as u64 + 1000);
    });
    assert_corrupt(&err, "the source section (");
    assert_corrupt(&err, "runs past the end of the");
    let err = resealed_err(|b| {
        let (offset, len) = section_at(b, section::SOURCE);
        set_section(b, section::SOURCE, offset as u64, len as u64 - 1);
    });
    assert_corrupt(&err, "1 bytes after the last section");
}

#[test]
fn padding_between_sections_must_be_zero() {
    let mut bytes = good_bytes();
    // The first gap between two sections.
    let (gap, next) = (0..section::COUNT - 1)
        .map(|s| {
            let (offset, len) = section_at(&bytes, s);
            (offset + len, s + 1)
        })
        .find(|&(end, next)| section_at(&bytes, next).0 > end)
        .expect("the sample file has no padding");
    bytes[gap] = 1;
    reseal(&mut bytes);
    let names = [
        "block table",
        "records",
        "user id offsets",
        "user id bytes",
        "user id index",
        "item id offsets",
        "item id bytes",
        "item id index",
        "source",
    ];
    assert_corrupt(
        &open_err(&bytes),
        &format!("non-zero padding before the {} section", names[next]),
    );
}

#[test]
fn a_sorted_id_index_that_is_not_a_permutation_is_refused_by_verify() {
    let (index, _) = section_at(&good_bytes(), section::USER_SORTED);
    // Entry 1 repeats entry 0.
    let err = resealed_err(|b| {
        let first = b[index..index + 4].to_vec();
        b[index + 4..index + 8].copy_from_slice(&first);
    });
    assert_corrupt(&err, "the user id index is not a permutation (entry");
    // Entry 0 beyond the 16 users.
    let err = resealed_err(|b| put_u32(b, index, 16));
    assert_corrupt(&err, "the user id index is not a permutation (entry 16)");
    let (index, _) = section_at(&good_bytes(), section::ITEM_SORTED);
    let err = resealed_err(|b| put_u32(b, index, u32::MAX));
    assert_corrupt(
        &err,
        &format!(
            "the item id index is not a permutation (entry {})",
            u32::MAX
        ),
    );
}

#[test]
fn an_id_index_out_of_order_is_refused_by_verify() {
    let (index, _) = section_at(&good_bytes(), section::USER_SORTED);
    let err = resealed_err(|b| {
        let (first, second) = (
            b[index..index + 4].to_vec(),
            b[index + 4..index + 8].to_vec(),
        );
        b[index..index + 4].copy_from_slice(&second);
        b[index + 4..index + 8].copy_from_slice(&first);
    });
    assert_corrupt(&err, "the user id index is not sorted at");
}

/// The records of block 0 (user band 0 × item band 0): 5 users × 3 items.
fn first_block_record(bytes: &[u8], n: usize) -> usize {
    assert!(
        get_u64(bytes, block_field(bytes, 0, 1)) >= 2,
        "block 0 too small"
    );
    record_at(bytes, n)
}

#[test]
fn records_outside_their_block_are_refused_by_verify() {
    let err = resealed_err(|b| {
        let at = first_block_record(b, 0);
        put_u32(b, at, 5);
    });
    assert_corrupt(&err, "block (0, 0) train records: record #0 (5, ");
    assert_corrupt(&err, "lies outside the 5 × 3 block");
    let err = resealed_err(|b| {
        let at = first_block_record(b, 0);
        put_u32(b, at + 4, 3);
    });
    assert_corrupt(&err, ", 3) lies outside the 5 × 3 block");
}

#[test]
fn non_finite_and_unordered_records_are_refused_by_verify() {
    let err = resealed_err(|b| {
        let at = first_block_record(b, 0) + 8;
        b[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    });
    assert_corrupt(
        &err,
        "block (0, 0) train records: record #0 has a non-finite value",
    );
    let err = resealed_err(|b| {
        let (a, c) = (first_block_record(b, 0), first_block_record(b, 1));
        let first = b[a..a + 12].to_vec();
        b.copy_within(c..c + 12, a);
        b[c..c + 12].copy_from_slice(&first);
    });
    assert_corrupt(
        &err,
        "block (0, 0) train records: record #1 is out of order or repeats a (user, item) pair",
    );
}

/// Sets the value of block `b`'s first train record to NaN.
fn poison_block(bytes: &mut [u8], b: usize) {
    assert!(
        get_u64(bytes, block_field(bytes, b, 1)) >= 1,
        "block {b} is empty"
    );
    let at = record_at(bytes, get_u64(bytes, block_field(bytes, b, 0)) as usize) + 8;
    bytes[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
}

#[test]
fn verify_reaches_every_block() {
    // Block (2, 1): the last user band, off the diagonal.
    let err = resealed_err(|b| poison_block(b, 7));
    assert_corrupt(
        &err,
        "block (2, 1) train records: record #0 has a non-finite value",
    );
}

#[test]
fn verify_names_the_first_damaged_block_whatever_the_number_of_threads() {
    let err = resealed_err(|b| {
        for block in [1, 2, 5, 8] {
            poison_block(b, block);
        }
    });
    assert_corrupt(&err, "block (0, 1) train records");
}

#[test]
fn check_block_names_the_damage_and_the_block() {
    let mut bytes = good_bytes();
    let at = record_at(&bytes, 0) + 8;
    bytes[at] ^= 1;
    let (_dir, file) = open_bytes(&bytes);
    let err = file.check_block(0, 0).unwrap_err();
    let FormatError::DamagedBlock {
        user_band,
        item_band,
        what,
        ..
    } = &err
    else {
        panic!("expected a damaged block, got: {err}");
    };
    assert_eq!((*user_band, *item_band), (0, 0));
    assert!(
        what.starts_with("its train records do not match their checksum (stored "),
        "{what}"
    );
    assert_eq!(file.blocks_checked(), 0);
    file.check_block(0, 1).unwrap();
    assert_eq!(file.blocks_checked(), 1);

    let mut bytes = good_bytes();
    poison_block(&mut bytes, 0);
    reseal(&mut bytes);
    let (_dir, file) = open_bytes(&bytes);
    let err = file.check_block(0, 0).unwrap_err();
    assert!(
        err.to_string()
            .contains("train records: record #0 has a non-finite value"),
        "{err}"
    );
    assert!(file.check_all_blocks().is_err());
    assert!(file.checked_train_records(0, 0).is_err());
    assert!(file.checked_test_records(0, 0).is_err());
    assert!(file.checked_train_block(0, 0).is_err());
}

#[test]
fn verify_reports_what_it_checked() {
    for grid in [1, 3] {
        let set = sample_set(16, 9, 11);
        let (_dir, path) = write_grid(&set, grid, 1);
        let file = RatingFile::open(&path).unwrap();
        let report = file.verify().unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        assert_eq!(report.bytes, len);
        assert_eq!(report.blocks, grid * grid);
        assert_eq!(report.records, (set.train.len() + set.test.len()) as u64);
        assert!(report.seconds >= 0.0);
        let expected = len as f64 / 1e6 / report.seconds.max(1e-9);
        assert!(
            (report.mb_per_s - expected).abs() <= 1e-9 * expected,
            "{} MB/s for {len} bytes in {} s",
            report.mb_per_s,
            report.seconds
        );
    }
}
