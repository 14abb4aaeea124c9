//! Behaviour behind the accuracy defaults: early stopping keeps
//! the model of the best validation epoch, the validation slice is carved
//! from the train split and never touches the test split, the defaults are
//! derived from the data's shape as documented, and `funkd tune` searches
//! on train folds only. No test here asserts a particular RMSE.

mod train_support;

use std::collections::HashSet;

use funkd::ratingfile::RatingFile;
use funkd::train::config::{
    RATE_BOUNDS, RATE_PER_SQRT_RATINGS, REG_BIAS_PER_SPREAD, REG_BOUNDS, REG_PER_SQRT_RATINGS,
    REG_ROW_PER_SPREAD,
};
use funkd::train::validation::{is_held_out, ValidationSlice};
use funkd::train::{DataShape, Derived, TrainConfig};
use train_support::*;

/// Overfits within a few epochs: no regularisation, a large constant step.
const OVERFIT: [&str; 10] = [
    "--reg",
    "0",
    "--reg-row",
    "0",
    "--factors",
    "64",
    "--learning-rate",
    "0.05",
    "--schedule",
    "constant",
];

#[test]
fn early_stopping_restores_the_model_of_the_best_validation_epoch() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path(), 11);
    let mut args: Vec<&str> = OVERFIT.to_vec();
    args.extend_from_slice(&["--epochs", "30", "--early-stop", "3"]);
    let stopped = train_ok(&data, &tmp.path().join("stopped"), &args);
    assert_eq!(stopped["ending"], "early-stopped");
    let best = stopped["best_validation_rmse"][1].as_u64().unwrap();
    let epochs = stopped["epochs"].as_u64().unwrap();
    assert_eq!(epochs, best + 3, "stops PATIENCE epochs after the best");
    assert_eq!(stopped["model_epoch"].as_u64(), Some(best));
    assert_eq!(
        stopped["validation_rmse"], stopped["best_validation_rmse"][0],
        "the model's validation error is the best one"
    );

    // The same run cut off at the best epoch ends with the same bits.
    let mut args: Vec<String> = OVERFIT.iter().map(|s| s.to_string()).collect();
    args.extend(["--epochs".into(), best.to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let cut = train_ok(&data, &tmp.path().join("cut"), &args);
    assert_eq!(cut["model_hash"], stopped["model_hash"]);
    assert_eq!(cut["test_rmse"], stopped["test_rmse"]);

    // And the saved model (what eval/predict load) is the restored one.
    let loaded = funkd::checkpoint::load_model(&tmp.path().join("stopped")).unwrap();
    let cut_loaded = funkd::checkpoint::load_model(&tmp.path().join("cut")).unwrap();
    assert_eq!(loaded.model.user_factors, cut_loaded.model.user_factors);
    assert_eq!(loaded.model.item_bias, cut_loaded.model.item_bias);
}

#[test]
fn a_run_stopped_after_its_best_epoch_resumes_to_the_same_restored_model() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path(), 11);
    let mut args: Vec<&str> = OVERFIT.to_vec();
    args.extend_from_slice(&["--epochs", "30", "--early-stop", "3"]);
    let straight = train_ok(&data, &tmp.path().join("straight"), &args);
    let best = straight["best_validation_rmse"][1].as_u64().unwrap();
    // Stop one epoch after the best (the best model lives only in the
    // checkpoint then), and resume with the full target.
    let dir = tmp.path().join("resumed");
    let mut first: Vec<String> = OVERFIT.iter().map(|s| s.to_string()).collect();
    first.extend(
        ["--early-stop", "3", "--epochs"]
            .iter()
            .map(|s| s.to_string()),
    );
    first.push((best + 1).to_string());
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let partial = train_ok(&data, &dir, &first);
    assert_eq!(partial["model_epoch"].as_u64(), Some(best));
    let resumed = train_ok(&data, &dir, &["--epochs", "30"]);
    assert_eq!(resumed["ending"], "early-stopped");
    assert_eq!(resumed["model_hash"], straight["model_hash"]);
    assert_eq!(resumed["epochs"], straight["epochs"]);
}

