//! Round trips and corruption detection of checkpoints and the directory.

use std::path::Path;

use funk_kernel::{LearningRate, ModelKind};

use super::*;

pub(super) fn sample(adaptive: bool, mid_epoch: bool) -> Checkpoint {
    let (users, items, k) = (7usize, 5usize, 16usize);
    let schedule = if adaptive {
        LearningRate::Adaptive
    } else {
        LearningRate::Decay { decay: 0.25 }
    };
    let vals = |n: usize, base: f32| {
        (0..n)
            .map(|i| base + i as f32 * 0.125)
            .collect::<Vec<f32>>()
    };
    let params = |base: f32| Parameters {
        mu: 3.25 + base,
        user_bias: vals(users, base),
        item_bias: vals(items, -base),
        user_grad_sq: if adaptive {
            vals(users, 1.0)
        } else {
            Vec::new()
        },
        item_grad_sq: if adaptive {
            vals(items, 2.0)
        } else {
            Vec::new()
        },
        user_factors: vals(users * k, 0.5 + base),
        item_factors: vals(items * k, -0.5 - base),
    };
    Checkpoint {
        settings: Settings {
            kind: ModelKind::Biased,
            method: Method::Sgd,
            schedule,
            rank: 10,
            k: k as u32,
            users: users as u64,
            items: items as u64,
            grid: 2,
            base_learning_rate: 0.01,
            learning_rate: 0.005,
            reg: 0.05,
            reg_bias: 0.01,
            seed: 99,
            data_identity: 0xdead_beef_0123_4567,
            isa: "avx2".into(),
            epochs: 20,
            early_stop: 3,
            validation: 0.02,
            reg_row: 4.5,
            hold_out: HoldOut::OriginalIds,
        },
        progress: Progress {
            epoch: 4,
            stratum: if mid_epoch { 1 } else { 0 },
            backoffs: 1,
            partial_sse: 12.5,
            partial_count: 17,
            updates: 1234,
            train_rmse: vec![1.0, 0.9, 0.85, 0.8],
            test_rmse: vec![1.1, 0.95, f64::NAN, 0.9],
            validation_rmse: vec![1.2, 0.97, 0.96, 0.99],
        },
        params: params(0.0),
        epoch_start: mid_epoch.then(|| params(1.0)),
        best: (!mid_epoch).then(|| params(2.0)),
    }
}

fn encode(c: &Checkpoint) -> Vec<u8> {
    let mut bytes = Vec::new();
    c.encode(&mut bytes).unwrap();
    bytes
}

/// NaN ≠ NaN, so compare the encodings of what was decoded.
fn assert_round_trips(c: &Checkpoint) {
    let bytes = encode(c);
    let back = Checkpoint::decode(&bytes, Path::new("x")).unwrap();
    assert_eq!(encode(&back), bytes);
    assert_eq!(back.params, c.params);
    assert_eq!(back.settings, c.settings);
    assert_eq!(back.epoch_start, c.epoch_start);
    assert_eq!(back.best, c.best);
}

#[test]
fn checkpoints_round_trip_bit_exactly() {
    for adaptive in [false, true] {
        for mid in [false, true] {
            assert_round_trips(&sample(adaptive, mid));
        }
    }
}

#[test]
fn every_flipped_byte_is_detected() {
    let bytes = encode(&sample(true, true));
    for pos in (0..bytes.len()).step_by(7).chain([bytes.len() - 1]) {
        let mut bad = bytes.clone();
        bad[pos] ^= 0x10;
        assert!(
            Checkpoint::decode(&bad, Path::new("x")).is_err(),
            "flip at byte {pos} of {} went unnoticed",
            bytes.len()
        );
    }
}

#[test]
fn truncated_checkpoints_are_refused_without_panicking() {
    let bytes = encode(&sample(false, true));
    for len in (0..bytes.len()).step_by(5) {
        assert!(
            Checkpoint::decode(&bytes[..len], Path::new("x")).is_err(),
            "len {len}"
        );
    }
}

#[test]
fn a_file_with_another_magic_is_not_a_checkpoint() {
    let mut bytes = encode(&sample(false, false));
    bytes[0] = b'X';
    assert!(matches!(
        Checkpoint::decode(&bytes, Path::new("x")),
        Err(CheckpointError::NotACheckpoint { .. })
    ));
}

#[test]
fn the_model_hash_sees_a_single_bit() {
    let c = sample(false, false);
    let p = &c.params;
    let h = model_hash(
        p.mu,
        &p.user_bias,
        &p.item_bias,
        &p.user_factors,
        &p.item_factors,
    );
    let mut f = p.item_factors.clone();
    f[3] = f32::from_bits(f[3].to_bits() ^ 1);
    assert_ne!(
        h,
        model_hash(p.mu, &p.user_bias, &p.item_bias, &p.user_factors, &f)
    );
    assert_eq!(h.len(), 16);
}

#[test]
fn file_names_sort_in_schedule_order_and_parse_back() {
    let a = Position {
        epoch: 2,
        stratum: 31,
    };
    let b = Position {
        epoch: 10,
        stratum: 0,
    };
    assert!(a.file_name() < b.file_name());
    assert_eq!(Position::from_file_name(&a.file_name()), Some(a));
    assert_eq!(Position::from_file_name("ckpt-1-2.funkckpt.corrupt"), None);
    assert_eq!(Position::from_file_name("status.json"), None);
}

