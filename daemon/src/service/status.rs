//! What a run publishes about itself: `status.json` (the state now,
//! replaced atomically, so a reader never sees half of it) and
//! `metrics.jsonl` (one JSON object per completed epoch, appended).
//!
//! `status.json` also names the data file the run trains on (`"data"`, an
//! absolute path), so that the model commands can find it from the
//! checkpoint directory alone.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use super::liveness::{Liveness, ProcessIdentity};
use crate::atomic::write_atomically;

/// The state of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    /// Loading or initialising.
    Starting,
    /// Training.
    Training,
    /// Stopping after a signal.
    Stopping,
    /// Stopped by a signal, checkpoint written: resumable.
    Stopped,
    /// All epochs (or early stopping) done.
    Finished,
    /// Gave up (divergence or an error).
    Failed,
}

/// The content of `status.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    /// The state.
    pub state: RunState,
    /// The process writing it (`pid`, `process_start`, `boot_id`): a
    /// reader tells a live run from a dead one with
    /// [`ProcessIdentity::liveness`], since the state of a run that was
    /// killed stays what it last wrote.
    #[serde(flatten)]
    pub process: ProcessIdentity,
    /// Epochs completed.
    pub epoch: u32,
    /// Epochs in all.
    pub epochs: u32,
    /// Strata of the current epoch completed.
    pub stratum: u32,
    /// Strata per epoch.
    pub strata: u32,
    /// The step size of the epoch being trained (the last one trained
    /// once the run ended): the base rate through the schedule.
    pub learning_rate: f32,
    /// The base learning rate (lower than the one asked for after
    /// divergence back-offs).
    pub base_learning_rate: f32,
    /// Train RMSE of the last completed epoch.
    pub train_rmse: Option<f64>,
    /// Test RMSE of the last completed epoch.
    pub test_rmse: Option<f64>,
    /// Updates per second of the last completed epoch, by the wall clock.
    pub updates_per_sec: Option<f64>,
    /// The newest checkpoint written.
    pub checkpoint: Option<PathBuf>,
    /// Seconds since the Unix epoch when this was written.
    pub updated_unix: f64,
    /// Why the run failed, if it did.
    pub error: Option<String>,
}

/// The name of the status file in a checkpoint directory.
pub const STATUS_FILE_NAME: &str = "status.json";

/// `status.json` in a checkpoint directory.
#[derive(Debug, Clone)]
pub struct StatusFile {
    path: PathBuf,
    data: Option<PathBuf>,
}

/// What `status.json` holds: the status, then the run's data file.
#[derive(Serialize)]
struct Published<'a> {
    #[serde(flatten)]
    status: &'a Status,
    /// The data file trained on (absolute), when known.
    data: Option<&'a Path>,
}

impl StatusFile {
    /// The status file of `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            path: dir.join(STATUS_FILE_NAME),
            data: None,
        }
    }

    /// Also records, in every status written, the data file the run trains
    /// on, as an absolute path (symbolic links resolved when the file
    /// exists), so that a later `funkd eval --model DIR` finds it. A path
    /// that is not UTF-8 cannot be written in JSON and is left out (the
    /// model commands then ask for `--data`).
    pub fn recording_data(mut self, data: &Path) -> Self {
        let absolute = std::fs::canonicalize(data)
            .or_else(|_| std::path::absolute(data))
            .unwrap_or_else(|_| data.to_path_buf());
        self.data = absolute.to_str().is_some().then_some(absolute);
        self
    }

    /// Replaces the file atomically: a reader sees the old JSON or the
    /// new one, whole. A change of state (starting, stopping, finished,
    /// failed, …) is also made durable (fsynced, see
    /// [`write_atomically`]); the updates while training, every epoch and
    /// every few seconds, only rename, without fsync.
    pub fn write(&self, status: &Status) -> anyhow::Result<()> {
        let published = Published {
            status,
            data: self.data.as_deref(),
        };
        let fill = |w: &mut dyn Write| -> anyhow::Result<()> {
            serde_json::to_writer_pretty(&mut *w, &published)?;
            w.write_all(b"\n")?;
            Ok(())
        };
        if status.state == RunState::Training {
            replace_unsynced(&self.path, fill)
        } else {
            write_atomically(&self.path, |w| fill(w))
        }
        .with_context(|| format!("cannot write {}", self.path.display()))
    }
}