#[test]
fn the_validation_slice_is_train_ratings_only_and_never_a_test_pair() {
    let tmp = tempfile::tempdir().unwrap();
    let path = small_data(tmp.path(), 5);
    let data = RatingFile::open(&path).unwrap();
    let grid = data.grid();
    let global = |ub: usize, ib: usize, u: u32, i: u32| {
        (
            data.user_band(ub).start + u as usize,
            data.item_band(ib).start + i as usize,
        )
    };
    let mut test_pairs = HashSet::new();
    for ub in 0..grid {
        for ib in 0..grid {
            for r in data.test_block(ub, ib) {
                test_pairs.insert(global(ub, ib, r.user, r.item));
            }
        }
    }
    assert!(!test_pairs.is_empty());
    let slice = ValidationSlice::select(&data, 0.05, 3);
    let mut held = 0u64;
    let mut trained = 0u64;
    for ub in 0..grid {
        for ib in 0..grid {
            let block = data.train_block(ub, ib);
            let train_pairs: HashSet<_> = block
                .iter()
                .map(|r| global(ub, ib, r.user, r.item))
                .collect();
            for r in slice.ratings(ub, ib) {
                let pair = global(ub, ib, r.user, r.item);
                assert!(train_pairs.contains(&pair), "validation pair not in train");
                assert!(
                    !test_pairs.contains(&pair),
                    "validation pair {pair:?} is a test pair"
                );
                assert!(is_held_out(
                    data.user_id(pair.0),
                    data.item_id(pair.1),
                    0.05
                ));
            }
            // What the trainer sees is exactly the rest of the block.
            let seen: Vec<_> = slice
                .training_runs(ub, ib, block)
                .flatten()
                .map(|r| global(ub, ib, r.user, r.item))
                .collect();
            assert!(seen.iter().all(|&(u, i)| !is_held_out(
                data.user_id(u),
                data.item_id(i),
                0.05
            )));
            assert_eq!(seen.len() + slice.ratings(ub, ib).len(), block.len());
            held += slice.ratings(ub, ib).len() as u64;
            trained += seen.len() as u64;
        }
    }
    assert_eq!(held, slice.count());
    assert_eq!(held + trained, data.train_count());
    let fraction = held as f64 / data.train_count() as f64;
    assert!((0.04..0.06).contains(&fraction), "held out {fraction}");
    // The same pairs whatever the thread count.
    let again = ValidationSlice::select(&data, 0.05, 1);
    for ub in 0..grid {
        for ib in 0..grid {
            assert_eq!(again.ratings(ub, ib), slice.ratings(ub, ib));
        }
    }
}

#[test]
fn defaults_are_derived_from_the_spread_and_the_ratings_per_row() {
    // One rating per row on a 1–5 scale: the constants themselves, within
    // their bounds.
    let d = Derived::for_shape(&DataShape {
        spread: 1.0,
        ratings_per_row: 1.0,
    });
    let near = |a: f32, b: f64| (f64::from(a) - b).abs() < 1e-6 * b.max(1.0);
    assert!(near(
        d.learning_rate,
        RATE_PER_SQRT_RATINGS.clamp(RATE_BOUNDS.0, RATE_BOUNDS.1)
    ));
    assert!(near(
        d.reg,
        REG_PER_SQRT_RATINGS.clamp(REG_BOUNDS.0, REG_BOUNDS.1)
    ));
    // 100 ratings per row: η and λ are a tenth of the constants (1/√n̄);
    // λ_b and λ₀ do not depend on n̄.
    let d = Derived::for_shape(&DataShape {
        spread: 1.0,
        ratings_per_row: 100.0,
    });
    assert!(near(d.learning_rate, RATE_PER_SQRT_RATINGS / 10.0));
    assert!(near(d.reg, REG_PER_SQRT_RATINGS / 10.0));
    assert!(near(d.reg_bias, REG_BIAS_PER_SPREAD));
    assert!(near(d.reg_row, REG_ROW_PER_SPREAD));
    // Four times the ratings per row: half the step and half the λ.
    let d4 = Derived::for_shape(&DataShape {
        spread: 1.0,
        ratings_per_row: 400.0,
    });
    assert!(near(d4.learning_rate, f64::from(d.learning_rate) / 2.0));
    assert!(near(d4.reg, f64::from(d.reg) / 2.0));
    assert_eq!(d4.reg_row, d.reg_row);
    // Absurdly dense data stays within the bounds.
    let huge = Derived::for_shape(&DataShape {
        spread: 1.0,
        ratings_per_row: 1e12,
    });
    assert!(near(huge.learning_rate, RATE_BOUNDS.0));
    assert!(near(huge.reg, REG_BOUNDS.0));
    // Ratings twice as spread (a 1–9 scale): η halves, every λ doubles.
    let wide = Derived::for_shape(&DataShape {
        spread: 2.0,
        ratings_per_row: 100.0,
    });
    assert!((wide.learning_rate - d.learning_rate / 2.0).abs() < 1e-7);
    assert!((wide.reg - 2.0 * d.reg).abs() < 1e-7);
    assert!((wide.reg_bias - 2.0 * d.reg_bias).abs() < 1e-7);
    assert!((wide.reg_row - 2.0 * d.reg_row).abs() < 1e-6);

    // And `defaults_for` a real file uses exactly that derivation.
    let tmp = tempfile::tempdir().unwrap();
    let data = RatingFile::open(&small_data(tmp.path(), 3)).unwrap();
    let shape = DataShape::of(&data);
    assert_eq!(shape.spread, 1.0, "a 1–5 scale has spread 1");
    let n = data.train_count() as f64 / (data.users() + data.items()) as f64;
    assert!((shape.ratings_per_row - n).abs() < 1e-9);
    let c = TrainConfig::defaults_for(&data);
    let d = Derived::for_shape(&shape);
    assert_eq!(c.learning_rate, d.learning_rate);
    assert_eq!(c.reg, d.reg);
    assert_eq!(c.reg_bias, d.reg_bias);
    assert_eq!(c.reg_row, d.reg_row);
    assert!(c.validation > 0.0 && c.early_stop > 0);
}

