//! What a new user meets in the first hour: error messages that say each
//! thing once and speak in flags, the same flags on every command, a run
//! directory that can be started over, a status file that tells a live run
//! from a dead one, and wording without debug formatting. Each test runs
//! the real binary on small generated data.

mod train_support;

use std::path::Path;

use train_support::*;

/// The OS's text for a missing file, as Rust prints it.
fn not_found_text(dir: &Path) -> String {
    std::fs::File::open(dir.join("surely-missing"))
        .unwrap_err()
        .to_string()
}

#[test]
fn a_missing_input_file_names_the_os_error_once() {
    let tmp = tempfile::tempdir().unwrap();
    let os = not_found_text(tmp.path());
    let missing = tmp.path().join("u1.base");
    let missing_test = tmp.path().join("u1.test");
    let out_file = tmp.path().join("u1.funk");
    let runs: Vec<Vec<String>> = vec![
        vec![
            "import".into(),
            "-f".into(),
            "movielens".into(),
            "--train".into(),
            missing.display().to_string(),
            "--test".into(),
            missing_test.display().to_string(),
            "-o".into(),
            out_file.display().to_string(),
        ],
        vec!["inspect".into(), missing.display().to_string()],
        train_args(&missing, &tmp.path().join("run"), &[]),
    ];
    for args in runs {
        let out = funkd(&args).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.matches(&os).count(), 1, "{args:?}: {err}");
        assert!(err.contains("u1.base"), "{args:?}: {err}");
    }
}

/// stdout as one JSON value (pretty-printed or not).
fn stdout_json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// The directories beside `dir` whose names start with `dir`'s name and
/// `.old-`.
fn moved_aside(dir: &Path) -> Vec<std::path::PathBuf> {
    let prefix = format!("{}.old-", dir.file_name().unwrap().to_str().unwrap());
    let mut found: Vec<_> = std::fs::read_dir(dir.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix))
        })
        .collect();
    found.sort();
    found
}

