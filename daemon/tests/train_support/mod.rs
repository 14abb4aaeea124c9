//! Helpers shared by the process-level tests of `funkd train`: small
//! generated data, running the real binary, waiting on files, signals.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use funkd::gen::{generate, GenConfig};

/// A small Netflix-shaped rating file (2,401 users × 89 items, ~64 k
/// ratings, grid 6) generated into `dir`.
pub fn small_data(dir: &Path, seed: u64) -> PathBuf {
    let path = dir.join(format!("data-{seed}.funk"));
    let config = GenConfig {
        scale: 0.005,
        seed,
        ..GenConfig::default()
    };
    generate(&config, &path).expect("generate test data");
    path
}

/// `funkd` with arguments, stdout and stderr captured.
pub fn funkd<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_funkd"));
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// The arguments of a `train` run.
pub fn train_args(data: &Path, dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "train".to_string(),
        "--data".into(),
        data.display().to_string(),
        "--checkpoint-dir".into(),
        dir.display().to_string(),
        "--json".into(),
        "--quiet".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// Runs `funkd train` to completion.
pub fn train(data: &Path, dir: &Path, extra: &[&str]) -> Output {
    funkd(train_args(data, dir, extra))
        .output()
        .expect("run funkd")
}

/// Runs `funkd train`, expects exit 0, and returns the JSON summary.
pub fn train_ok(data: &Path, dir: &Path, extra: &[&str]) -> serde_json::Value {
    let out = train(data, dir, extra);
    assert!(
        out.status.success(),
        "funkd train {extra:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    summary(&out)
}

/// The one JSON object on stdout.
pub fn summary(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "expected one JSON line on stdout, got {stdout:?}"
    );
    serde_json::from_str(lines[0]).expect("stdout is JSON")
}

/// Starts `funkd train` in the background.
pub fn spawn_train(data: &Path, dir: &Path, extra: &[&str]) -> Child {
    funkd(train_args(data, dir, extra))
        .spawn()
        .expect("spawn funkd")
}

/// Sends a signal by name (TERM, INT, HUP, USR1, KILL) with kill(1).
pub fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .expect("run kill");
    assert!(ok.success(), "kill -{name} failed");
}

/// Polls `cond` every 10 ms until it holds; panics after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits for a child to exit; kills it and panics after `timeout`.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            panic!("funkd did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The parsed `status.json` of a checkpoint directory, if readable.
pub fn status(dir: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("status.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Checkpoint files (`ckpt-*.funkckpt`) in a directory, sorted.
pub fn checkpoints(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    let name = p.file_name().unwrap_or_default().to_string_lossy();
                    name.starts_with("ckpt-") && name.ends_with(".funkckpt")
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// Names in a directory that start with `prefix`.
pub fn files_starting_with(dir: &Path, prefix: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}

/// The bytes of the final checkpoint of a finished run of `epochs` epochs.
pub fn final_checkpoint(dir: &Path, epochs: u32) -> Vec<u8> {
    let path = dir.join(format!("ckpt-{epochs:06}-00000.funkckpt"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Whether a temporary file of an atomic write larger than `bytes` is in
/// `dir` (a checkpoint being written; status.json's temporaries are small).
pub fn big_temporary_exists(dir: &Path, bytes: u64) -> bool {
    files_starting_with(dir, ".funk-tmp-")
        .iter()
        .any(|name| std::fs::metadata(dir.join(name)).is_ok_and(|m| m.len() > bytes))
}