#[test]
fn early_stopping_without_a_validation_slice_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path(), 3);
    let out = train(
        &data,
        &tmp.path().join("c"),
        &["--validation", "0", "--early-stop", "2"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    for bad in ["-0.1", "0.9", "nan"] {
        let out = train(&data, &tmp.path().join("c"), &["--validation", bad]);
        assert_eq!(out.status.code(), Some(2), "--validation {bad}");
    }
    // Without a slice the run goes to the end and keeps the last model.
    let s = train_ok(
        &data,
        &tmp.path().join("none"),
        &["--validation", "0", "--epochs", "3"],
    );
    assert_eq!(s["validation_ratings"], 0);
    assert_eq!(s["model_epoch"], 3);
    assert!(s["validation_rmse"].is_null());
}

#[test]
fn tune_searches_on_train_folds_and_prints_the_best_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path(), 3);
    let out = funkd([
        "tune",
        "--data",
        data.to_str().unwrap(),
        "--dir",
        tmp.path().join("tune").to_str().unwrap(),
        "--folds",
        "2",
        "--factors",
        "4,8",
        "--lr",
        "1",
        "--reg",
        "0.5,2",
        "--epochs",
        "3",
        "--json",
        "--quiet",
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let file = RatingFile::open(&data).unwrap();
    assert_eq!(report["train_ratings"], file.train_count());
    let cands = report["candidates"].as_array().unwrap();
    assert_eq!(cands.len(), 4);
    let means: Vec<f64> = cands
        .iter()
        .map(|c| c["rmse"]["mean"].as_f64().unwrap())
        .collect();
    assert!(means.windows(2).all(|w| w[0] <= w[1]), "sorted best first");
    let best = &cands[0]["candidate"];
    let flags: Vec<&str> = report["best_flags"].as_str().unwrap().split(' ').collect();
    let value = |flag: &str| -> f32 {
        let at = flags.iter().position(|f| *f == flag).expect(flag);
        flags[at + 1].parse().unwrap()
    };
    for (flag, field) in [
        ("--factors", "factors"),
        ("--learning-rate", "learning_rate"),
        ("--reg", "reg"),
        ("--reg-row", "reg_row"),
    ] {
        assert_eq!(value(flag), best[field].as_f64().unwrap() as f32, "{flag}");
    }
    // Each held-out fold is half the train split: the test split is unused.
    for c in cands {
        assert_eq!(c["per_fold"].as_array().unwrap().len(), 2);
    }
}

#[test]
fn the_row_prior_shrinks_every_factor_row_once_per_epoch() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path(), 3);
    // η·λ₀ ≥ 1: the shrink p ← max(0, 1 − η·λ₀)·p leaves only μ and the biases.
    let common = ["--epochs", "2", "--learning-rate", "0.01"];
    let mut args = common.to_vec();
    args.extend_from_slice(&["--reg-row", "100"]);
    train_ok(&data, &tmp.path().join("strong"), &args);
    let strong = funkd::checkpoint::load_model(&tmp.path().join("strong")).unwrap();
    assert!(strong.model.user_factors.iter().all(|x| *x == 0.0));
    assert!(strong.model.item_factors.iter().all(|x| *x == 0.0));
    assert!(strong.model.user_bias.iter().any(|x| *x != 0.0));

    let mut args = common.to_vec();
    args.extend_from_slice(&["--reg-row", "0"]);
    train_ok(&data, &tmp.path().join("none"), &args);
    let none = funkd::checkpoint::load_model(&tmp.path().join("none")).unwrap();
    let mut args = common.to_vec();
    args.extend_from_slice(&["--reg-row", "20"]);
    train_ok(&data, &tmp.path().join("some"), &args);
    let some = funkd::checkpoint::load_model(&tmp.path().join("some")).unwrap();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>();
    assert!(norm(&some.model.user_factors) < norm(&none.model.user_factors));
    assert!(norm(&some.model.item_factors) < norm(&none.model.item_factors));
}
