//! `funkd eval`: RMSE and MAE on the test (and train) split.

use crate::fixture::{clamped, fails, json, ok, rel, sparse};

/// RMSE and MAE of the model read back through the library, computed
/// here rating by rating in f64.
fn reference(f: &crate::fixture::Fixture, train: bool) -> (f64, f64, usize) {
    let file = f.open();
    let model = f.model();
    let set = file.to_rating_set();
    let ratings = if train { &set.train } else { &set.test };
    let (mut sse, mut sae) = (0.0, 0.0);
    for t in ratings {
        let e = f64::from(t.value)
            - clamped(
                &model,
                t.user as usize,
                t.item as usize,
                file.rating_range(),
            );
        sse += e * e;
        sae += e.abs();
    }
    let n = ratings.len();
    ((sse / n as f64).sqrt(), sae / n as f64, n)
}

#[test]
fn eval_reports_the_clamped_test_and_train_error_of_the_model() {
    let f = sparse(false, 1);
    let out = json(&[
        "eval",
        "--data",
        f.data_arg(),
        "--model",
        f.model_arg(),
        "--train",
    ]);
    for (split, train) in [("test", false), ("train", true)] {
        let (rmse, mae, n) = reference(&f, train);
        assert_eq!(out[split]["count"], n as u64, "{split}");
        let got_rmse = out[split]["rmse"].as_f64().unwrap();
        let got_mae = out[split]["mae"].as_f64().unwrap();
        assert!(
            rel(got_rmse, rmse) < 1e-5,
            "{split} RMSE {got_rmse} vs {rmse}"
        );
        assert!(rel(got_mae, mae) < 1e-5, "{split} MAE {got_mae} vs {mae}");
    }
    assert_eq!(out["clamp"], serde_json::json!([1.0, 5.0]));
    assert!(out["test"]["rmse"].as_f64().unwrap() < out["mean_rmse"].as_f64().unwrap());
}

#[test]
fn eval_gives_the_same_bits_for_any_thread_count_and_human_output_without_json() {
    let f = sparse(true, 2);
    let one = json(&[
        "eval",
        "--data",
        f.data_arg(),
        "--model",
        f.model_arg(),
        "--threads",
        "1",
        "--train",
    ]);
    let two = json(&[
        "eval",
        "--data",
        f.data_arg(),
        "--model",
        f.model_arg(),
        "--threads",
        "3",
        "--train",
    ]);
    assert_eq!(one["test"], two["test"]);
    assert_eq!(one["train"], two["train"]);
    let text = ok(&["eval", "--data", f.data_arg(), "--model", f.model_arg()]);
    assert!(text.contains("RMSE") && text.contains("MAE"), "{text}");
}

#[test]
fn eval_refuses_a_checkpoint_of_another_data_file_and_bad_paths() {
    let a = sparse(false, 3);
    let b = sparse(false, 4);
    let err = fails(
        &["eval", "--data", b.data_arg(), "--model", a.model_arg()],
        2,
    );
    assert!(err.contains("another data file"), "{err}");
    let err = fails(
        &[
            "eval",
            "--data",
            "/nonexistent.funk",
            "--model",
            a.model_arg(),
        ],
        1,
    );
    assert!(err.contains("/nonexistent.funk"), "{err}");
    let err = fails(
        &["eval", "--data", a.data_arg(), "--model", a.data_arg()],
        1,
    );
    assert!(err.contains("checkpoint"), "{err}");
    fails(
        &[
            "eval",
            "--data",
            a.data_arg(),
            "--model",
            a.model_arg(),
            "--threads",
            "0",
        ],
        2,
    );
    fails(
        &[
            "eval",
            "--data",
            a.data_arg(),
            "--model",
            a.model_arg(),
            "--isa",
            "nonsense",
        ],
        2,
    );
}

