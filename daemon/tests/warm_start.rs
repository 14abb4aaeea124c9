//! `funkd train --warm-start`: a run on a rating file that extends an older
//! one starts from the older file's model. Known rows are kept exactly,
//! new rows are initialised by fold-in against the known ones (or as a
//! fresh run initialises them when they have nothing to fold in), the
//! result does not depend on the thread count, and a few warm epochs get
//! as far as a full fresh run.

mod train_support;

use std::path::{Path, PathBuf};

use std::time::Instant;

use funk_kernel::{fold_in, FoldIn, ItemFactors, ItemRating};
use funkd::checkpoint::{CheckpointDir, Parameters};
use funkd::ratingfile::{self, RatingFile, RatingSet, Triple, WriteOptions};
use funkd::runstate::Settings;
use funkd::train::state::ModelState;
use funkd::train::{run, validation, TrainConfig, WarmStart};
use train_support::{small_data, summary, train, train_ok};

/// D' = D plus 60 new users (each rating what an existing user rated, in
/// both splits) and 6 new items (each rated by whoever rated an existing
/// item, in both splits), and one more new user, `lonely-user`, whose one
/// rating is of a new item; written with another renumbering seed, so
/// internal ids differ from D's.
fn extended(old: &Path, out: &Path) -> PathBuf {
    let set = RatingFile::open(old).unwrap().to_rating_set();
    let mut next = set.clone();
    let copy = |from: &[Triple], keep: &dyn Fn(&Triple) -> bool, to: &dyn Fn(&Triple) -> Triple| {
        from.iter().filter(|t| keep(t)).map(to).collect::<Vec<_>>()
    };
    for n in 0..60u32 {
        let model_user = n * 7;
        let id = next.user_ids.len() as u32;
        next.user_ids.push(format!("new-user-{n}"));
        let keep = |t: &Triple| t.user == model_user;
        let to = |t: &Triple| Triple { user: id, ..*t };
        next.train.extend(copy(&set.train, &keep, &to));
        next.test.extend(copy(&set.test, &keep, &to));
    }
    for n in 0..6u32 {
        let model_item = n * 5;
        let id = next.item_ids.len() as u32;
        next.item_ids.push(format!("new-item-{n}"));
        let keep = |t: &Triple| t.item == model_item;
        let to = |t: &Triple| Triple { item: id, ..*t };
        next.train.extend(copy(&set.train, &keep, &to));
        next.test.extend(copy(&set.test, &keep, &to));
    }
    let lonely = next.user_ids.len() as u32;
    next.user_ids.push("lonely-user".to_string());
    next.train.push(Triple {
        user: lonely,
        item: set.item_ids.len() as u32,
        value: 4.0,
    });
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
fn known_rows_are_kept_and_new_rows_are_folded_in_against_them() {
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
    assert!(
        settings.validation > 0.0,
        "the test needs a validation slice"
    );
    let (p, counts) = warm.initial_parameters(&new_data, &settings, 1).unwrap();
    assert_eq!(counts.users_kept, warm.data.users());
    assert_eq!(counts.users_new, 61);
    assert_eq!(counts.items_kept, warm.data.items());
    assert_eq!(counts.items_new, 6);
    assert_eq!((counts.users_folded, counts.items_folded), (60, 6));
    let (four, _) = warm.initial_parameters(&new_data, &settings, 4).unwrap();
    assert_eq!(p, four, "the same bits for any thread count");

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

    // New rows: the kernel's fold-in of their train ratings outside the
    // validation slice against the known rows of the other side, with
    // the run's regularisation and the kept μ.
    let fold = FoldIn::new(settings.kind, settings.reg, settings.reg_bias, m.mu)
        .and_then(|f| f.with_row_prior(settings.reg_row))
        .unwrap();
    let set = new_data.to_rating_set();
    let internal_user = |t: &Triple| users.get(&set.user_ids[t.user as usize]).unwrap();
    let internal_item = |t: &Triple| items.get(&set.item_ids[t.item as usize]).unwrap();
    let known_user = |t: &Triple| {
        warm.data
            .user_index()
            .get(&set.user_ids[t.user as usize])
            .is_some()
    };
    let known_item = |t: &Triple| {
        warm.data
            .item_index()
            .get(&set.item_ids[t.item as usize])
            .is_some()
    };
    let trained_on = |t: &Triple| {
        !validation::is_held_out(
            &set.user_ids[t.user as usize],
            &set.item_ids[t.item as usize],
            settings.validation,
        )
    };
    let close = |got: &[f32], want: &[f32]| {
        got.iter()
            .zip(want)
            .all(|(g, w)| (g - w).abs() <= 1e-5 * w.abs().max(1.0))
    };
    let mut held_out = 0;
    for n in 0..60 {
        let u = users.get(&format!("new-user-{n}")).unwrap();
        let mut ratings = Vec::new();
        for t in set.train.iter().filter(|t| internal_user(t) == u) {
            assert!(
                known_item(t),
                "new users of the fixture rate known items only"
            );
            if trained_on(t) {
                ratings.push(ItemRating {
                    item: internal_item(t) as u32,
                    value: t.value,
                });
            } else {
                held_out += 1;
            }
        }
        assert!(!ratings.is_empty());
        let fixed = ItemFactors::new(&p.item_factors, k, 8, &p.item_bias).unwrap();
        let mut row = vec![0.0; k];
        let bias = fold_in::<16>(&fold, &fixed, &ratings, &mut row).unwrap();
        let got = &p.user_factors[u * k..(u + 1) * k];
        assert!(
            close(got, &row),
            "new user {n}: {got:?} vs the fold-in {row:?}"
        );
        assert!(
            close(&[p.user_bias[u]], &[bias]),
            "new user {n}: bias {} vs {bias}",
            p.user_bias[u]
        );
        assert!(row.iter().any(|&x| x != 0.0));
    }
    assert!(
        held_out > 0,
        "the fixture must have held-out ratings of new users"
    );
    for n in 0..6 {
        let i = items.get(&format!("new-item-{n}")).unwrap();
        let ratings: Vec<ItemRating> = set
            .train
            .iter()
            .filter(|t| internal_item(t) == i && known_user(t) && trained_on(t))
            .map(|t| ItemRating {
                item: internal_user(t) as u32,
                value: t.value,
            })
            .collect();
        assert!(!ratings.is_empty());
        let fixed = ItemFactors::new(&p.user_factors, k, 8, &p.user_bias).unwrap();
        let mut row = vec![0.0; k];
        let bias = fold_in::<16>(&fold, &fixed, &ratings, &mut row).unwrap();
        let got = &p.item_factors[i * k..(i + 1) * k];
        assert!(
            close(got, &row),
            "new item {n}: {got:?} vs the fold-in {row:?}"
        );
        assert!(
            close(&[p.item_bias[i]], &[bias]),
            "new item {n}: bias {} vs {bias}",
            p.item_bias[i]
        );
    }

    // A new user with nothing to fold in (their one rating is of a new
    // item): what a fresh run with the same seed starts them at.
    let fresh = fresh_parameters(&new_data, &settings);
    let u = users.get("lonely-user").unwrap();
    assert_eq!(
        p.user_factors[u * k..(u + 1) * k],
        fresh.user_factors[u * k..(u + 1) * k]
    );
    assert_eq!(p.user_bias[u], 0.0);
}

/// The parameters a fresh run with `settings` starts from.
fn fresh_parameters(data: &RatingFile, settings: &Settings) -> Parameters {
    let bands = |f: &dyn Fn(usize) -> std::ops::Range<usize>| -> Vec<_> {
        (0..data.grid()).map(f).collect()
    };
    ModelState::<16>::init(
        &bands(&|b| data.user_band(b)),
        &bands(&|b| data.item_band(b)),
        settings.rank as usize,
        settings.seed,
        0.0,
        settings.schedule,
    )
    .to_parameters()
}

/// Trains `settings.epochs` epochs from `start` into `dir`; the model.
fn train_from_parameters(
    data: &RatingFile,
    config: &TrainConfig,
    settings: &Settings,
    start: Parameters,
    dir: &Path,
) -> funkd::model::Model {
    let checkpoints = CheckpointDir::new(dir);
    checkpoints.create().unwrap();
    let around = run::Surroundings {
        dir: &checkpoints,
        requests: &crossbeam_channel::never(),
        entered: Instant::now(),
        reporter: &funkd::report::Silent,
    };
    run::run::<16>(
        data,
        config,
        settings.clone(),
        run::Start::Warm(Box::new(start)),
        around,
    )
    .unwrap();
    WarmStart::load(dir, Some(data.path()), &funkd::report::Silent)
        .unwrap()
        .loaded
        .model
}

#[test]
fn folded_in_rows_fit_their_own_ratings_far_better_than_random_ones_after_a_short_run() {
    let tmp = tempfile::tempdir().unwrap();
    let old = small_data(tmp.path(), 9);
    let old_dir = tmp.path().join("old");
    train_ok(&old, &old_dir, &["--factors", "8"]);
    let new = extended(&old, tmp.path());
    let warm = WarmStart::load(&old_dir, None, &funkd::report::Silent).unwrap();
    let data = RatingFile::open(&new).unwrap();
    let mut config = TrainConfig::defaults_for(&data);
    config.seed = 4;
    warm.adapt(&mut config).unwrap();
    let settings = config.fresh_settings(&data);
    let (folded, counts) = warm.initial_parameters(&data, &settings, 2).unwrap();
    assert_eq!((counts.users_folded, counts.items_folded), (60, 6));

    // The same start with every new row drawn as a fresh run draws it.
    let fresh = fresh_parameters(&data, &settings);
    let mut random = folded.clone();
    let k = settings.k as usize;
    let known_users = warm.data.user_index();
    for u in (0..data.users()).filter(|&u| known_users.get(data.user_id(u)).is_none()) {
        random.user_factors[u * k..(u + 1) * k]
            .copy_from_slice(&fresh.user_factors[u * k..(u + 1) * k]);
        random.user_bias[u] = 0.0;
    }
    let known_items = warm.data.item_index();
    for i in (0..data.items()).filter(|&i| known_items.get(data.item_id(i)).is_none()) {
        random.item_factors[i * k..(i + 1) * k]
            .copy_from_slice(&fresh.item_factors[i * k..(i + 1) * k]);
        random.item_bias[i] = 0.0;
    }
    assert_ne!(folded, random);

    // The new rows' own test ratings, scored after the default short warm
    // run from each start.
    let set = data.to_rating_set();
    let new_row_tests: Vec<(usize, usize, f32)> = set
        .test
        .iter()
        .filter(|t| {
            set.user_ids[t.user as usize].starts_with("new-user-")
                || set.item_ids[t.item as usize].starts_with("new-item-")
        })
        .map(|t| {
            let u = data
                .user_index()
                .get(&set.user_ids[t.user as usize])
                .unwrap();
            let i = data
                .item_index()
                .get(&set.item_ids[t.item as usize])
                .unwrap();
            (u, i, t.value)
        })
        .collect();
    assert!(
        new_row_tests.len() > 80,
        "{} test ratings",
        new_row_tests.len()
    );
    let rmse = |m: &funkd::model::Model, ratings: &[(usize, usize, f32)]| {
        let sse: f64 = ratings
            .iter()
            .map(|&(u, i, r)| f64::from(m.predict(u, i) - r).powi(2))
            .sum();
        (sse / ratings.len() as f64).sqrt()
    };
    // What the new rows could reach: the old model's RMSE on the test
    // ratings they copy, made by the users and items they copy.
    let old_set = RatingFile::open(&old).unwrap().to_rating_set();
    let copied_user = |t: &&Triple| t.user.is_multiple_of(7) && t.user < 60 * 7;
    let copied_item = |t: &&Triple| t.item.is_multiple_of(5) && t.item < 6 * 5;
    let originals: Vec<(usize, usize, f32)> = (old_set.test.iter().filter(copied_user))
        .chain(old_set.test.iter().filter(copied_item))
        .map(|t| {
            let u = known_users.get(&old_set.user_ids[t.user as usize]).unwrap();
            let i = known_items.get(&old_set.item_ids[t.item as usize]).unwrap();
            (u, i, t.value)
        })
        .collect();
    assert_eq!(originals.len(), new_row_tests.len());
    let reachable = rmse(&warm.loaded.model, &originals);

    let after_folded =
        train_from_parameters(&data, &config, &settings, folded, &tmp.path().join("f"));
    let after_random =
        train_from_parameters(&data, &config, &settings, random, &tmp.path().join("r"));
    let (f, r) = (
        rmse(&after_folded, &new_row_tests),
        rmse(&after_random, &new_row_tests),
    );
    // Measured: reachable 0.9020, fold-in 0.9036, random 0.9176.
    eprintln!(
        "new rows' test RMSE after {} warm epochs: fold-in {f:.4}, random {r:.4} \
         (the old model on the ratings they copy: {reachable:.4})",
        settings.epochs
    );
    assert!(f < r - 0.007, "fold-in {f} must beat random {r} clearly");
    assert!(
        f - reachable < (r - reachable) / 3.0,
        "fold-in {f} must come far nearer than random {r} to {reachable}"
    );
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
