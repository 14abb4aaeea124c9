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
