//! `funkd cv`: k-fold cross-validation.

use crate::fixture::{fails, json, sparse};

#[test]
fn every_rating_is_tested_once_and_the_mean_is_over_the_folds() {
    let f = sparse(false, 61);
    let dir = f.path("cv");
    let args = [
        "cv",
        "--data",
        f.data_arg(),
        "--checkpoint-dir",
        dir.to_str().unwrap(),
        "--folds",
        "3",
        "--epochs",
        "3",
        "--factors",
        "4",
        "--quiet",
    ];
    let out = json(&args);
    let file = f.open();
    let total = file.train_count() + file.test_count();
    assert_eq!(out["ratings"], total);
    let folds = out["per_fold"].as_array().unwrap();
    assert_eq!(folds.len(), 3);
    let tested: u64 = folds
        .iter()
        .map(|r| r["test"]["count"].as_u64().unwrap())
        .sum();
    assert_eq!(tested, total);
    // Each fold's test RMSE as recorded with --isa scalar, avx2 and avx512
    // (spread 6e-9; each ISA is deterministic), to the tolerance of
    // accuracy_pinned.rs; all well below the mean predictor's 0.934.
    let recorded = [0.777_796_51, 0.752_426_64, 0.760_880_64];
    let mean_rmse = file.mean_rmse().unwrap();
    assert!((mean_rmse - 0.934_180_13).abs() < 1e-7, "{mean_rmse}");
    for (r, want) in folds.iter().zip(recorded) {
        assert_eq!(
            r["train_ratings"].as_u64().unwrap() + r["test"]["count"].as_u64().unwrap(),
            total
        );
        assert_eq!(r["epochs"], 3);
        let rmse = r["test"]["rmse"].as_f64().unwrap();
        assert!(
            (rmse - want).abs() < 5e-7,
            "fold {}: {rmse} vs {want}",
            r["fold"]
        );
    }
    let mean: f64 = folds
        .iter()
        .map(|r| r["test"]["rmse"].as_f64().unwrap())
        .sum::<f64>()
        / 3.0;
    assert!((out["rmse"]["mean"].as_f64().unwrap() - mean).abs() < 1e-12);
    // Rerunning resumes the finished folds: the same numbers again.
    let again = json(&args);
    assert_eq!(again["per_fold"], out["per_fold"]);
    assert!(dir.join("fold-2.funk").exists() && dir.join("fold-2").is_dir());
}

#[test]
fn bad_fold_counts_and_train_flags_are_usage_errors() {
    let f = sparse(false, 62);
    let dir = f.path("cv");
    let d = dir.to_str().unwrap();
    fails(
        &[
            "cv",
            "--data",
            f.data_arg(),
            "--checkpoint-dir",
            d,
            "--folds",
            "1",
        ],
        2,
    );
    fails(
        &[
            "cv",
            "--data",
            f.data_arg(),
            "--checkpoint-dir",
            d,
            "--factors",
            "0",
            "--folds",
            "2",
        ],
        2,
    );
    fails(&["cv", "--data", f.data_arg(), "--folds", "-2"], 2);
}

#[test]
fn the_library_call_notes_each_fold_and_returns_what_the_command_prints() {
    use clap::Parser;
    use funkd::cv::{cross_validate, CvConfig, WorkDir};
    use funkd::report::Collecting;
    use funkd::train::TrainArgs;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        train: TrainArgs,
    }

    let f = sparse(false, 62);
    let work_dir = f.path("work");
    let mut args = vec![
        "cv",
        "--data",
        f.data_arg(),
        "--checkpoint-dir",
        work_dir.to_str().unwrap(),
        "--epochs",
        "2",
        "--factors",
        "4",
        "--isa",
        "scalar",
    ];
    let config = CvConfig {
        folds: 3,
        fold_seed: 1,
        train: Cli::parse_from(&args).train,
        isa: funk_kernel::Isa::Scalar,
        threads: 2,
    };
    let work = WorkDir::given_or_temporary(Some(&work_dir), "cv").unwrap();
    let reporter = Collecting::default();
    let report = cross_validate(&f.open(), &config, &work, &reporter).unwrap();

    let file = f.open();
    assert_eq!(report.ratings, file.train_count() + file.test_count());
    assert_eq!(report.per_fold.len(), 3);
    let fold_notes: Vec<String> = reporter
        .notes()
        .into_iter()
        .filter(|n| n.starts_with("fold "))
        .collect();
    let want: Vec<String> = report
        .per_fold
        .iter()
        .map(|r| {
            format!(
                "fold {}/3: test RMSE {:.6}  MAE {:.6}  ({} ratings)",
                r.fold, r.test.rmse, r.test.mae, r.test.count
            )
        })
        .collect();
    assert_eq!(fold_notes, want);

    // The command in the same directory: its folds are trained already, so
    // it evaluates them again, to the same numbers.
    args.extend(["--folds", "3", "--quiet"]);
    let printed = json(&args);
    assert_eq!(printed["rmse"]["mean"].as_f64(), Some(report.rmse.mean));
    assert_eq!(printed["mae"]["std"].as_f64(), Some(report.mae.std));
}