#[test]
fn a_refused_resume_speaks_flags_and_fresh_starts_over_keeping_the_old_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path(), 3);
    let dir = tmp.path().join("run");
    let first = train_ok(&data, &dir, &["--epochs", "1", "--factors", "8"]);
    let old_hash = first["model_hash"].as_str().unwrap().to_string();

    let out = train(
        &data,
        &dir,
        &["--epochs", "1", "--schedule", "constant", "--plain"],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--schedule constant (the run there: --schedule decay --decay 0.05)"),
        "{err}"
    );
    assert!(
        err.contains("--plain (the run there: the biased model, no --plain)"),
        "{err}"
    );
    assert!(err.contains("--fresh"), "{err}");
    for debug in ["Decay {", "Constant", "Biased", "Plain"] {
        assert!(!err.contains(debug), "debug formatting {debug:?}: {err}");
    }

    let out = train(
        &data,
        &dir,
        &["--epochs", "1", "--factors", "8", "--seed", "2", "--fresh"],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let fresh = summary(&out);
    assert!(fresh["resumed_from"].is_null(), "{fresh}");
    assert_ne!(fresh["model_hash"].as_str().unwrap(), old_hash);
    let aside = moved_aside(&dir);
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert!(err.contains(&aside[0].display().to_string()), "{err}");
    // The old run is whole where the message says: its model is the one
    // the first run ended with.
    let status: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(aside[0].join("status.json")).unwrap())
            .unwrap();
    assert_eq!(status["state"], "finished");
    let out = funkd(["inspect", "--json", aside[0].to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(summary(&out)["model_hash"].as_str().unwrap(), old_hash);
}

#[test]
fn every_command_that_reports_progress_takes_dash_q() {
    for command in ["gen", "import", "train", "cv", "tune", "demo"] {
        let out = funkd([command, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{command}: {}", stderr(&out));
        assert!(help.contains("-q, --quiet"), "{command} --help:\n{help}");
    }
}

#[test]
fn cv_and_tune_work_in_a_temporary_directory_unless_given_one() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path(), 5);
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    let data_arg = data.to_str().unwrap();
    let runs: [&[&str]; 2] = [
        &[
            "cv",
            "--data",
            data_arg,
            "--folds",
            "2",
            "--epochs",
            "1",
            "--factors",
            "4",
            "-q",
            "--json",
        ],
        &[
            "tune",
            "--data",
            data_arg,
            "--folds",
            "2",
            "--epochs",
            "1",
            "--factors",
            "4",
            "--lr",
            "1",
            "--reg",
            "1",
            "-q",
            "--json",
        ],
    ];
    for args in runs {
        let out = funkd(args).env("TMPDIR", &scratch).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let report = stdout_json(&out);
        assert!(report.is_object(), "{report}");
        // Nothing is left behind in the temporary directory's parent.
        let left: Vec<_> = std::fs::read_dir(&scratch).unwrap().collect();
        assert!(left.is_empty(), "{args:?} left {left:?}");
    }
    // A directory given is kept, and cv says where each fold's model is.
    let kept = tmp.path().join("cv-work");
    let out = funkd([
        "cv",
        "--data",
        data_arg,
        "--folds",
        "2",
        "--epochs",
        "1",
        "--factors",
        "4",
        "-q",
        "--json",
        "--checkpoint-dir",
        kept.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let fold = &stdout_json(&out)["per_fold"][0];
    assert!(
        Path::new(fold["checkpoint_dir"].as_str().unwrap()).is_dir(),
        "{fold}"
    );
    assert!(kept.join("fold-1.funk").is_file());
}

#[test]
fn negative_numbers_reach_the_range_check() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path(), 6);
    let data_arg = data.to_str().unwrap();
    let dir = tmp.path().join("run");
    let dir_arg = dir.to_str().unwrap();
    let cases: [(&[&str], &str); 7] = [
        (
            &[
                "train",
                "--data",
                data_arg,
                "--checkpoint-dir",
                dir_arg,
                "--learning-rate",
                "-1",
            ],
            "--learning-rate -1 must be",
        ),
        (
            &[
                "train",
                "--data",
                data_arg,
                "--checkpoint-dir",
                dir_arg,
                "--lr=-0.5",
            ],
            "--learning-rate -0.5 must be",
        ),
        (
            &[
                "train",
                "--data",
                data_arg,
                "--checkpoint-dir",
                dir_arg,
                "--reg",
                "-0.1",
            ],
            "--reg -0.1 must be",
        ),
        (
            &[
                "train",
                "--data",
                data_arg,
                "--checkpoint-dir",
                dir_arg,
                "--factors",
                "-3",
            ],
            "-3 is out of range",
        ),
        (
            &[
                "train",
                "--data",
                data_arg,
                "--checkpoint-dir",
                dir_arg,
                "--epochs",
                "-2",
            ],
            "-2 is not in",
        ),
        (
            &["cv", "--data", data_arg, "--learning-rate", "-1"],
            "--learning-rate -1 must be",
        ),
        (
            &["tune", "--data", data_arg, "--learning-rate", "1,-2"],
            "--learning-rate -2 must be",
        ),
    ];
    for (args, expected) in cases {
        let out = funkd(args).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains("unexpected argument"), "{args:?}: {err}");
    }
    assert!(!dir.exists(), "a refused run created its directory");
}

/// `funkd train` without `--json`: the human summary on stdout.
fn train_human(data: &Path, dir: &Path, extra: &[&str]) -> (String, String) {
    let mut args = train_args(data, dir, extra);
    args.retain(|a| a != "--json");
    let out = funkd(&args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr(&out),
    )
}

#[test]
fn a_resumed_run_with_nothing_left_to_train_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path(), 8);
    let dir = tmp.path().join("run");
    train_ok(&data, &dir, &["--epochs", "3", "--factors", "4"]);
    let (out, _) = train_human(&data, &dir, &["--epochs", "2"]);
    let first = out.lines().next().unwrap();
    assert!(
        first.contains("nothing left to do") && first.contains("already trained 3 epochs"),
        "{out}"
    );
    assert!(!out.contains("3 of 2"), "{out}");
}

#[test]
fn patience_running_out_at_the_last_epoch_is_a_finished_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path(), 7);
    // Overfits within a few epochs: early stopping ends the long run.
    let overfit = [
        "--reg",
        "0",
        "--factors",
        "64",
        "--learning-rate",
        "0.05",
        "--schedule",
        "constant",
        "--early-stop",
        "2",
    ];
    let mut long = overfit.to_vec();
    long.extend(["--epochs", "30"]);
    let stopped = train_ok(&data, &tmp.path().join("long"), &long);
    assert_eq!(stopped["ending"], "early-stopped");
    let epochs = stopped["epochs"].as_u64().unwrap().to_string();
    // The same run asked for exactly those epochs trained every one of them.
    let mut exact = overfit.to_vec();
    exact.extend(["--epochs", &epochs]);
    let (out, _) = train_human(&data, &tmp.path().join("exact"), &exact);
    let first = out.lines().next().unwrap();
    assert_eq!(
        first,
        format!("training finished: {epochs} of {epochs} epochs")
    );
    let (out, _) = train_human(&data, &tmp.path().join("long2"), &long);
    assert!(
        out.lines().next().unwrap().starts_with(&format!(
            "training stopped early after {epochs} of 30 epochs"
        )),
        "{out}"
    );
}

