//! `funkd train --warm-start`: a run on a rating file that extends an older
//! one starts from the older file's model. Known rows are kept exactly,
//! new rows are initialised as a fresh run initialises them, the result
//! does not depend on the thread count, and a few warm epochs get as far
//! as a full fresh run.

mod train_support;

use std::path::{Path, PathBuf};

use funkd::ratingfile::{self, RatingFile, RatingSet, Triple, WriteOptions};
use funkd::train::state::ModelState;
use funkd::train::{TrainConfig, WarmStart};
use train_support::{small_data, summary, train, train_ok};

/// D' = D plus 60 new users (each rating what an existing user rated) and
/// 6 new items (each rated by whoever rated an existing item), written
/// with another renumbering seed, so internal ids differ from D's.
fn extended(old: &Path, out: &Path) -> PathBuf {
    let set = RatingFile::open(old).unwrap().to_rating_set();
    let mut next = set.clone();
    for n in 0..60u32 {
        let model_user = n * 7;
        let id = next.user_ids.len() as u32;
        next.user_ids.push(format!("new-user-{n}"));
        let copied: Vec<Triple> = set
            .train
            .iter()
            .filter(|t| t.user == model_user)
            .map(|t| Triple { user: id, ..*t })
            .collect();
        next.train.extend(copied);
    }
    for n in 0..6u32 {
        let model_item = n * 5;
        let id = next.item_ids.len() as u32;
        next.item_ids.push(format!("new-item-{n}"));
        let copied: Vec<Triple> = set
            .train
            .iter()
            .filter(|t| t.item == model_item)
            .map(|t| Triple { item: id, ..*t })
            .collect();
        next.train.extend(copied);
    }
    let path = out.join("extended.funk");
    ratingfile::write(
        &path,
        &next,
        &WriteOptions {
            grid: None,
            seed: 99,
        },
    )
    .unwrap();
    path
}