#[test]
fn eval_names_the_epoch_of_the_model_early_stopping_kept() {
    // Barely regularised, with a large step: the validation error is best
    // after a few epochs and then grows, while training goes on (patience
    // as long as the run), so the kept model is older than the checkpoint.
    let f = sparse(false, 3);
    let dir = f.path("overfit");
    let summary = json(&[
        "train",
        "--data",
        f.data_arg(),
        "--checkpoint-dir",
        dir.to_str().unwrap(),
        "--factors",
        "32",
        "--reg",
        "0.0001",
        "--reg-row",
        "0",
        "--learning-rate",
        "0.05",
        "--epochs",
        "12",
        "--early-stop",
        "12",
        "--quiet",
    ]);
    let kept = summary["model_epoch"].as_u64().unwrap();
    assert_eq!(summary["epochs"], 12);
    assert!(
        kept < 12,
        "the scenario needs an older best epoch: {summary}"
    );
    let out = json(&["eval", "--model", dir.to_str().unwrap()]);
    assert_eq!(out["epoch"], 12);
    assert_eq!(out["model_epoch"].as_u64(), Some(kept));
    let text = ok(&["eval", "--model", dir.to_str().unwrap()]);
    assert!(
        text.contains(&format!(
            "the model of epoch {kept}, kept by early stopping"
        )),
        "{text}"
    );
}

#[test]
fn eval_warns_of_an_unreadable_newer_checkpoint_and_uses_the_newest_good_one() {
    let f = sparse(false, 4);
    let good = json(&["eval", "--data", f.data_arg(), "--model", f.model_arg()]);
    let damaged = f.model.join("ckpt-000099-00000.funkckpt");
    std::fs::write(&damaged, b"FUNKCKPT but nothing after it").unwrap();
    let out = crate::fixture::funkd(&["eval", "--data", f.data_arg(), "--model", f.model_arg()]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "funkd: warning: skipping unreadable checkpoint {}: ",
            damaged.display()
        )),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let again = json(&["eval", "--data", f.data_arg(), "--model", f.model_arg()]);
    assert_eq!(again["test"], good["test"]);
    assert_eq!(again["model"], good["model"]);
}

#[test]
fn evaluate_model_returns_the_numbers_eval_prints() {
    use funkd::eval::{evaluate_model, EvalConfig};
    use funkd::report::Silent;
    use funkd::trained::ModelWithData;

    let f = sparse(false, 5);
    let trained = ModelWithData::open(&f.model, Some(&f.data), &Silent).unwrap();
    let config = |threads| EvalConfig {
        train: true,
        clamp: trained.data.rating_range(),
        isa: funk_kernel::Isa::Scalar,
        threads,
    };
    let one = evaluate_model(&trained, &config(1)).unwrap();
    for (got, train) in [(one.test, false), (one.train.unwrap(), true)] {
        let (rmse, mae, n) = reference(&f, train);
        assert_eq!(got.count, n as u64);
        assert!(rel(got.rmse, rmse) < 1e-5, "{} vs {rmse}", got.rmse);
        assert!(rel(got.mae, mae) < 1e-5, "{} vs {mae}", got.mae);
    }
    assert_eq!(evaluate_model(&trained, &config(3)).unwrap(), one);
    assert_eq!(one.model, trained.loaded.path);
    assert_eq!(one.isa, "scalar");

    let test_only = EvalConfig {
        train: false,
        clamp: None,
        ..config(2)
    };
    let unclamped = evaluate_model(&trained, &test_only).unwrap();
    assert_eq!(unclamped.train, None);
    assert_eq!(unclamped.clamp, None);
    assert_eq!(unclamped.test.count, one.test.count);
    assert_ne!(unclamped.test.rmse, one.test.rmse);

    let printed = json(&[
        "eval",
        "--data",
        f.data_arg(),
        "--model",
        f.model_arg(),
        "--isa",
        "scalar",
        "--train",
    ]);
    assert_eq!(printed["test"]["rmse"].as_f64(), Some(one.test.rmse));
    assert_eq!(
        printed["train"]["mae"].as_f64(),
        Some(one.train.unwrap().mae)
    );
}