#[test]
fn the_directory_keeps_the_newest_and_falls_back_past_a_corrupt_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = CheckpointDir::new(tmp.path());
    let mut c = sample(false, false);
    for epoch in 1..=4 {
        c.progress.epoch = epoch;
        dir.write(&c.view(), Position { epoch, stratum: 0 }, 2, None)
            .unwrap();
    }
    let names: Vec<Position> = dir.list().unwrap().into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        names,
        vec![
            Position {
                epoch: 3,
                stratum: 0
            },
            Position {
                epoch: 4,
                stratum: 0
            }
        ]
    );

    let newest = tmp.path().join(
        Position {
            epoch: 4,
            stratum: 0,
        }
        .file_name(),
    );
    let mut bytes = std::fs::read(&newest).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&newest, bytes).unwrap();
    let found = dir.newest_good().unwrap();
    assert_eq!(found.checkpoint.progress.epoch, 3);
    assert_eq!(found.skipped.len(), 1);
    assert!(
        found.skipped[0].1.contains("corrupt"),
        "{}",
        found.skipped[0].1
    );

    let older = tmp.path().join(
        Position {
            epoch: 3,
            stratum: 0,
        }
        .file_name(),
    );
    std::fs::write(&older, b"FUNKCKPT").unwrap();
    let err = dir.newest_good().unwrap_err();
    assert!(matches!(err, CheckpointError::NoCheckpoint { ref skipped, .. } if skipped.len() == 2));
}

#[test]
fn load_model_reads_a_directory_or_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = CheckpointDir::new(tmp.path());
    let c = sample(true, false);
    let path = dir
        .write(
            &c.view(),
            Position {
                epoch: 4,
                stratum: 0,
            },
            3,
            None,
        )
        .unwrap();
    let from_dir = load_model(tmp.path()).unwrap();
    let from_file = load_model(&path).unwrap();
    assert_eq!(from_dir.model, from_file.model);
    assert_eq!(from_dir.path, path);
    assert_eq!(from_dir.data_identity, c.settings.data_identity);
    assert_eq!(from_dir.epoch, 4);
    assert_eq!(from_dir.model.k, 16);
    assert_eq!(from_dir.model.user_row(1).len(), 10);
    // The model is the best validation epoch's when the checkpoint keeps it.
    let best = c.best.as_ref().expect("the sample keeps a best model");
    assert_eq!(from_dir.model.item_bias, best.item_bias);
    assert_ne!(best.item_bias, c.params.item_bias);
}

#[test]
fn a_missing_checkpoint_says_the_os_error_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("ckpt-missing.funkc");
    let os = std::fs::read(&missing).unwrap_err().to_string();
    let err = anyhow::Error::new(store::read(&missing).unwrap_err());
    let text = format!("{err:#}");
    assert_eq!(text.matches(&os).count(), 1, "{text}");
    assert!(text.contains("ckpt-missing.funkc"), "{text}");
}

#[test]
fn a_truncated_checkpoint_says_truncated_with_its_size_not_checksum() {
    let bytes = encode(&sample(false, true));
    for cut in [1, 8, 9, 100, bytes.len() / 2] {
        let short = &bytes[..bytes.len() - cut];
        match Checkpoint::decode(short, Path::new("x")) {
            Err(CheckpointError::Truncated { size, needed, .. }) => {
                assert_eq!(size, short.len() as u64, "cut {cut}");
                assert!(
                    needed > size && needed <= bytes.len() as u64,
                    "cut {cut}: {needed}"
                );
            }
            other => panic!("cut {cut}: {other:?}"),
        }
    }
    let text = Checkpoint::decode(&bytes[..bytes.len() - 100], Path::new("x"))
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("truncated") && !text.contains("checksum"),
        "{text}"
    );
    assert!(
        text.contains(&format!("the file is {} bytes", bytes.len() - 100)),
        "{text}"
    );
}

#[test]
fn a_flipped_byte_is_still_a_checksum_mismatch() {
    let mut bytes = encode(&sample(false, true));
    let n = bytes.len();
    bytes[n - 20] ^= 0x40;
    assert!(matches!(
        Checkpoint::decode(&bytes, Path::new("x")),
        Err(CheckpointError::Checksum { .. })
    ));
}

/// Every model kind and schedule comes back as written, under the codes the
/// format defines (a change of code would misread every saved checkpoint).
#[test]
fn every_model_kind_and_schedule_round_trips_under_its_format_code() {
    use super::encode::{kind_code, schedule_code};
    assert_eq!(kind_code(ModelKind::Plain), 0);
    assert_eq!(kind_code(ModelKind::Biased), 1);
    assert_eq!(schedule_code(LearningRate::Constant), (0, 0.0));
    assert_eq!(schedule_code(LearningRate::Decay { decay: 0.5 }), (1, 0.5));
    assert_eq!(schedule_code(LearningRate::Adaptive), (2, 0.0));
    for kind in [ModelKind::Plain, ModelKind::Biased] {
        for schedule in [
            LearningRate::Constant,
            LearningRate::Decay { decay: 0.75 },
            LearningRate::Adaptive,
        ] {
            let mut c = sample(schedule == LearningRate::Adaptive, false);
            c.settings.kind = kind;
            c.settings.schedule = schedule;
            assert_round_trips(&c);
            let back = Checkpoint::decode(&encode(&c), Path::new("x")).unwrap();
            assert_eq!(
                (back.settings.kind, back.settings.schedule),
                (kind, schedule)
            );
        }
    }
}
