//! The checkpoint directory: one file per checkpoint, named by its schedule
//! position so that names sort in training order; the newest readable one
//! is where a run resumes.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{Checkpoint, CheckpointError, CheckpointView};
use crate::atomic::{remove_durably, write_atomically};
use crate::bounded_io::read_file;

const PREFIX: &str = "ckpt-";
const SUFFIX: &str = ".funkckpt";
const TEMP_PREFIX: &str = ".funk-tmp-";

/// A position in the schedule: the epoch in progress and the next stratum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// Epochs completed.
    pub epoch: u32,
    /// Strata of `epoch` completed.
    pub stratum: u32,
}

impl Position {
    /// The file name of a checkpoint at this position.
    pub fn file_name(self) -> String {
        format!("{PREFIX}{:06}-{:05}{SUFFIX}", self.epoch, self.stratum)
    }

    /// The position a checkpoint file name stands for, if it is one.
    pub fn from_file_name(name: &str) -> Option<Position> {
        let core = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
        let (epoch, stratum) = core.split_once('-')?;
        Some(Position {
            epoch: epoch.parse().ok()?,
            stratum: stratum.parse().ok()?,
        })
    }
}

/// The newest readable checkpoint of a directory.
#[derive(Debug)]
pub struct Found {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// Its file.
    pub path: PathBuf,
    /// Newer checkpoints that could not be read, newest first, with why.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Reads and decodes one checkpoint file (read in calls of bounded size:
/// [`crate::bounded_io`]).
pub fn read(path: &Path) -> Result<Checkpoint, CheckpointError> {
    let bytes = read_file(path).map_err(|error| CheckpointError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    Checkpoint::decode(&bytes, path)
}

/// A checkpoint directory.
#[derive(Clone, Debug)]
pub struct CheckpointDir {
    dir: PathBuf,
}

impl CheckpointDir {
    /// The directory at `dir` (not created until [`CheckpointDir::create`]).
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Creates the directory (and its parents) if missing.
    pub fn create(&self) -> anyhow::Result<()> {
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create checkpoint directory {}", self.dir.display()))
    }

    /// The checkpoints in the directory, oldest first.
    pub fn list(&self) -> Result<Vec<(Position, PathBuf)>, CheckpointError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => {
                return Err(CheckpointError::Io {
                    path: self.dir.clone(),
                    error,
                })
            }
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|error| CheckpointError::Io {
                path: self.dir.clone(),
                error,
            })?;
            if let Some(pos) = entry
                .file_name()
                .to_str()
                .and_then(Position::from_file_name)
            {
                found.push((pos, entry.path()));
            }
        }
        found.sort();
        Ok(found)
    }

    /// The newest checkpoint that reads back intact, with the newer ones
    /// that did not. `Ok(None)` when the directory holds no checkpoint at all.
    pub fn newest_good_if_any(&self) -> Result<Option<Found>, CheckpointError> {
        let mut skipped = Vec::new();
        let list = self.list()?;
        if list.is_empty() {
            return Ok(None);
        }
        for (_, path) in list.into_iter().rev() {
            match read(&path) {
                Ok(checkpoint) => {
                    return Ok(Some(Found {
                        checkpoint,
                        path,
                        skipped,
                    }))
                }
                Err(e) => skipped.push((path, e.to_string())),
            }
        }
        Err(CheckpointError::NoCheckpoint {
            dir: self.dir.clone(),
            skipped,
        })
    }

    /// The newest checkpoint that reads back intact; an error if none does.
    pub fn newest_good(&self) -> Result<Found, CheckpointError> {
        self.newest_good_if_any()?
            .ok_or_else(|| CheckpointError::NoCheckpoint {
                dir: self.dir.clone(),
                skipped: Vec::new(),
            })
    }

    /// Writes a checkpoint atomically at `position`, then removes the
    /// oldest ones so that at most `keep` remain. Returns its path.
    /// `pause` (a testing aid) sleeps half-way through the write, so that a
    /// test can kill the process while a checkpoint is being written.
    pub fn write(
        &self,
        checkpoint: &CheckpointView<'_>,
        position: Position,
        keep: usize,
        pause: Option<std::time::Duration>,
    ) -> anyhow::Result<PathBuf> {
        let mut bytes = Vec::new();
        checkpoint
            .encode(&mut bytes)
            .with_context(|| format!("cannot encode checkpoint {}", position.file_name()))?;
        self.write_bytes(&bytes, position, keep, pause)
    }

    /// [`CheckpointDir::write`] of a checkpoint already encoded.
    pub fn write_bytes(
        &self,
        bytes: &[u8],
        position: Position,
        keep: usize,
        pause: Option<std::time::Duration>,
    ) -> anyhow::Result<PathBuf> {
        use std::io::Write;
        let path = self.dir.join(position.file_name());
        let context = || format!("cannot write checkpoint {}", path.display());
        write_atomically(&path, |w| match pause {
            None => w.write_all(bytes).with_context(context),
            Some(pause) => {
                let (first, rest) = bytes.split_at(bytes.len() / 2);
                w.write_all(first).with_context(context)?;
                w.flush().with_context(context)?;
                std::thread::sleep(pause);
                w.write_all(rest).with_context(context)
            }
        })?;
        self.prune(keep.max(1))?;
        Ok(path)
    }

    /// Removes all but the newest `keep` checkpoints.
    pub fn prune(&self, keep: usize) -> anyhow::Result<()> {
        let list = self.list()?;
        let excess = list.len().saturating_sub(keep);
        for (_, path) in list.into_iter().take(excess) {
            remove_durably(&path)
                .with_context(|| format!("cannot remove old checkpoint {}", path.display()))?;
        }
        Ok(())
    }

    /// Removes every checkpoint after `position` (used when training goes
    /// back to an earlier state, so that a crash cannot resume from a state
    /// that was abandoned).
    pub fn remove_after(&self, position: Position) -> anyhow::Result<()> {
        for (pos, path) in self.list()? {
            if pos > position {
                remove_durably(&path)
                    .with_context(|| format!("cannot remove checkpoint {}", path.display()))?;
            }
        }
        Ok(())
    }

    /// Moves an unreadable checkpoint aside (`NAME.corrupt`) so that it
    /// stays as evidence but is never resumed from.
    pub fn quarantine(&self, path: &Path) -> anyhow::Result<PathBuf> {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".corrupt");
        let target = path.with_file_name(name);
        fs::rename(path, &target)
            .with_context(|| format!("cannot move {} aside", path.display()))?;
        crate::atomic::sync_dir(&self.dir)
            .with_context(|| format!("cannot fsync {}", self.dir.display()))?;
        Ok(target)
    }

    /// Removes temporary files left by an interrupted atomic write.
    pub fn remove_temporaries(&self) -> anyhow::Result<usize> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e).with_context(|| format!("cannot list {}", self.dir.display())),
        };
        let mut removed = 0;
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot list {}", self.dir.display()))?;
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                remove_durably(&entry.path())
                    .with_context(|| format!("cannot remove {}", entry.path().display()))?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}
