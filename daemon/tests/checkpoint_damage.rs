//! How the checkpoint reader names what is wrong with a file whose
//! checksum is intact: the damage is in what was written (a bad count or
//! shape), so the checksum cannot catch it and the reader's own checks
//! must. Each file here is a good checkpoint with one field changed and
//! the checksum recomputed.

use std::path::Path;

use checkpoint_support::encode;
use funkd::checkpoint::{Checkpoint, CheckpointError, Method, MAGIC, VERSION};
use xxhash_rust::xxh3::xxh3_64;

mod checkpoint_support;

/// Bytes before the train-RMSE history's count in a version-3 file:
/// magic and version (12), settings (100), progress counters (36).
const TRAIN_HISTORY_AT: usize = 12 + 100 + 36;

fn checkpoint(rank: u32, k: u32) -> Checkpoint {
    checkpoint_support::checkpoint(3, 2, rank, k)
}

/// `body` with a correct checksum after it.
fn sealed(mut body: Vec<u8>) -> Vec<u8> {
    let sum = xxh3_64(&body);
    body.extend_from_slice(&sum.to_le_bytes());
    body
}

/// A good file's body (everything before the checksum).
fn body_of(c: &Checkpoint) -> Vec<u8> {
    let mut bytes = encode(c);
    bytes.truncate(bytes.len() - 8);
    bytes
}

fn decode(bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
    Checkpoint::decode(bytes, Path::new("run/ckpt.funkckpt"))
}

#[test]
fn the_layout_offset_used_below_is_that_of_the_train_history() {
    let bytes = encode(&checkpoint(10, 16));
    assert_eq!(&bytes[..8], MAGIC);
    assert_eq!(bytes[8..12], VERSION.to_le_bytes());
    let count = u64::from_le_bytes(bytes[TRAIN_HISTORY_AT..][..8].try_into().unwrap());
    assert_eq!(count, 2);
    let first = f64::from_le_bytes(bytes[TRAIN_HISTORY_AT + 8..][..8].try_into().unwrap());
    assert_eq!(first, 1.0);
    assert!(decode(&bytes).is_ok());
}

#[test]
fn a_file_of_the_magic_alone_is_a_truncated_checkpoint() {
    match decode(MAGIC) {
        Err(CheckpointError::Truncated {
            what,
            offset,
            size,
            needed,
            ..
        }) => {
            assert_eq!((what, offset, size, needed), ("version", 8, 8, 8 + 4 + 8));
        }
        other => panic!("{other:?}"),
    }
    for short in [&b""[..], b"FUNK", b"FUNKCKP"] {
        assert!(
            matches!(decode(short), Err(CheckpointError::NotACheckpoint { .. })),
            "{short:?}"
        );
    }
}

#[test]
fn a_rank_that_does_not_fit_the_row_length_is_invalid() {
    for (rank, k) in [(0, 16), (17, 16), (10, 24), (20, 8)] {
        let bytes = encode(&checkpoint(rank, k));
        match decode(&bytes) {
            Err(CheckpointError::Invalid { what, .. }) => {
                assert_eq!(what, format!("rank {rank} does not fit rows of {k}"));
            }
            other => panic!("rank {rank}, k {k}: {other:?}"),
        }
    }
    for (rank, k) in [(16, 16), (1, 16), (17, 32)] {
        let c = checkpoint(rank, k);
        let back = decode(&encode(&c)).unwrap();
        assert_eq!((back.settings.rank, back.settings.k), (rank, k));
        assert_eq!(back.params, c.params);
    }
}

