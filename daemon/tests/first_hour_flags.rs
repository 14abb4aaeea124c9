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
