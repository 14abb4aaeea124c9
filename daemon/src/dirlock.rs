//! One writer per directory: an OS advisory lock on `funkd.lock` in a
//! checkpoint directory, with the holder's pid written inside.
//!
//! `funkd train` takes the lock before it touches the directory (removing
//! temporaries, moving damaged checkpoints aside, writing checkpoints) and
//! holds it until it exits. The operating system releases it when the
//! process ends, however it ends, so a run killed with SIGKILL never leaves
//! a stale lock behind. A second writer is refused at once with a usage
//! error (exit code 2) that names the holder's pid.
//!
//! Readers (`funkd serve`, `eval`, `predict`, …) never take the lock: they
//! read only what a writer publishes atomically. [`writer`] tells them who
//! writes the directory, for their status reports.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use crate::usage_bail;

/// The name of the lock file in a checkpoint directory.
pub const LOCK_FILE_NAME: &str = "funkd.lock";

/// How long a refused writer waits for the holder's pid to appear in a
/// lock file that was locked but not yet written.
const PID_WAIT: Duration = Duration::from_millis(200);

/// An exclusive lock on a directory, held while this value lives (and
/// released by the OS if the process dies first).
#[derive(Debug)]
pub struct DirLock {
    /// Kept open: closing the file releases the lock.
    _file: File,
    path: PathBuf,
}

impl DirLock {
    /// Takes the lock on `dir` (which must exist) for this process, or
    /// refuses with a usage error naming the pid of the process that holds
    /// it. Never waits for the holder.
    pub fn acquire(dir: &Path) -> anyhow::Result<DirLock> {
        let path = dir.join(LOCK_FILE_NAME);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = match wait_for_pid(&path) {
                    Some(pid) => format!("pid {pid}"),
                    None => "a process that has not written its pid yet".to_owned(),
                };
                usage_bail!(
                    "{} is in use: {holder} holds its lock ({}). One writer per directory: \
                     stop that process first, or train into another directory",
                    dir.display(),
                    path.display()
                );
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
        write_pid(&mut file)
            .with_context(|| format!("cannot write the pid into {}", path.display()))?;
        Ok(DirLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn write_pid(file: &mut File) -> std::io::Result<()> {
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(format!("{}\n", std::process::id()).as_bytes())
}

/// The pid recorded in a lock file, if it holds one.
fn recorded_pid(path: &Path) -> Option<u32> {
    let mut text = String::new();
    File::open(path).ok()?.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// The pid in a lock file whose holder may still be writing it.
fn wait_for_pid(path: &Path) -> Option<u32> {
    let deadline = std::time::Instant::now() + PID_WAIT;
    loop {
        if let Some(pid) = recorded_pid(path) {
            return Some(pid);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Who writes a directory, as far as a reader can tell without taking the
/// lock (which would get in a writer's way).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Writer {
    /// The pid recorded by the newest writer.
    pub pid: Option<u32>,
    /// Whether the lock is held now: `Some` where the OS says so (Linux,
    /// from `/proc/locks`), `None` where this cannot be told.
    pub active: Option<bool>,
}

/// The writer of `dir`: `None` when no writer ever locked it.
pub fn writer(dir: &Path) -> Option<Writer> {
    let path = dir.join(LOCK_FILE_NAME);
    let meta = std::fs::metadata(&path).ok()?;
    Some(Writer {
        pid: recorded_pid(&path),
        active: lock_held(&meta),
    })
}

/// Whether some process holds a lock on the file with this metadata,
/// from the kernel's table of locks.
#[cfg(target_os = "linux")]
fn lock_held(meta: &std::fs::Metadata) -> Option<bool> {
    use std::os::unix::fs::MetadataExt;
    let table = std::fs::read_to_string("/proc/locks").ok()?;
    Some(locks_table_has_inode(&table, meta.ino()))
}

#[cfg(not(target_os = "linux"))]
fn lock_held(_meta: &std::fs::Metadata) -> Option<bool> {
    None
}

/// Whether a `/proc/locks` table lists a lock on inode `inode`. A line
/// reads `1: FLOCK  ADVISORY  WRITE 4242 08:01:131074 0 EOF`; the sixth
/// field is `MAJOR:MINOR:INODE`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn locks_table_has_inode(table: &str, inode: u64) -> bool {
    table.lines().any(|line| {
        line.split_whitespace()
            .filter(|f| *f != "->")
            .nth(5)
            .and_then(|f| f.rsplit(':').next())
            .and_then(|i| i.parse::<u64>().ok())
            == Some(inode)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_freed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path()).unwrap();
        let err = DirLock::acquire(dir.path()).unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 2);
        let text = format!("{err:#}");
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        assert_eq!(recorded_pid(first.path()), Some(std::process::id()));
        drop(first);
        DirLock::acquire(dir.path()).expect("the lock is free once dropped");
    }

    #[test]
    fn a_reader_sees_the_writer_while_it_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(writer(dir.path()), None);
        let lock = DirLock::acquire(dir.path()).unwrap();
        let seen = writer(dir.path()).unwrap();
        assert_eq!(seen.pid, Some(std::process::id()));
        if cfg!(target_os = "linux") {
            assert_eq!(seen.active, Some(true));
        }
        drop(lock);
        let seen = writer(dir.path()).unwrap();
        if cfg!(target_os = "linux") {
            assert_eq!(seen.active, Some(false));
        }
    }

    #[test]
    fn the_locks_table_is_read_by_inode() {
        let table = "1: FLOCK  ADVISORY  WRITE 4242 08:01:131074 0 EOF\n\
                     2: POSIX  ADVISORY  READ 17 00:2a:99 0 EOF\n\
                     2: -> POSIX  ADVISORY  READ 18 00:2a:77 0 EOF\n";
        assert!(locks_table_has_inode(table, 131074));
        assert!(locks_table_has_inode(table, 99));
        assert!(locks_table_has_inode(table, 77));
        assert!(!locks_table_has_inode(table, 4242));
    }
}
