//! `funkd export --format libmf` read back by LIBMF itself (the `libmf`
//! crate's `mf_load_model` and `mf_predict`): LIBMF must predict what the
//! funkd model predicts, by original id when the ids are integers.

use std::path::Path;

use funk::daemon::checkpoint::load_model;
use funk::daemon::export::libmf::{write as write_libmf, RowLayout};
use funk::daemon::model::Model;
use funk::daemon::ratingfile::{self, Meta, RatingFile, RatingSet, Triple, WriteOptions};
use funk::daemon::report::Silent;
use funk::daemon::train::{train, TrainConfig};
use funk::kernel::ModelKind;

/// 40 users × 25 items, ~500 ratings, with the given external ids.
fn data_set(user_id: impl Fn(usize) -> String, item_id: impl Fn(usize) -> String) -> RatingSet {
    let mut train = Vec::new();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for u in 0..40u32 {
        for i in 0..25u32 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            if state.is_multiple_of(2) || i == u % 25 {
                let value = 1.0 + ((u * 7 + i * 3) % 5) as f32;
                train.push(Triple {
                    user: u,
                    item: i,
                    value,
                });
            }
        }
    }
    RatingSet {
        user_ids: (0..40).map(user_id).collect(),
        item_ids: (0..25).map(item_id).collect(),
        train,
        test: Vec::new(),
        meta: Meta {
            rating_range: Some((1.0, 5.0)),
            source: "libmf export test".into(),
            ..Meta::default()
        },
    }
}

fn trained(dir: &Path, set: &RatingSet, kind: ModelKind) -> (RatingFile, Model) {
    let path = dir.join("data.funk");
    ratingfile::write(
        &path,
        set,
        &WriteOptions {
            grid: Some(2),
            seed: 3,
        },
    )
    .unwrap();
    let data = RatingFile::open(&path).unwrap();
    let mut config = TrainConfig::defaults_for(&data);
    config.kind = kind;
    config.rank = 5;
    config.epochs = 3;
    config.threads = 1;
    train(&data, &config, &dir.join("run"), &Silent).unwrap();
    let model = load_model(&dir.join("run")).unwrap().model;
    (data, model)
}

fn load_libmf(dir: &Path) -> ::libmf::Model {
    ::libmf::Model::load(dir.join("model.txt").to_str().unwrap()).unwrap()
}

#[test]
fn libmf_predicts_the_biased_model_by_original_integer_id() {
    let dir = tempfile::tempdir().unwrap();
    // Sparse integer ids: rows of LIBMF's P and Q that no id lands on are
    // unknown to LIBMF (it predicts b there).
    let set = data_set(|u| (3 * u + 1).to_string(), |i| (2 * i + 5).to_string());
    let (data, model) = trained(dir.path(), &set, ModelKind::Biased);
    let out = dir.path().join("libmf");
    std::fs::create_dir_all(&out).unwrap();
    let summary = write_libmf(&model, Some(&data), &out).unwrap();
    assert_eq!(summary.layout, RowLayout::OriginalId);
    assert_eq!(
        (summary.m, summary.n, summary.k),
        (3 * 39 + 2, 2 * 24 + 6, 7)
    );
    let theirs = load_libmf(&out);
    assert_eq!(theirs.factors(), 7);
    for u in 0..data.users() {
        for i in 0..data.items() {
            let row: i32 = data.user_id(u).parse().unwrap();
            let col: i32 = data.item_id(i).parse().unwrap();
            let want = model.predict(u, i);
            let got = theirs.predict(row, col);
            assert!(
                (got - want).abs() < 1e-4 * want.abs().max(1.0),
                "({row}, {col}): LIBMF {got}, funkd {want}"
            );
        }
    }
    // Id 0 is no user: LIBMF falls back to b = μ.
    assert_eq!(theirs.predict(0, 5), model.mu);
}

#[test]
fn libmf_predicts_the_plain_model_by_internal_id_when_ids_are_not_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let set = data_set(|u| format!("user-{u}"), |i| format!("item-{i}"));
    let (data, model) = trained(dir.path(), &set, ModelKind::Plain);
    let out = dir.path().join("libmf");
    std::fs::create_dir_all(&out).unwrap();
    let summary = write_libmf(&model, Some(&data), &out).unwrap();
    assert_eq!(summary.layout, RowLayout::InternalId);
    assert_eq!((summary.m, summary.n, summary.k), (40, 25, 5));
    let ids = std::fs::read_to_string(out.join("user_ids.txt")).unwrap();
    assert_eq!(ids.lines().nth(7), Some(data.user_id(7)));
    let theirs = load_libmf(&out);
    for u in 0..data.users() {
        for i in 0..data.items() {
            let want = model.predict(u, i);
            let got = theirs.predict(u as i32, i as i32);
            assert!(
                (got - want).abs() < 1e-5,
                "({u}, {i}): LIBMF {got}, funkd {want}"
            );
        }
    }
    assert!((f64::from(theirs.bias()) - data.mean()).abs() < 1e-5);
}
