//! Small generated data sets, trained models, and running the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use funkd::gen::{generate, GenConfig};
use funkd::model::Model;
use funkd::ratingfile::RatingFile;
use serde_json::Value;
use tempfile::TempDir;

/// A rating file and a model trained on it, in a temporary directory.
pub struct Fixture {
    pub dir: TempDir,
    pub data: PathBuf,
    pub model: PathBuf,
}

impl Fixture {
    /// The data path as a string argument.
    pub fn data_arg(&self) -> &str {
        self.data.to_str().unwrap()
    }
    /// The checkpoint directory as a string argument.
    pub fn model_arg(&self) -> &str {
        self.model.to_str().unwrap()
    }
    /// A path inside the fixture's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    /// The rating file, opened.
    pub fn open(&self) -> RatingFile {
        RatingFile::open(&self.data).unwrap()
    }
    /// The trained model, read back through the library.
    pub fn model(&self) -> Model {
        funkd::checkpoint::load_model(&self.model).unwrap().model
    }
}

/// A sparse 1..5-star set (300 users × 60 items, 6000 ratings, 10% test)
/// and a rank-6 model trained on it for a few epochs.
pub fn sparse(plain: bool, seed: u64) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.funk");
    let config = GenConfig {
        users: 300,
        items: 60,
        ratings: 6000,
        scale: 1.0,
        rank: 4,
        noise: 0.5,
        test_fraction: 0.1,
        seed,
        dense: None,
        grid: None,
    };
    generate(&config, &data).unwrap();
    let model = dir.path().join("run");
    let mut args = vec![
        "train",
        "--data",
        data.to_str().unwrap(),
        "--checkpoint-dir",
        model.to_str().unwrap(),
        "--factors",
        "6",
        "--epochs",
        "6",
        "--quiet",
    ];
    if plain {
        args.push("--plain");
    }
    ok(&args);
    Fixture { dir, data, model }
}

/// Runs `funkd` with `args` (and `stdin` piped in, if given).
pub fn funkd_with_stdin(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_funkd"))
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

/// Runs `funkd` with `args`.
pub fn funkd(args: &[&str]) -> Output {
    funkd_with_stdin(args, None)
}

/// Runs `funkd` and insists on success; returns stdout.
pub fn ok(args: &[&str]) -> String {
    let out = funkd(args);
    assert!(
        out.status.success(),
        "funkd {args:?} failed ({:?}):\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `funkd … --json` and parses the one JSON object it prints.
pub fn json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let stdout = ok(&all);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not one JSON object ({e}):\n{stdout}"))
}

/// Runs `funkd` expecting failure with exit code `code`; returns stderr.
pub fn fails(args: &[&str], code: i32) -> String {
    let out = funkd(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "funkd {args:?}: stderr:\n{stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "funkd {args:?} panicked:\n{stderr}"
    );
    stderr
}

/// The prediction of a model clamped to a range, in f64.
pub fn clamped(model: &Model, u: usize, i: usize, range: Option<(f32, f32)>) -> f64 {
    let p = model.predict(u, i);
    f64::from(match range {
        Some((lo, hi)) => p.max(lo).min(hi),
        None => p,
    })
}

/// Relative difference.
pub fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

/// Writes `text` to `dir/name` and returns the path as a string.
pub fn write_file(dir: &Path, name: &str, text: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}