#[test]
fn threads_are_counted_in_words_and_a_capped_count_is_announced() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path(), 9);
    let (out, _) = train_human(
        &data,
        &tmp.path().join("one"),
        &["--epochs", "1", "--factors", "4", "--threads", "1"],
    );
    assert!(out.contains("(1 thread, "), "{out}");
    let mut args = train_args(
        &data,
        &tmp.path().join("many"),
        &["--epochs", "1", "--factors", "4", "--threads", "64"],
    );
    args.retain(|a| a != "--quiet");
    let out = funkd(&args).output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let used = summary(&out)["threads"].as_u64().unwrap();
    assert!(used < 64);
    assert!(
        err.contains(&format!(
            "--threads 64: this data's grid is {used}×{used} blocks"
        )),
        "{err}"
    );
}

#[test]
fn import_names_the_duplicates_policy_by_its_flag_value() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("u.base");
    let test = tmp.path().join("u.test");
    std::fs::write(
        &base,
        "1\t1\t4\t0\n1\t1\t5\t1\n2\t1\t3\t0\n1\t2\t2\t0\n2\t2\t4\t0\n",
    )
    .unwrap();
    std::fs::write(&test, "2\t1\t4\t0\n").unwrap();
    let out_file = tmp.path().join("u.funk");
    let out = funkd([
        "import",
        "-q",
        "-f",
        "movielens",
        "--train",
        base.to_str().unwrap(),
        "--test",
        test.to_str().unwrap(),
        "-o",
        out_file.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains("duplicates (--duplicates keep-last): 1 in train"),
        "{text}"
    );
    assert!(!text.contains("KeepLast"), "{text}");
}

#[test]
fn a_truncated_checkpoint_is_called_truncated() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path(), 10);
    let dir = tmp.path().join("run");
    train_ok(&data, &dir, &["--epochs", "1", "--factors", "4"]);
    let newest = checkpoints(&dir).pop().unwrap();
    let bytes = std::fs::read(&newest).unwrap();
    std::fs::write(&newest, &bytes[..bytes.len() - 1000]).unwrap();
    let out = funkd(["inspect", newest.to_str().unwrap()])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("truncated checkpoint"), "{err}");
    assert!(
        err.contains(&format!("the file is {} bytes", bytes.len() - 1000)),
        "{err}"
    );
    assert!(!err.contains("checksum"), "{err}");
}

#[test]
fn status_json_records_the_step_size_of_the_schedule_not_only_the_base_rate() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path(), 12);
    let dir = tmp.path().join("run");
    train_ok(
        &data,
        &dir,
        &[
            "--epochs",
            "3",
            "--factors",
            "4",
            "--learning-rate",
            "0.01",
            "--decay",
            "0.5",
        ],
    );
    let s = status(&dir).unwrap();
    assert_eq!(s["state"], "finished");
    // The last epoch (the third, 0-based 2) stepped 0.01 / (1 + 0.5 · 2).
    let lr = s["learning_rate"].as_f64().unwrap();
    assert!((lr - 0.005).abs() < 1e-7, "{s}");
    assert!(
        (s["base_learning_rate"].as_f64().unwrap() - 0.01).abs() < 1e-7,
        "{s}"
    );
}

#[test]
fn inspect_tells_a_live_run_from_one_that_was_killed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path(), 13);
    let dir = tmp.path().join("run");
    let dir_arg = dir.to_str().unwrap().to_string();
    let mut child = spawn_train(
        &data,
        &dir,
        &[
            "--epochs",
            "1000",
            "--factors",
            "4",
            "--stratum-delay-ms",
            "20",
        ],
    );
    wait_until("a checkpoint", std::time::Duration::from_secs(60), || {
        !checkpoints(&dir).is_empty() && status(&dir).is_some_and(|s| s["state"] == "training")
    });
    let s = status(&dir).unwrap();
    assert_eq!(s["pid"], child.id());
    let inspect = || {
        let out = funkd(["inspect", "--json", &dir_arg]).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        summary(&out)["run"].clone()
    };
    let on_proc = Path::new("/proc/self/stat").exists();
    let run = inspect();
    assert_eq!(run["state"], "training");
    if on_proc {
        assert!(s["process_start"].is_u64(), "{s}");
        assert_eq!(run["alive"], true, "{run}");
    }
    signal(&child, "KILL");
    wait_exit(&mut child, std::time::Duration::from_secs(10));
    // The status file still says training: only the process tells.
    assert_eq!(status(&dir).unwrap()["state"], "training");
    let run = inspect();
    if on_proc {
        assert_eq!(run["alive"], false, "{run}");
        let out = funkd(["inspect", &dir_arg]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("not running: status.json says training"),
            "{text}"
        );
        assert!(text.contains("resume"), "{text}");
    }
}

