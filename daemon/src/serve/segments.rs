//! The ingest log as numbered segment files in the served directory:
//! `ingest-00000001.log`, `ingest-00000002.log`, … (see
//! [`super::ingest_log`] for what one holds). Intake appends to the
//! newest; a training round closes it and applies the closed ones, which
//! are removed once the model trained on them is durable
//! ([`super::round`]).
//!
//! `ingest.lock` beside them holds an OS lock for as long as a service
//! takes in ratings: one intake per directory. (A log of an older build,
//! a single `ingest.log`, is taken over as segment 1.)

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::ingest_log::{self, NewRating, Replayed, SegmentStats};
use crate::usage_bail;

/// The lock file of the directory's intake.
pub const LOCK_FILE_NAME: &str = "ingest.lock";
/// The single log file of older builds, taken over as segment 1.
pub const LEGACY_LOG_FILE_NAME: &str = "ingest.log";

/// The file name of segment `number`.
pub fn file_name(number: u64) -> String {
    format!("ingest-{number:08}.log")
}

/// The segment number a file name stands for, if it is a segment's.
pub fn number_of(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("ingest-")?.strip_suffix(".log")?;
    if digits.len() < 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The path of segment `number` in `dir`.
pub fn path(dir: &Path, number: u64) -> PathBuf {
    dir.join(file_name(number))
}

/// The segments in `dir`, oldest first.
pub fn list(dir: &Path) -> anyhow::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        if let Some(n) = entry.file_name().to_str().and_then(number_of) {
            found.push((n, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// Creates segment `number` (header written and synced, the directory
/// synced): a new, empty segment ready to be appended to. A file already
/// there is an error, never overwritten.
pub fn create(dir: &Path, number: u64) -> anyhow::Result<File> {
    let path = path(dir, number);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("cannot create the ingest log segment {}", path.display()))?;
    file.write_all_at(&ingest_log::header(), 0)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    crate::atomic::sync_dir(dir).with_context(|| format!("cannot sync {}", dir.display()))?;
    Ok(file)
}

/// Takes the intake lock of `dir`; refused (a usage error) while another
/// service holds it. The lock lasts as long as the file returned is open.
pub fn lock(dir: &Path) -> anyhow::Result<File> {
    let path = dir.join(LOCK_FILE_NAME);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => usage_bail!(
            "{} is in use by another `funkd serve --intake`: one service takes in ratings per directory",
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// The log of a directory as the service opens it.
#[derive(Debug)]
pub struct OpenedLog {
    /// The intake lock (held while this lives).
    pub lock: File,
    /// Every segment not yet applied, oldest first, with what it holds
    /// (the active one last).
    pub segments: Vec<(u64, Replayed)>,
    /// The segment to append to and its open file.
    pub active: (u64, File),
    /// Torn tails cut off, by segment: bytes and why.
    pub cuts: Vec<(PathBuf, u64, String)>,
}

impl OpenedLog {
    /// The accepted batches of every segment not yet applied, in log order,
    /// with their segment numbers.
    pub fn batches(&self) -> impl Iterator<Item = (&[NewRating], u64)> + '_ {
        self.segments
            .iter()
            .flat_map(|(n, r)| r.batches.iter().map(move |b| (b.as_slice(), *n)))
    }

    /// The stats of every segment not yet applied.
    pub fn pending(&self) -> BTreeMap<u64, SegmentStats> {
        self.segments
            .iter()
            .map(|(n, r)| (*n, SegmentStats::of(r)))
            .collect()
    }
}

/// Locks and opens the log of `dir`: segments up to `applied_through` are
/// in the published model's data (they are removed, finishing what a
/// crash interrupted); the others are replayed (torn tails cut). Intake
/// goes on in the newest segment unless a pending round claimed it
/// (`claimed_through`): then a new one is started.
pub fn open(dir: &Path, applied_through: u64, claimed_through: u64) -> anyhow::Result<OpenedLog> {
    let lock = lock(dir)?;
    let legacy = dir.join(LEGACY_LOG_FILE_NAME);
    if legacy.exists() && list(dir)?.is_empty() && applied_through == 0 {
        let first = path(dir, 1);
        std::fs::rename(&legacy, &first).with_context(|| {
            format!(
                "cannot take over {} as {}",
                legacy.display(),
                first.display()
            )
        })?;
        crate::atomic::sync_dir(dir).with_context(|| format!("cannot sync {}", dir.display()))?;
    }
    let mut segments = Vec::new();
    let mut cuts = Vec::new();
    let mut last = None;
    for (n, path) in list(dir)? {
        if n <= applied_through {
            crate::atomic::remove_durably(&path)
                .with_context(|| format!("cannot remove the applied segment {}", path.display()))?;
            continue;
        }
        let (file, replayed) = ingest_log::open(&path)?;
        if let Some((bytes, why)) = &replayed.cut {
            cuts.push((path.clone(), *bytes, why.clone()));
        }
        segments.push((n, replayed));
        last = Some((n, file));
    }
    let active = match last {
        Some((n, file)) if n > claimed_through => (n, file),
        _ => {
            let newest = segments.last().map_or(0, |(n, _)| *n);
            let next = newest.max(claimed_through).max(applied_through) + 1;
            let file = create(dir, next)?;
            let empty = Replayed {
                batches: Vec::new(),
                records: 0,
                len: ingest_log::HEADER_LEN,
                cut: None,
            };
            segments.push((next, empty));
            (next, file)
        }
    };
    Ok(OpenedLog {
        lock,
        segments,
        active,
        cuts,
    })
}

/// The whole records of the segments `first..=last` of `dir`, in log
/// order (a torn tail is not a record); each segment is read in calls of
/// bounded size ([`crate::bounded_io`]). A segment missing from the range
/// is an error: its ratings would be lost.
pub fn read_range(dir: &Path, first: u64, last: u64) -> anyhow::Result<Vec<NewRating>> {
    let mut out = Vec::new();
    for n in first..=last {
        let path = path(dir, n);
        let bytes = crate::bounded_io::read_file(&path)
            .with_context(|| format!("cannot read the ingest log segment {}", path.display()))?;
        let replayed = ingest_log::scan(&bytes)
            .with_context(|| format!("the ingest log segment {} is damaged", path.display()))?;
        out.extend(replayed.batches.into_iter().flatten());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_and_parse_back() {
        assert_eq!(file_name(7), "ingest-00000007.log");
        assert_eq!(number_of(&file_name(123_456_789)), Some(123_456_789));
        assert_eq!(number_of("ingest.log"), None);
        assert_eq!(number_of("ingest-7.log"), None);
        assert!(file_name(9) < file_name(10));
    }

    #[test]
    fn applied_segments_go_and_a_claimed_one_is_not_appended_to() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        for n in 1..=3 {
            create(dir, n).unwrap();
        }
        {
            let log = open(dir, 1, 3).unwrap();
            assert_eq!(log.active.0, 4, "segment 3 belongs to a pending round");
            let numbers: Vec<u64> = log.segments.iter().map(|(n, _)| *n).collect();
            assert_eq!(numbers, [2, 3, 4]);
            assert!(open(dir, 1, 3).is_err(), "a second intake is refused");
        }
        let left: Vec<u64> = list(dir).unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(left, [2, 3, 4]);
        let log = open(dir, 1, 3).unwrap();
        assert_eq!(log.active.0, 4, "the newest unclaimed segment goes on");
    }

    #[test]
    fn a_log_of_an_older_build_becomes_segment_one() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(LEGACY_LOG_FILE_NAME), ingest_log::header()).unwrap();
        let log = open(tmp.path(), 0, 0).unwrap();
        assert_eq!(log.active.0, 1);
        assert!(!tmp.path().join(LEGACY_LOG_FILE_NAME).exists());
    }
}
