//! What a run publishes about itself: `status.json` (the state now,
//! replaced atomically, so a reader never sees half of it) and
//! `metrics.jsonl` (one JSON object per completed epoch, appended).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

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
    /// Process id.
    pub pid: u32,
    /// Epochs completed.
    pub epoch: u32,
    /// Epochs in all.
    pub epochs: u32,
    /// Strata of the current epoch completed.
    pub stratum: u32,
    /// Strata per epoch.
    pub strata: u32,
    /// The learning rate now.
    pub learning_rate: f32,
    /// Train RMSE of the last completed epoch.
    pub train_rmse: Option<f64>,
    /// Test RMSE of the last completed epoch.
    pub test_rmse: Option<f64>,
    /// Updates per second over the last completed epoch.
    pub updates_per_sec: Option<f64>,
    /// The newest checkpoint written.
    pub checkpoint: Option<PathBuf>,
    /// Seconds since the Unix epoch when this was written.
    pub updated_unix: f64,
    /// Why the run failed, if it did.
    pub error: Option<String>,
}

/// `status.json` in a checkpoint directory.
#[derive(Debug, Clone)]
pub struct StatusFile {
    path: PathBuf,
}

impl StatusFile {
    /// The status file of `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            path: dir.join("status.json"),
        }
    }

    /// Replaces the file atomically.
    pub fn write(&self, status: &Status) -> anyhow::Result<()> {
        write_atomically(&self.path, |w| {
            serde_json::to_writer_pretty(&mut *w, status)?;
            w.write_all(b"\n")?;
            Ok(())
        })
        .with_context(|| format!("cannot write {}", self.path.display()))
    }
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

/// Seconds since the Unix epoch.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
