//! The checkpoint directory's housekeeping (creating it, listing,
//! removing what training abandoned, moving a bad file aside, clearing
//! temporaries) and what a checkpoint says about its model: which epoch it
//! holds and the model hash.

use std::path::Path;
use std::time::Duration;

use checkpoint_support::{checkpoint, encode};
use funkd::checkpoint::store::read;
use funkd::checkpoint::{
    hash_of_model, hash_of_parts, load_model, model_epoch, model_hash, to_model, CheckpointDir,
    CheckpointError, ParamParts, Position,
};
use xxhash_rust::xxh3::xxh3_64;

mod checkpoint_support;

fn at(epoch: u32, stratum: u32) -> Position {
    Position { epoch, stratum }
}

fn positions(dir: &CheckpointDir) -> Vec<Position> {
    dir.list().unwrap().into_iter().map(|(p, _)| p).collect()
}

#[test]
fn create_makes_the_directory_and_its_parents() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("runs/one");
    let dir = CheckpointDir::new(&path);
    assert_eq!(dir.path(), path);
    dir.create().unwrap();
    assert!(path.is_dir());
    dir.write(&checkpoint(3, 2, 10, 16).view(), at(1, 0), 3, None)
        .unwrap();
    assert_eq!(positions(&dir), [at(1, 0)]);
}

#[test]
fn a_missing_directory_lists_empty_and_a_file_in_its_place_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = CheckpointDir::new(&tmp.path().join("none"));
    assert!(missing.list().unwrap().is_empty());
    assert!(missing.newest_good_if_any().unwrap().is_none());
    assert_eq!(missing.remove_temporaries().unwrap(), 0);

    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let not_a_dir = CheckpointDir::new(&file);
    assert!(matches!(
        not_a_dir.list(),
        Err(CheckpointError::Io { ref path, .. }) if path == &file
    ));
    assert!(not_a_dir.remove_temporaries().is_err());
}

#[test]
fn remove_after_drops_exactly_the_later_positions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = CheckpointDir::new(tmp.path());
    let c = checkpoint(3, 2, 10, 16);
    for p in [at(1, 0), at(2, 0), at(2, 3), at(3, 0)] {
        dir.write(&c.view(), p, 10, None).unwrap();
    }
    dir.remove_after(at(2, 0)).unwrap();
    assert_eq!(positions(&dir), [at(1, 0), at(2, 0)]);
}

#[test]
fn a_write_keeps_only_the_newest_checkpoints_and_always_the_one_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = CheckpointDir::new(tmp.path());
    let c = checkpoint(3, 2, 10, 16);
    for p in [at(1, 0), at(1, 4), at(2, 0), at(3, 0), at(3, 2)] {
        dir.write(&c.view(), p, 3, None).unwrap();
    }
    assert_eq!(positions(&dir), [at(2, 0), at(3, 0), at(3, 2)]);
    // Keeping none still keeps the checkpoint just written.
    dir.write(&c.view(), at(4, 0), 0, None).unwrap();
    assert_eq!(positions(&dir), [at(4, 0)]);
}

/// The pause of the testing aid falls half-way through the bytes: a
/// process killed then leaves half a checkpoint in a temporary file and
/// no checkpoint under the final name.
#[test]
fn during_a_paused_write_half_the_bytes_are_in_a_temporary_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = CheckpointDir::new(tmp.path());
    let c = checkpoint(3, 2, 10, 16);
    let bytes = encode(&c);
    let writing = {
        let dir = dir.clone();
        let c = c.clone();
        std::thread::spawn(move || dir.write(&c.view(), at(1, 0), 3, Some(Duration::from_secs(2))))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let partial = loop {
        let temporaries: Vec<u64> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".funk-tmp-"))
            .map(|e| e.metadata().unwrap().len())
            .filter(|&len| len > 0)
            .collect();
        if let [len] = temporaries[..] {
            break len;
        }
        assert!(
            std::time::Instant::now() < deadline && !writing.is_finished(),
            "no partly written temporary file seen"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(partial, bytes.len() as u64 / 2);
    assert!(positions(&dir).is_empty());
    let path = writing.join().unwrap().unwrap();
    assert_eq!(std::fs::read(path).unwrap(), bytes);
}

#[test]
fn a_write_paused_half_way_still_writes_the_whole_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = CheckpointDir::new(tmp.path());
    let c = checkpoint(3, 2, 10, 16);
    let path = dir
        .write(&c.view(), at(1, 2), 3, Some(Duration::from_millis(1)))
        .unwrap();
    assert_eq!(path, tmp.path().join(at(1, 2).file_name()));
    assert_eq!(std::fs::read(&path).unwrap(), encode(&c));
    assert_eq!(read(&path).unwrap().params, c.params);
}