/// Replaces `path` by a temporary file of the same directory, filled by
/// `fill` and renamed over it, without fsync: atomic for readers, not
/// durable. For the status while training, which a crash makes stale
/// anyway: an fsync there made the training loop wait for the disk (on
/// ext4 for every dirty block of the file system, the checkpoint being
/// written in the background included), 20 to 150 ms each on a busy disk,
/// several times an epoch.
fn replace_unsynced(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".funk-tmp-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    {
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        fill(&mut w)?;
        w.flush()?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// `metrics.jsonl` in a checkpoint directory.
#[derive(Debug, Clone)]
pub struct MetricsLog {
    path: PathBuf,
}

impl MetricsLog {
    /// The metrics log of `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            path: dir.join("metrics.jsonl"),
        }
    }

    /// Appends one JSON line (in one write, so lines never interleave).
    pub fn append<T: Serialize>(&self, record: &T) -> anyhow::Result<()> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .with_context(|| format!("cannot open {}", self.path.display()))?;
        f.write_all(&line)
            .with_context(|| format!("cannot append to {}", self.path.display()))
    }
}

/// What `status.json` in `dir` says of its run, and whether the process
/// that wrote it still runs: `{"state", "pid", "alive", "why"}` (`alive`
/// null where this system cannot tell). `None` without a readable status file.
pub fn run_report(dir: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join(STATUS_FILE_NAME)).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let state = value["state"].as_str()?.to_string();
    let process: ProcessIdentity = serde_json::from_value(value.clone()).ok()?;
    let (alive, why) = match process.liveness() {
        Liveness::Alive => (Some(true), None),
        Liveness::Dead(why) => (Some(false), Some(why)),
        Liveness::Unknown => (None, None),
    };
    Some(serde_json::json!({
        "state": state,
        "pid": process.pid,
        "alive": alive,
        "why": why,
    }))
}

/// One line for a person: the run's state and whether it is alive, with
/// what to do when a run that should be running is gone.
pub fn describe_run(report: &serde_json::Value) -> String {
    let state = report["state"].as_str().unwrap_or("unknown");
    let pid = &report["pid"];
    let why = report["why"].as_str().unwrap_or("it is gone");
    let running = matches!(state, "starting" | "training" | "stopping");
    match (report["alive"].as_bool(), running) {
        (Some(true), _) => format!("{state}, alive (pid {pid})"),
        (Some(false), true) => format!(
            "not running: status.json says {state}, but {why}; the run crashed or was killed \
             (run the same `funkd train` command to resume from the newest checkpoint)"
        ),
        (Some(false), false) => format!("{state} (pid {pid} has exited)"),
        (None, _) => format!("{state} (pid {pid}; whether it still runs cannot be told here)"),
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> Status {
        Status {
            state: RunState::Training,
            process: ProcessIdentity {
                pid: 7,
                process_start: Some(99),
                boot_id: None,
            },
            epoch: 2,
            epochs: 5,
            stratum: 1,
            strata: 4,
            learning_rate: 0.01,
            base_learning_rate: 0.02,
            train_rmse: Some(0.9),
            test_rmse: None,
            updates_per_sec: None,
            checkpoint: None,
            updated_unix: 1.5,
            error: None,
        }
    }

    fn written(file: &StatusFile, dir: &Path) -> serde_json::Value {
        file.write(&status()).unwrap();
        let text = std::fs::read_to_string(dir.join(STATUS_FILE_NAME)).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn status_json_names_the_data_file_by_its_absolute_path() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("ratings.funk");
        std::fs::write(&data, b"x").unwrap();
        let value = written(
            &StatusFile::new(dir.path()).recording_data(&data),
            dir.path(),
        );
        let recorded = PathBuf::from(value["data"].as_str().unwrap());
        assert!(recorded.is_absolute());
        assert_eq!(recorded, std::fs::canonicalize(&data).unwrap());
        // The status itself is all there, beside it.
        assert_eq!(value["state"], "training");
        assert_eq!(value["epoch"], 2);
        assert_eq!(value["strata"], 4);
        assert!(value["test_rmse"].is_null());
    }

    #[test]
    fn every_state_replaces_the_file_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let file = StatusFile::new(dir.path());
        for (n, state) in [
            RunState::Starting,
            RunState::Training,
            RunState::Training,
            RunState::Finished,
        ]
        .into_iter()
        .enumerate()
        {
            let mut s = status();
            s.state = state;
            s.epoch = n as u32;
            file.write(&s).unwrap();
            let text = std::fs::read_to_string(dir.path().join(STATUS_FILE_NAME)).unwrap();
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(value["epoch"], n);
            let names: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(names, vec![std::ffi::OsString::from(STATUS_FILE_NAME)]);
        }
    }

    #[test]
    fn without_a_data_file_the_field_is_null() {
        let dir = tempfile::tempdir().unwrap();
        let value = written(&StatusFile::new(dir.path()), dir.path());
        assert!(value["data"].is_null());
        assert_eq!(value["pid"], 7);
        assert_eq!(value["process_start"], 99);
    }
}
