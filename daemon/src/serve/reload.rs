//! Hot swap: find a checkpoint newer than the one served, load and check it
//! on a thread of its own at background priority (off the request path,
//! [`super::priority`]), and publish it with one
//! atomic pointer swap. Requests in flight finish on the snapshot they
//! started with; the old one is freed when the last of them lets go.
//!
//! A checkpoint that fails to load (bad checksum, truncated, wrong data
//! file, non-finite values) is refused with a line on stderr and the old
//! model keeps serving; polling does not retry it until the file changes.
//! A file that disappears between listing and reading (a writer pruning
//! old checkpoints) is not an error: the next poll looks again.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use super::snapshot::Snapshot;
use super::state::{AppState, Refused};
use crate::checkpoint::{CheckpointDir, CheckpointError, Position};

/// What asked for a reload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The periodic look at the directory.
    Poll,
    /// SIGHUP or `POST /v1/reload`: also retries refused checkpoints.
    Request,
}

/// What a reload did.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    /// Nothing newer than the model being served.
    Unchanged {
        /// The checkpoint being served.
        checkpoint: PathBuf,
    },
    /// A newer checkpoint is served now.
    Swapped {
        /// The checkpoint served before.
        from: PathBuf,
        /// The checkpoint served now.
        checkpoint: PathBuf,
        /// Its epoch.
        epoch: u32,
        /// Seconds spent loading and checking it.
        load_seconds: f64,
    },
    /// Newer checkpoints exist but none could be used.
    Refused {
        /// The checkpoint still being served.
        checkpoint: PathBuf,
        /// Why the newest was refused.
        error: String,
    },
}

/// Looks for a newer checkpoint and swaps it in (see the module docs).
pub async fn reload(state: &Arc<AppState>, trigger: Trigger) -> Outcome {
    let _one_at_a_time = state.reload_lock.lock().await;
    let current = state.current();
    let work_state = Arc::clone(state);
    let work_current = Arc::clone(&current);
    // A thread of its own, not the blocking pool's: it runs at background
    // priority, which a pool thread would keep for later work.
    let (done, loaded) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("funkd-load".into())
        .spawn(move || {
            super::priority::enter_background("loading a checkpoint", &work_state.log);
            let _ = done.send(load_newer(&work_state, &work_current, trigger));
        });
    let attempt = match spawned {
        Err(e) => Attempt::Failed {
            error: format!("cannot start the loading thread: {e}"),
        },
        Ok(_) => match loaded.await {
            Ok((attempt, refused)) => {
                state.set_refused(refused);
                attempt
            }
            Err(_) => Attempt::Failed {
                error: "the loading thread failed (a bug)".to_string(),
            },
        },
    };
    match attempt {
        Attempt::Nothing => Outcome::Unchanged {
            checkpoint: current.checkpoint.clone(),
        },
        Attempt::Loaded(snapshot) => {
            let outcome = Outcome::Swapped {
                from: current.checkpoint.clone(),
                checkpoint: snapshot.checkpoint.clone(),
                epoch: snapshot.epoch,
                load_seconds: snapshot.load_seconds,
            };
            state.log.line(&format!(
                "serving {} (epoch {}, loaded in {:.3} s; was {})",
                snapshot.checkpoint.display(),
                snapshot.epoch,
                snapshot.load_seconds,
                current.checkpoint.display()
            ));
            state.snapshot.store(Arc::new(*snapshot));
            super::snapshot::retire(current, &state.log);
            state.metrics.reload("swapped");
            outcome
        }
        Attempt::Failed { error } => {
            state.metrics.reload("refused");
            Outcome::Refused {
                checkpoint: current.checkpoint.clone(),
                error,
            }
        }
    }
}

enum Attempt {
    Nothing,
    Loaded(Box<Snapshot>),
    Failed { error: String },
}

/// Size and modification time: a refused file that changes is tried again.
fn stamp(path: &Path) -> Option<(u64, std::time::SystemTime)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

fn vanished(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<CheckpointError>(),
            Some(CheckpointError::Io { error, .. }) if error.kind() == std::io::ErrorKind::NotFound
        )
    })
}

/// Tries the checkpoints newer than `current`, newest first; the first
/// that loads wins. Also returns the refused checkpoints newer than what
/// will be served (to skip while they stay unchanged), newest first.
fn load_newer(state: &AppState, current: &Snapshot, trigger: Trigger) -> (Attempt, Vec<Refused>) {
    let known = state.refused_list();
    let (dir, data) = state.serving();
    let list = match CheckpointDir::new(&dir).list() {
        Ok(list) => list,
        Err(e) => {
            let error = format!("cannot list {}: {e}", dir.display());
            return (Attempt::Failed { error }, known);
        }
    };
    let newer: Vec<(Position, PathBuf)> = list
        .into_iter()
        .rev()
        .filter(|(position, path)| *position > current.position && *path != current.checkpoint)
        .collect();
    let mut refused: Vec<Refused> = Vec::new();
    let mut fresh_error: Option<String> = None;
    for (_, path) in newer {
        let now_stamp = stamp(&path);
        if trigger == Trigger::Poll {
            if let Some(r) = known
                .iter()
                .find(|r| r.path == path && r.stamp == now_stamp)
            {
                // Refused before and unchanged since: not retried (an older
                // one may still be newer than the model served).
                refused.push(r.clone());
                continue;
            }
        }
        match Snapshot::load(&path, &dir, &data, Some(current), &state.log) {
            Ok(snapshot) => return (Attempt::Loaded(Box::new(snapshot)), refused),
            Err(e) if vanished(&e) => continue,
            Err(e) => {
                // Most errors name the file already.
                let mut error = format!("{e:#}");
                let named = path.display().to_string();
                if !error.contains(&named) {
                    error = format!("{named}: {error}");
                }
                state.log.line(&format!(
                    "refusing checkpoint {error}; still serving {}",
                    current.checkpoint.display()
                ));
                fresh_error.get_or_insert_with(|| error.clone());
                refused.push(Refused {
                    path,
                    stamp: now_stamp,
                    error,
                    at_unix: crate::service::status::unix_now(),
                });
            }
        }
    }
    match fresh_error {
        Some(error) => (Attempt::Failed { error }, refused),
        None => (Attempt::Nothing, refused),
    }
}
