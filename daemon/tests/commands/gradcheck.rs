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

#[test]
fn the_library_call_returns_the_outcome_and_refuses_a_negative_reg() {
    use funk_kernel::ModelKind;
    use funkd::gradcheck::{gradcheck, random_model, GradcheckConfig};

    let f = sparse(false, 9);
    let data = f.open();
    let model = random_model(ModelKind::Biased, 5, &data, 3);
    assert_eq!((model.rank, model.users()), (5, data.users()));
    let config = GradcheckConfig {
        parameters: "random".to_owned(),
        reg: 0.05,
        reg_bias: 0.01,
        probes: 40,
        max_ratings: 50,
        seed: 3,
        tolerance: 1e-3,
    };
    let outcome = gradcheck(&data, &model, &config).unwrap();
    assert!(outcome.passed, "{outcome:?}");
    assert_eq!(outcome.checked, 40);
    assert!(
        outcome.ratings > 0 && outcome.ratings <= 50,
        "{}",
        outcome.ratings
    );
    assert!(outcome.objective > 0.0);
    assert!(outcome.worst_relative_error <= 1e-3);
    assert_eq!((outcome.kind, outcome.rank), ("biased", 5));

    let negative = GradcheckConfig {
        reg: -1.0,
        ..config
    };
    let refused = gradcheck(&data, &model, &negative).unwrap_err();
    assert_eq!(funkd::error::exit_code(&refused), 2, "{refused:#}");
}
