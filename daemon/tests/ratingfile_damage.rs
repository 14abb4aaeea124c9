//! Damaged and foreign files: every kind of damage is detected with a
//! clear error that names the file, and nothing panics.

mod ratingfile_support;

use funkd::ratingfile::FormatError;
use funkd::ratingfile::RatingFile;
use proptest::prelude::*;
use ratingfile_support::{good_bytes, open_err};

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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

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