/// A history count larger than the rest of the file is the truncation of
/// that history, named at its count, however little it overshoots.
#[test]
fn a_history_count_past_the_end_of_the_file_is_named_at_the_count() {
    let body = body_of(&checkpoint(10, 16));
    let values_at = TRAIN_HISTORY_AT + 8;
    let remaining = (body.len() - values_at) as u64;
    for count in [remaining / 8 + 1, remaining, u64::MAX / 4, u64::MAX] {
        let mut damaged = body.clone();
        damaged[TRAIN_HISTORY_AT..values_at].copy_from_slice(&count.to_le_bytes());
        let bytes = sealed(damaged);
        match decode(&bytes) {
            Err(CheckpointError::Truncated {
                what,
                offset,
                size,
                needed,
                ..
            }) => {
                assert_eq!(what, "train rmse history", "count {count}");
                assert_eq!(offset, values_at as u64, "count {count}");
                assert_eq!(size, bytes.len() as u64, "count {count}");
                let expected = count
                    .checked_mul(8)
                    .map_or(u64::MAX, |b| (values_at as u64).saturating_add(b + 8));
                assert_eq!(needed, expected, "count {count}");
            }
            other => panic!("count {count}: {other:?}"),
        }
    }
}

/// A history count that uses up exactly the rest of the file is read; it is
/// the field after it that is missing.
#[test]
fn a_history_that_ends_exactly_at_the_end_leaves_the_next_field_missing() {
    let body = body_of(&checkpoint(10, 16));
    let values_at = TRAIN_HISTORY_AT + 8;
    let mut damaged = body[..values_at + 16].to_vec();
    damaged[TRAIN_HISTORY_AT..values_at].copy_from_slice(&2u64.to_le_bytes());
    let bytes = sealed(damaged);
    match decode(&bytes) {
        Err(CheckpointError::Truncated {
            what,
            offset,
            needed,
            ..
        }) => {
            assert_eq!(what, "test rmse history");
            assert_eq!(offset, values_at as u64 + 16);
            assert_eq!(needed, values_at as u64 + 16 + 8 + 8);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bytes_after_the_last_section_are_invalid() {
    let mut body = body_of(&checkpoint(10, 16));
    body.extend_from_slice(&[0; 3]);
    match decode(&sealed(body)) {
        Err(CheckpointError::Invalid { what, .. }) => {
            assert_eq!(what, "3 unexpected bytes after the parameters");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_file_cut_inside_its_checksum_is_truncated_not_corrupt() {
    let bytes = encode(&checkpoint(10, 16));
    for cut in 1..8 {
        let short = &bytes[..bytes.len() - cut];
        match decode(short) {
            Err(CheckpointError::Truncated {
                what, size, needed, ..
            }) => {
                assert_eq!(what, "checksum", "cut {cut}");
                assert_eq!(size, short.len() as u64, "cut {cut}");
                assert_eq!(needed, bytes.len() as u64, "cut {cut}");
            }
            other => panic!("cut {cut}: {other:?}"),
        }
    }
}

/// A whole file with one byte changed is a checksum mismatch, with both
/// sums named, even though every field still parses.
#[test]
fn a_changed_byte_in_a_whole_file_is_a_checksum_mismatch() {
    let good = encode(&checkpoint(10, 16));
    let n = good.len();
    let stored = u64::from_le_bytes(good[n - 8..].try_into().unwrap());
    for at in [TRAIN_HISTORY_AT + 9, n - 20] {
        let mut bytes = good.clone();
        bytes[at] ^= 0x40;
        match decode(&bytes) {
            Err(CheckpointError::Checksum {
                stored: s,
                computed,
                ..
            }) => {
                assert_eq!(s, stored, "byte {at}");
                assert_eq!(computed, xxh3_64(&bytes[..n - 8]), "byte {at}");
            }
            other => panic!("byte {at}: {other:?}"),
        }
    }
}

/// Cut inside a field, the last 8 bytes are no checksum; the error is
/// the field the file ends in, not a checksum mismatch.
#[test]
fn a_file_cut_inside_a_field_is_truncated_at_that_field() {
    let bytes = encode(&checkpoint(10, 16));
    let values_at = TRAIN_HISTORY_AT + 8;
    let short = &bytes[..values_at + 12];
    match decode(short) {
        Err(CheckpointError::Truncated {
            what,
            offset,
            size,
            needed,
            ..
        }) => {
            assert_eq!(what, "train rmse history");
            assert_eq!((offset, size), (values_at as u64, short.len() as u64));
            assert_eq!(needed, values_at as u64 + 16 + 8);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn methods_are_named_as_on_the_command_line() {
    assert_eq!(Method::Sgd.name(), "sgd");
    assert_eq!(Method::Gd.name(), "gd");
}
