//! `funkd gradcheck`: analytic gradient against central differences.

use crate::fixture::{fails, funkd, json, sparse};

#[test]
fn the_gradient_checks_out_at_random_and_trained_parameters_of_both_models() {
    let f = sparse(false, 51);
    for args in [
        vec!["gradcheck", "--data", f.data_arg()],
        vec![
            "gradcheck",
            "--data",
            f.data_arg(),
            "--plain",
            "--rank",
            "20",
        ],
        vec![
            "gradcheck",
            "--data",
            f.data_arg(),
            "--model",
            f.model_arg(),
        ],
        vec![
            "gradcheck",
            "--data",
            f.data_arg(),
            "--model",
            f.model_arg(),
            "--reg",
            "0.5",
            "--reg-bias",
            "0.3",
        ],
    ] {
        let out = json(&args);
        assert_eq!(out["passed"], true, "{args:?}: {out}");
        assert_eq!(out["checked"], 200);
        let worst = out["worst_relative_error"].as_f64().unwrap();
        assert!(worst < 1e-3, "{args:?}: {worst}");
        assert!(out["objective"].as_f64().unwrap() > 0.0);
    }
    let out = json(&[
        "gradcheck",
        "--data",
        f.data_arg(),
        "--model",
        f.model_arg(),
    ]);
    assert_eq!(out["kind"], "biased");
    assert_eq!(out["rank"], 6);
}

#[test]
fn an_impossible_tolerance_fails_with_the_report_still_printed() {
    let f = sparse(true, 52);
    let out = funkd(&[
        "gradcheck",
        "--data",
        f.data_arg(),
        "--tolerance",
        "1e-300",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["passed"], false);
    assert!(String::from_utf8_lossy(&out.stderr).contains("exceeds the tolerance"));
}

#[test]
fn bad_gradcheck_flags_are_usage_errors() {
    let f = sparse(false, 53);
    fails(
        &["gradcheck", "--data", f.data_arg(), "--tolerance", "-1"],
        2,
    );
    fails(&["gradcheck", "--data", f.data_arg(), "--rank", "0"], 2);
    fails(&["gradcheck", "--data", f.data_arg(), "--probes", "0"], 2);
    fails(&["gradcheck", "--data", f.data_arg(), "--reg", "-0.1"], 2);
    let other = sparse(false, 54);
    let err = fails(
        &[
            "gradcheck",
            "--data",
            other.data_arg(),
            "--model",
            f.model_arg(),
        ],
        2,
    );
    assert!(err.contains("another data file"), "{err}");
}