#[test]
fn quarantine_moves_the_file_aside_where_it_is_no_longer_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = CheckpointDir::new(tmp.path());
    let c = checkpoint(3, 2, 10, 16);
    let path = dir.write(&c.view(), at(4, 1), 3, None).unwrap();
    let aside = dir.quarantine(&path).unwrap();
    assert_eq!(
        aside,
        tmp.path().join(format!("{}.corrupt", at(4, 1).file_name()))
    );
    assert!(!path.exists());
    assert_eq!(std::fs::read(&aside).unwrap(), encode(&c));
    assert!(dir.list().unwrap().is_empty());
}

#[test]
fn remove_temporaries_counts_what_it_removed_and_keeps_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = CheckpointDir::new(tmp.path());
    dir.write(&checkpoint(3, 2, 10, 16).view(), at(1, 0), 3, None)
        .unwrap();
    for name in [".funk-tmp-a1", ".funk-tmp-b2", ".funk-tmp-c3"] {
        std::fs::write(tmp.path().join(name), b"partial").unwrap();
    }
    std::fs::write(tmp.path().join("notes.txt"), b"mine").unwrap();
    assert_eq!(dir.remove_temporaries().unwrap(), 3);
    let mut left: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, [at(1, 0).file_name(), "notes.txt".to_string()]);
    assert_eq!(dir.remove_temporaries().unwrap(), 0);
}

#[test]
fn no_usable_checkpoint_says_how_many_were_unreadable_and_why() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = CheckpointDir::new(tmp.path());
    let empty = dir.newest_good().unwrap_err().to_string();
    assert!(
        empty.ends_with("no usable checkpoint in this directory"),
        "{empty}"
    );
    std::fs::write(tmp.path().join(at(1, 0).file_name()), b"FUNKRATE-ish").unwrap();
    let text = dir.newest_good().unwrap_err().to_string();
    assert!(
        text.contains("no usable checkpoint in this directory (1 unreadable: "),
        "{text}"
    );
    assert!(
        text.contains("not a funk checkpoint (no FUNKCKPT magic))"),
        "{text}"
    );
}

#[test]
fn the_model_epoch_is_the_best_validation_epoch_when_the_best_is_kept() {
    let mut c = checkpoint(3, 2, 10, 16);
    c.progress.epoch = 3;
    c.progress.validation_rmse = vec![1.0, 0.8, 0.9];
    assert_eq!(model_epoch(&c), 3, "no best model kept: the current one");
    let mut best = c.params.clone();
    best.mu = 1.25;
    c.best = Some(best);
    assert_eq!(model_epoch(&c), 2);
    assert_eq!(to_model(&c).mu, 1.25);

    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("best.funkckpt");
    std::fs::write(&path, encode(&c)).unwrap();
    let loaded = load_model(&path).unwrap();
    assert_eq!((loaded.epoch, loaded.model_epoch), (3, 2));
    assert_eq!(loaded.model.mu, 1.25);
}

/// xxh3-64 of μ, then of each array its length (u64) and values, all
/// little-endian, as 16 hex digits: computed here byte by byte, over
/// arrays longer than the hasher's 4096-value chunks.
#[test]
fn the_model_hash_is_xxh3_of_the_documented_bytes_however_the_parts_are_cut() {
    let c = checkpoint(300, 7, 10, 16);
    let p = &c.params;
    let mut bytes = p.mu.to_le_bytes().to_vec();
    for array in [&p.user_bias, &p.item_bias, &p.user_factors, &p.item_factors] {
        bytes.extend_from_slice(&(array.len() as u64).to_le_bytes());
        for v in array.iter() {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    let expected = format!("{:016x}", xxh3_64(&bytes));
    let flat = model_hash(
        p.mu,
        &p.user_bias,
        &p.item_bias,
        &p.user_factors,
        &p.item_factors,
    );
    assert_eq!(flat, expected);
    assert_eq!(hash_of_model(&to_model(&c)), expected);
    assert_eq!(hash_of_parts(&p.parts()), expected);
    let (a, b) = p.user_factors.split_at(4099);
    let (ib, rest) = p.item_bias.split_at(3);
    let cut = ParamParts {
        mu: p.mu,
        user_bias: vec![&p.user_bias],
        item_bias: vec![ib, &[], rest],
        user_grad_sq: Vec::new(),
        item_grad_sq: Vec::new(),
        user_factors: vec![a, b],
        item_factors: vec![&p.item_factors],
    };
    assert_eq!(hash_of_parts(&cut), expected);
}

#[test]
fn a_checkpoint_read_from_disk_is_the_one_written() {
    let tmp = tempfile::tempdir().unwrap();
    let c = checkpoint(3, 2, 10, 16);
    let path = tmp.path().join("x.funkckpt");
    std::fs::write(&path, encode(&c)).unwrap();
    let back = read(&path).unwrap();
    assert_eq!((back.settings, back.params), (c.settings, c.params));
    assert!(matches!(
        read(Path::new("/nonexistent/x.funkckpt")),
        Err(CheckpointError::Io { .. })
    ));
}
