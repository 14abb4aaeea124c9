//! Format-version-1 checkpoints are still read: a v1 file, written here
//! field by field from the layout in `checkpoint/format.rs` (no validation
//! fraction or row prior, no validation history, no best-model section),
//! decodes to the checkpoint it was written from, `load_model` gives the
//! same model as the current-version file of that checkpoint, and `funkd
//! inspect` reports the version the file holds. Version-2 files (which
//! held out the validation slice by internal ids) decode with that
//! hold-out rule.

use std::path::Path;
use std::process::Command;

use funk_kernel::{LearningRate, ModelKind};
use funkd::checkpoint::{
    load_model, to_model, Checkpoint, HoldOut, Method, Parameters, Progress, Settings, MAGIC,
};
use serde_json::Value;
use xxhash_rust::xxh3::xxh3_64;

/// A checkpoint that version 1 can hold: nothing of what versions 2 and 3
/// added (and the hold-out rule versions before 3 imply).
fn v1_checkpoint(adaptive: bool, mid_epoch: bool) -> Checkpoint {
    let (users, items, k) = (7usize, 5usize, 16usize);
    let values = |n: usize, base: f32| -> Vec<f32> {
        (0..n).map(|i| base + (i % 23) as f32 * 0.0625).collect()
    };
    let params = |base: f32| Parameters {
        mu: 3.25 + base,
        user_bias: values(users, base),
        item_bias: values(items, -base),
        user_grad_sq: if adaptive {
            values(users, 1.0)
        } else {
            Vec::new()
        },
        item_grad_sq: if adaptive {
            values(items, 2.0)
        } else {
            Vec::new()
        },
        user_factors: values(users * k, 0.5 + base),
        item_factors: values(items * k, -0.5 - base),
    };
    Checkpoint {
        settings: Settings {
            kind: ModelKind::Biased,
            method: Method::Sgd,
            schedule: if adaptive {
                LearningRate::Adaptive
            } else {
                LearningRate::Decay { decay: 0.25 }
            },
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
            validation: 0.0,
            reg_row: 0.0,
            hold_out: HoldOut::InternalIds,
        },
        progress: Progress {
            epoch: 4,
            stratum: u32::from(mid_epoch),
            backoffs: 1,
            partial_sse: 12.5,
            partial_count: 17,
            updates: 1234,
            train_rmse: vec![1.0, 0.9, 0.85, 0.8],
            test_rmse: vec![1.1, 0.95, 0.93, 0.9],
            validation_rmse: Vec::new(),
        },
        params: params(0.0),
        epoch_start: mid_epoch.then(|| params(1.0)),
        best: None,
    }
}

/// Little-endian writing, the way the version-1 writer did it.
#[derive(Default)]
struct V1Bytes(Vec<u8>);