/// `funkd tune` on `data` with one candidate (rank 4, 0.15 × the derived
/// learning rate: a slow learner) over two folds, plus `extra`.
fn tune_slow_learner(data: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "tune",
        "--data",
        data.to_str().unwrap(),
        "--folds",
        "2",
        "--factors",
        "4",
        "--lr",
        "0.15",
        "--reg",
        "1",
        "-q",
    ];
    args.extend_from_slice(extra);
    funkd(&args).output().unwrap()
}

#[test]
fn tune_lets_a_slow_learner_train_past_the_train_default_until_it_stops_improving() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path(), 7);
    let out = tune_slow_learner(&data, &["--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout_json(&out);
    let best = &report["candidates"][0];
    let epochs: Vec<u64> = best["model_epochs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_u64().unwrap())
        .collect();
    let train_default = u64::from(funkd::train::config::DEFAULT_EPOCHS);
    assert!(
        epochs.iter().all(|&e| e > train_default),
        "cut off at train's default of {train_default} epochs: {epochs:?}"
    );
    // Early stopping, not the cap, ended every training.
    assert_eq!(best["capped_folds"], 0, "{best}");
    assert!(epochs
        .iter()
        .all(|&e| e < report["epochs"].as_u64().unwrap()));
    assert!(!stderr(&out).contains("epoch cap"), "{}", stderr(&out));
}

#[test]
fn tune_warns_when_the_best_candidates_hit_the_epoch_cap() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path(), 7);
    let out = tune_slow_learner(&data, &["--epochs", "2"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("the best candidate (--factors 4")
            && err.contains(
                "still improving when the epoch cap (--epochs 2) stopped it on 2 of 2 folds"
            ),
        "{err}"
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("2* 2*"), "{table}");
    assert!(table.contains("* the epoch cap"), "{table}");
    let out = tune_slow_learner(&data, &["--epochs", "2", "--json"]);
    assert_eq!(stdout_json(&out)["candidates"][0]["capped_folds"], 2);
}

#[test]
fn a_run_cut_off_while_still_improving_says_how_to_train_on() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path(), 7);
    let mut args = train_args(
        &data,
        &tmp.path().join("run"),
        &["--epochs", "2", "--factors", "4"],
    );
    args.retain(|a| a != "--quiet");
    let out = funkd(&args).output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(summary(&out)["best_validation_rmse"][1], 2, "{err}");
    assert!(
        err.contains("still improving at epoch 2, the last one asked for")
            && err.contains("--epochs 3 trains on"),
        "{err}"
    );
}

#[test]
fn fresh_refuses_to_move_a_live_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path(), 14);
    let dir = tmp.path().join("run");
    let mut child = spawn_train(
        &data,
        &dir,
        &[
            "--epochs",
            "1000",
            "--factors",
            "4",
            "--early-stop",
            "0",
            "--stratum-delay-ms",
            "20",
        ],
    );
    wait_until("training", std::time::Duration::from_secs(60), || {
        status(&dir).is_some_and(|s| s["state"] == "training")
    });
    let out = train(&data, &dir, &["--fresh", "--epochs", "1"]);
    signal(&child, "KILL");
    wait_exit(&mut child, std::time::Duration::from_secs(10));
    if Path::new("/proc/self/stat").exists() {
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        // Refused by what status.json says, or (should the run be past
        // its last status update) by the directory lock it still holds.
        assert!(
            err.contains("a run is training in") || err.contains("holds its lock"),
            "{err}"
        );
        assert!(moved_aside(&dir).is_empty());
        assert!(dir.join("status.json").is_file());
    }
}

/// `funkd inspect FILE | head`: a reader that goes away ends funkd as it
/// ends any Unix filter (SIGPIPE), never with a panic in `println!`.
#[test]
fn a_reader_that_closes_the_pipe_ends_funkd_quietly() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path(), 3);
    let mut child = funkd(["inspect".as_ref(), data.as_os_str()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before funkd prints, as `head -0` would.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        out.status.success() || out.status.signal() == Some(libc::SIGPIPE),
        "{:?}: {stderr}",
        out.status
    );
}
