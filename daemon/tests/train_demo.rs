//! `funkd demo` end to end, small: it generates, trains, evaluates and
//! recommends, and its checkpoint is a real one.

use std::process::Command;

#[test]
fn the_demo_generates_trains_and_recommends() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_funkd"))
        .args([
            "demo", "--scale", "0.005", "--epochs", "3", "--json", "--dir",
        ])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
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
