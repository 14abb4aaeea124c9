//! What a new user meets in a first hour of use, run as they run it (the
//! real binary, small generated or hand-written inputs): wrong files,
//! damaged files, outputs that cannot be written, sizes that cannot fit,
//! everyday CSV, and the warnings that keep surprises from being silent.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn funkd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_funkd"))
        .args(args)
        .output()
        .expect("cannot run funkd")
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs funkd and expects exit 0.
fn ok(args: &[&str]) -> Output {
    let out = funkd(args);
    assert_eq!(code(&out), 0, "funkd {args:?} failed: {}", stderr(&out));
    out
}

/// A small generated rating file (about 6,000 ratings, a test split).
fn small_data(dir: &Path) -> PathBuf {
    let data = dir.join("data.funk");
    ok(&[
        "gen",
        "--scale",
        "0.001",
        "--seed",
        "3",
        "-q",
        "-o",
        s(&data),
    ]);
    data
}

// ---------------------------------------------------------------- a text file given to train

#[test]
fn train_on_a_text_file_says_to_import_it_first() {
    let dir = tempfile::tempdir().unwrap();
    let text = write(
        dir.path(),
        "u1.base",
        "1\t1\t5\t874965758\n1\t2\t3\t876893171\n2\t1\t4\t878542960\n",
    );
    let run = dir.path().join("run");
    let out = funkd(&[
        "train",
        "--data",
        s(&text),
        "--checkpoint-dir",
        s(&run),
        "--quiet",
    ]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(err.contains("not a funk rating file"), "{err}");
    let expected = format!(
        "funkd import --format movielens --train {} -o {}",
        s(&text),
        s(&dir.path().join("u1.funk"))
    );
    assert!(err.contains(&expected), "{err}");
    assert!(err.contains(r#""1\t1\t5\t874965758""#), "{err}");
}

#[test]
fn a_binary_file_given_as_data_is_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = (0..=255u8).cycle().skip(1).take(600).collect();
    let path = dir.path().join("model.bin");
    std::fs::write(&path, &bytes).unwrap();
    let out = funkd(&["inspect", s(&path)]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(err.contains("not a funk rating file"), "{err}");
    assert!(err.contains("binary"), "{err}");
    assert!(
        !err.chars()
            .any(|c| c.is_control() && c != '\n' || c == '\u{fffd}'),
        "raw bytes in the message: {err:?}"
    );
}