fn write_set(set: &RatingSet, path: &Path) {
    ratingfile::write(path, set, &WriteOptions::default()).unwrap();
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn known_rows_are_kept_and_new_rows_start_as_a_fresh_run_starts_them() {
    let tmp = tempfile::tempdir().unwrap();
    let old = small_data(tmp.path(), 5);
    let old_dir = tmp.path().join("old");
    train_ok(&old, &old_dir, &["--epochs", "4", "--factors", "8"]);
    let new = extended(&old, tmp.path());

    let warm = WarmStart::load(&old_dir, None, &funkd::report::Silent)
        .expect("the recorded data file is found");
    let new_data = RatingFile::open(&new).unwrap();
    let mut config = TrainConfig::defaults_for(&new_data);
    config.seed = 11;
    warm.adapt(&mut config).unwrap();
    assert_eq!(config.rank, 8, "the rank comes from the model");
    let settings = config.fresh_settings(&new_data);
    let (p, counts) = warm.initial_parameters(&new_data, &settings).unwrap();
    assert_eq!(counts.users_kept, warm.data.users());
    assert_eq!(counts.users_new, 60);
    assert_eq!(counts.items_kept, warm.data.items());
    assert_eq!(counts.items_new, 6);

    let m = &warm.loaded.model;
    let k = m.k;
    assert_eq!(p.mu, m.mu, "μ is kept");
    let users = new_data.user_index();
    let mut moved = 0;
    for old_u in 0..warm.data.users() {
        let u = users.get(warm.data.user_id(old_u)).unwrap();
        moved += usize::from(u != old_u);
        assert_eq!(
            p.user_factors[u * k..(u + 1) * k],
            m.user_factors[old_u * k..(old_u + 1) * k]
        );
        assert_eq!(p.user_bias[u], m.user_bias[old_u]);
    }
    assert!(moved > 0, "the test needs internal ids that differ");
    let items = new_data.item_index();
    for old_i in 0..warm.data.items() {
        let i = items.get(warm.data.item_id(old_i)).unwrap();
        assert_eq!(
            p.item_factors[i * k..(i + 1) * k],
            m.item_factors[old_i * k..(old_i + 1) * k]
        );
        assert_eq!(p.item_bias[i], m.item_bias[old_i]);
    }

    // New rows: what a fresh run with the same seed starts them at.
    let bands = |f: &dyn Fn(usize) -> std::ops::Range<usize>| -> Vec<_> {
        (0..new_data.grid()).map(f).collect()
    };
    let fresh = ModelState::<16>::init(
        &bands(&|b| new_data.user_band(b)),
        &bands(&|b| new_data.item_band(b)),
        8,
        11,
        0.0,
        settings.schedule,
    )
    .to_parameters();
    for n in 0..60 {
        let u = users.get(&format!("new-user-{n}")).unwrap();
        assert_eq!(
            p.user_factors[u * k..(u + 1) * k],
            fresh.user_factors[u * k..(u + 1) * k]
        );
        assert_eq!(p.user_bias[u], 0.0);
    }
    for n in 0..6 {
        let i = items.get(&format!("new-item-{n}")).unwrap();
        assert_eq!(
            p.item_factors[i * k..(i + 1) * k],
            fresh.item_factors[i * k..(i + 1) * k]
        );
    }
}

#[test]
fn a_warm_start_is_deterministic_across_thread_counts_and_converges_fast() {
    let tmp = tempfile::tempdir().unwrap();
    let old = small_data(tmp.path(), 6);
    let old_dir = tmp.path().join("old");
    train_ok(&old, &old_dir, &["--factors", "8"]);
    let new = extended(&old, tmp.path());

    let warm = |dir: &str, threads: &str, epochs: &str| {
        let args = [
            "--warm-start",
            &s(&old_dir),
            "--threads",
            threads,
            "--epochs",
            epochs,
            "--seed",
            "4",
        ];
        train_ok(&new, &tmp.path().join(dir), &args)
    };
    let one = warm("w1", "1", "3");
    let four = warm("w4", "4", "3");
    assert_eq!(one["model_hash"], four["model_hash"]);
    assert_eq!(one["epochs"], 3);

    let fresh_short = train_ok(
        &new,
        &tmp.path().join("f3"),
        &["--factors", "8", "--epochs", "3", "--seed", "4"],
    );
    let fresh_full = train_ok(
        &new,
        &tmp.path().join("f20"),
        &["--factors", "8", "--seed", "4"],
    );
    let rmse = |v: &serde_json::Value| v["test_rmse"].as_f64().unwrap();
    assert!(
        rmse(&one) < rmse(&fresh_short),
        "3 warm epochs ({}) must beat 3 fresh ones ({})",
        rmse(&one),
        rmse(&fresh_short)
    );
    assert!(
        rmse(&one) < rmse(&fresh_full) + 0.01,
        "3 warm epochs ({}) must come close to a full fresh run ({})",
        rmse(&one),
        rmse(&fresh_full)
    );
}

#[test]
fn a_file_that_does_not_extend_the_old_one_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let old = small_data(tmp.path(), 7);
    let old_dir = tmp.path().join("old");
    train_ok(&old, &old_dir, &["--epochs", "1", "--factors", "8"]);

    // Drop the first user's ratings: the new file lacks that user.
    let mut set = RatingFile::open(&old).unwrap().to_rating_set();
    let gone = set.user_ids[0].clone();
    set.train.retain(|t| t.user != 0);
    set.test.retain(|t| t.user != 0);
    set.user_ids.swap_remove(0);
    let last = set.user_ids.len() as u32;
    for t in set.train.iter_mut().chain(set.test.iter_mut()) {
        if t.user == last {
            t.user = 0;
        }
    }
    let shrunk = tmp.path().join("shrunk.funk");
    write_set(&set, &shrunk);
    let out = train(
        &shrunk,
        &tmp.path().join("w"),
        &["--warm-start", &s(&old_dir)],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("user {gone:?}")) && err.contains("extend"),
        "{err}"
    );

    // Another rank or kind is refused too.
    let new = extended(&old, tmp.path());
    let out = train(
        &new,
        &tmp.path().join("r"),
        &["--warm-start", &s(&old_dir), "--factors", "16"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--factors 16 differs"));
    let out = train(
        &new,
        &tmp.path().join("p"),
        &["--warm-start", &s(&old_dir), "--plain"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("biased model"));

    // Resuming an interrupted warm-started run needs no warm start again,
    // and a directory of another run is refused with a hint.
    let out = train(
        &new,
        &old_dir,
        &["--warm-start", &s(&old_dir), "--epochs", "1"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", summary_or_err(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty --checkpoint-dir"));
}

fn summary_or_err(out: &std::process::Output) -> String {
    if out.status.success() {
        summary(out).to_string()
    } else {
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

#[test]
fn a_warm_start_continues_the_old_runs_learning_rate_and_trains_few_epochs() {
    let tmp = tempfile::tempdir().unwrap();
    let old = small_data(tmp.path(), 8);
    let new = extended(&old, tmp.path());
    let new_data = RatingFile::open(&new).unwrap();
    let fresh = TrainConfig::defaults_for(&new_data);
    let funk_kernel::LearningRate::Decay { decay } = fresh.schedule else {
        panic!("the default schedule decays");
    };
    let floor = fresh.learning_rate / (1.0 + decay * funkd::train::config::DEFAULT_EPOCHS as f32);

    // A short old run left off at a rate above where a full fresh run
    // ends: the warm run goes on from there.
    let short = tmp.path().join("short");
    train_ok(&old, &short, &["--epochs", "4", "--factors", "8"]);
    let warm = WarmStart::load(&short, None, &funkd::report::Silent).unwrap();
    let old_rate = warm.loaded.settings.learning_rate;
    let mut config = TrainConfig::defaults_for(&new_data);
    warm.adapt(&mut config).unwrap();
    let left_off = old_rate / (1.0 + decay * warm.loaded.model_epoch as f32);
    assert!(left_off > floor, "{left_off} vs {floor}");
    assert_eq!(config.learning_rate, left_off);
    assert!(config.learning_rate < fresh.learning_rate);
    assert_eq!(config.epochs, funkd::train::config::DEFAULT_WARM_EPOCHS);
    // The run's description says where they came from.
    let described =
        funkd::train::report::describe(&config.fresh_settings(&new_data), &config, false);
    for line in [
        format!("{left_off} (now {left_off}) (warm start)"),
        "3 (warm start)".to_string(),
    ] {
        assert!(described.contains(&line), "{line} in {described}");
    }

    // A long one left off below it: the floor, so that chained warm
    // starts keep learning.
    let long = tmp.path().join("long");
    train_ok(
        &old,
        &long,
        &["--epochs", "40", "--early-stop", "0", "--factors", "8"],
    );
    let warm = WarmStart::load(&long, None, &funkd::report::Silent).unwrap();
    let mut config = TrainConfig::defaults_for(&new_data);
    warm.adapt(&mut config).unwrap();
    assert_eq!(config.learning_rate, floor);

    // Through the command line: the same defaults; flags win.
    let out = train(&new, &tmp.path().join("w"), &["--warm-start", &s(&short)]);
    assert!(out.status.success(), "{}", summary_or_err(&out));
    assert_eq!(summary(&out)["epochs"], 3);
    let rate = |v: &serde_json::Value| v["learning_rate"].as_f64().map(|x| x as f32);
    assert_eq!(rate(&summary(&out)), Some(left_off));
    let given = train_ok(
        &new,
        &tmp.path().join("g"),
        &[
            "--warm-start",
            &s(&short),
            "--learning-rate",
            "0.02",
            "--epochs",
            "2",
        ],
    );
    assert_eq!(given["epochs"], 2);
    assert_eq!(rate(&given), Some(0.02));
}
