//! `funkd demo` end to end, small: it generates, trains, evaluates and
//! recommends, and its checkpoint is a real one.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// `funkd demo --json` on a small set of seed `seed` in `dir`: its report.
fn demo(dir: &Path, seed: u64) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_funkd"))
        .args(["demo", "--scale", "0.005", "--epochs", "3", "--json"])
        .arg("--seed")
        .arg(seed.to_string())
        .arg("--dir")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

#[test]
fn the_demo_generates_trains_and_recommends() {
    let tmp = tempfile::tempdir().unwrap();
    let report = demo(tmp.path(), 1);
    let test = report["train"]["test_rmse"].as_f64().unwrap();
    let floor = report["noise_floor"].as_f64().unwrap();
    let mean = report["mean_rmse"].as_f64().unwrap();
    assert!(
        test < mean,
        "the model ({test}) must beat predicting the mean ({mean})"
    );
    assert!(
        test > floor * 0.9,
        "test RMSE {test} far below the noise floor {floor}: leak?"
    );
    // The demo's training, recorded by `train --epochs 3 --isa` scalar, avx2
    // and avx512 on the demo's set (spread 6.2e-8): tolerance of accuracy_pinned.rs.
    assert!((test - 0.890_584_98).abs() < 5e-7, "test RMSE {test}");
    let top = report["top10"].as_array().unwrap();
    assert_eq!(top.len(), 10);
    let scores: Vec<f64> = top.iter().map(|r| r["score"].as_f64().unwrap()).collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "not best first: {scores:?}"
    );
    let loaded = funkd::checkpoint::load_model(&tmp.path().join("checkpoints")).unwrap();
    assert_eq!(loaded.epoch, 3);
    assert_eq!(
        funkd::checkpoint::hash_of_model(&loaded.model),
        report["train"]["model_hash"].as_str().unwrap()
    );
}

#[test]
fn the_demos_top_10_is_what_recommend_answers_for_its_user() {
    let tmp = tempfile::tempdir().unwrap();
    // Seed 14: the demo's user rated, in the test split, one of the items
    // the model ranks highest for them; it must not be recommended.
    let report = demo(tmp.path(), 14);
    let user = report["user"].as_str().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_funkd"))
        .args(["recommend", "--top", "10", "--json", "--user", user])
        .arg("--data")
        .arg(report["data"].as_str().unwrap())
        .arg("--model")
        .arg(report["checkpoint_dir"].as_str().unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recommended: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Both leave out what the user rated in either split, and the demo's
    // score is recommend's prediction (clamped to the rating range), bit for bit.
    let demo_top: Vec<(&str, f64)> = report["top10"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["item"].as_str().unwrap(), r["score"].as_f64().unwrap()))
        .collect();
    let recommend_top: Vec<(&str, f64)> = recommended["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["item"].as_str().unwrap(),
                r["prediction"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(demo_top, recommend_top);
}