impl V1Bytes {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f32(&mut self, v: f32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f32s(&mut self, v: &[f32]) {
        self.u64(v.len() as u64);
        v.iter().for_each(|x| self.f32(*x));
    }
    fn f64s(&mut self, v: &[f64]) {
        self.u64(v.len() as u64);
        v.iter().for_each(|x| self.f64(*x));
    }
    fn params(&mut self, p: &Parameters) {
        self.f32(p.mu);
        self.f32s(&p.user_bias);
        self.f32s(&p.item_bias);
        self.f32s(&p.user_grad_sq);
        self.f32s(&p.item_grad_sq);
        self.f32s(&p.user_factors);
        self.f32s(&p.item_factors);
    }
}

/// The version-1 file of `c`: magic, version 1, settings up to the
/// early-stop patience, progress up to the test history, the parameters,
/// the restore section, and the xxh3-64 checksum of everything before it.
fn encode_v1(c: &Checkpoint) -> Vec<u8> {
    let mut w = V1Bytes::default();
    let s = &c.settings;
    w.0.extend_from_slice(MAGIC);
    w.u32(1);
    w.u8(match s.kind {
        ModelKind::Plain => 0,
        ModelKind::Biased => 1,
    });
    w.u8(match s.method {
        Method::Sgd => 0,
        Method::Gd => 1,
    });
    let (schedule, decay) = match s.schedule {
        LearningRate::Constant => (0, 0.0),
        LearningRate::Decay { decay } => (1, decay),
        LearningRate::Adaptive => (2, 0.0),
    };
    w.u8(schedule);
    w.f32(decay);
    w.u32(s.rank);
    w.u32(s.k);
    w.u64(s.users);
    w.u64(s.items);
    w.u32(s.grid);
    w.f32(s.base_learning_rate);
    w.f32(s.learning_rate);
    w.f32(s.reg);
    w.f32(s.reg_bias);
    w.u64(s.seed);
    w.u64(s.data_identity);
    let mut isa = [0u8; 16];
    isa[..s.isa.len()].copy_from_slice(s.isa.as_bytes());
    w.0.extend_from_slice(&isa);
    w.u32(s.epochs);
    w.u32(s.early_stop);
    let p = &c.progress;
    w.u32(p.epoch);
    w.u32(p.stratum);
    w.u32(p.backoffs);
    w.f64(p.partial_sse);
    w.u64(p.partial_count);
    w.u64(p.updates);
    w.f64s(&p.train_rmse);
    w.f64s(&p.test_rmse);
    w.params(&c.params);
    match &c.epoch_start {
        Some(start) => {
            w.u8(1);
            w.params(start);
        }
        None => w.u8(0),
    }
    let sum = xxh3_64(&w.0);
    w.u64(sum);
    w.0
}

fn encode_current(c: &Checkpoint) -> Vec<u8> {
    let mut bytes = Vec::new();
    c.encode(&mut bytes).unwrap();
    bytes
}

/// `funkd inspect FILE --json`, parsed.
fn inspect(path: &Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_funkd"))
        .args(["inspect", path.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "inspect {} failed:\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_version_1_checkpoint_decodes_to_what_it_was_written_from() {
    for adaptive in [false, true] {
        for mid_epoch in [false, true] {
            let c = v1_checkpoint(adaptive, mid_epoch);
            let v1 = encode_v1(&c);
            let v3 = encode_current(&c);
            assert_eq!(u32::from_le_bytes(v1[8..12].try_into().unwrap()), 1);
            assert_eq!(u32::from_le_bytes(v3[8..12].try_into().unwrap()), 3);
            // v2 adds two f32 settings, an empty history (its u64 length)
            // and the best-model flag byte; v3 the hold-out rule byte.
            assert_eq!(v3.len() - v1.len(), 4 + 4 + 8 + 1 + 1);
            let back = Checkpoint::decode(&v1, Path::new("v1.funkckpt")).unwrap();
            assert_eq!(back, c, "adaptive {adaptive}, mid-epoch {mid_epoch}");
            // Read back as v1, written as v3: the same bytes as v3 directly.
            assert_eq!(encode_current(&back), v3);
        }
    }
}

#[test]
fn a_damaged_version_1_checkpoint_is_refused() {
    let mut v1 = encode_v1(&v1_checkpoint(true, true));
    let middle = v1.len() / 2;
    v1[middle] ^= 0x04;
    let err = Checkpoint::decode(&v1, Path::new("v1.funkckpt")).unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");
}

#[test]
fn load_model_and_inspect_read_a_version_1_file() {
    let dir = tempfile::tempdir().unwrap();
    let c = v1_checkpoint(false, true);
    let v1_path = dir.path().join("v1.funkckpt");
    let current_path = dir.path().join("v3.funkckpt");
    std::fs::write(&v1_path, encode_v1(&c)).unwrap();
    std::fs::write(&current_path, encode_current(&c)).unwrap();

    let from_v1 = load_model(&v1_path).unwrap();
    let from_current = load_model(&current_path).unwrap();
    assert_eq!(from_v1.model, to_model(&c));
    assert_eq!(from_v1.model, from_current.model);
    assert_eq!(from_v1.data_identity, c.settings.data_identity);
    assert_eq!(from_v1.epoch, 4);
    assert_eq!(from_v1.settings, c.settings);

    let v1 = inspect(&v1_path);
    let v3 = inspect(&current_path);
    assert_eq!(v1["version"], 1, "{v1}");
    assert_eq!(v3["version"], 3, "{v3}");
    assert_eq!(v1["model_hash"], v3["model_hash"]);
    assert_eq!(v1["rank"], 10);
    assert_eq!(v1["validation"], 0.0);
    assert_eq!(v1["hold_out"], "internal-ids");
    assert_eq!(v3["hold_out"], "internal-ids");
    assert_eq!(v1["validation_rmse"], Value::Array(Vec::new()));
    assert_eq!(v1["mid_epoch_restore_point"], true);
    assert_eq!(v1["best_model_kept"], false);

    // The human-readable report says the same.
    let out = Command::new(env!("CARGO_BIN_EXE_funkd"))
        .args(["inspect", v1_path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("format          version 1,"), "{text}");

    // A checkpoint directory whose newest checkpoint is a v1 file.
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::copy(&v1_path, run.join("ckpt-000004-00001.funkckpt")).unwrap();
    let in_dir = inspect(&run);
    assert_eq!(in_dir["version"], 1, "{in_dir}");
    assert_eq!(load_model(&run).unwrap().model, from_v1.model);
}

/// Offset of the hold-out rule byte in a version-3 file: magic, version
/// and the settings before it.
const HOLD_OUT_AT: usize =
    8 + 4 + (1 + 1 + 1 + 4) + (4 + 4) + (8 + 8) + 4 + 4 * 4 + 8 + 8 + 16 + 4 + 4 + 4 + 4;

/// The version-2 file of `c`: the version-3 bytes without the hold-out
/// rule byte, version 2, checksum recomputed.
fn encode_v2(c: &Checkpoint) -> Vec<u8> {
    let mut bytes = encode_current(c);
    bytes.truncate(bytes.len() - 8);
    bytes.remove(HOLD_OUT_AT);
    bytes[8..12].copy_from_slice(&2u32.to_le_bytes());
    let sum = xxh3_64(&bytes);
    bytes.extend_from_slice(&sum.to_le_bytes());
    bytes
}

#[test]
fn a_version_2_checkpoint_decodes_as_holding_out_by_internal_ids() {
    let mut c = v1_checkpoint(false, false);
    c.settings.validation = 0.02;
    c.settings.hold_out = HoldOut::OriginalIds;
    let v3 = encode_current(&c);
    assert_eq!(v3[HOLD_OUT_AT], 0, "original ids are rule 0");
    let back = Checkpoint::decode(&encode_v2(&c), Path::new("v2.funkckpt")).unwrap();
    assert_eq!(back.settings.hold_out, HoldOut::InternalIds);
    assert_eq!(back.settings.validation, 0.02);
    c.settings.hold_out = HoldOut::InternalIds;
    assert_eq!(back, c);
    assert_eq!(encode_current(&back)[HOLD_OUT_AT], 1);
    // An unknown rule is refused, naming the field.
    let mut bad = encode_current(&back);
    bad.truncate(bad.len() - 8);
    bad[HOLD_OUT_AT] = 7;
    let sum = xxh3_64(&bad);
    bad.extend_from_slice(&sum.to_le_bytes());
    let err = Checkpoint::decode(&bad, Path::new("bad.funkckpt")).unwrap_err();
    assert!(err.to_string().contains("hold-out rule 7"), "{err}");
}
