//! Checking, before any long work, that a command's outputs can be
//! written: a run that reads, generates or trains for an hour must not
//! learn only at the end that its file or directory is not writable.
//!
//! The check does what the real write will do first: it creates a
//! temporary file in the directory (outputs are written atomically, by a
//! temporary file renamed into place), writes a byte to it, and removes
//! it. The file carries the prefix of funk's temporary files, so one left
//! behind by a kill is cleaned up like them.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::bail;

/// The prefix of funk's temporary files (see [`crate::atomic`]).
const PROBE_PREFIX: &str = ".funk-tmp-";

/// Checks that files can be created in the directory `dir`, which must
/// exist. `what` names it for the user ("checkpoint directory"), `flag` is
/// the option that chose it ("--checkpoint-dir").
pub fn check_dir(dir: &Path, what: &str, flag: &str) -> anyhow::Result<()> {
    if let Err(e) = probe(dir) {
        bail!(
            "cannot write to the {what} {}: {e}; nothing was done: make it writable, or give {flag} a directory you can write to",
            dir.display()
        );
    }
    Ok(())
}

/// Checks that the file `path` can be written (created, or replaced): it
/// is not a directory, and its directory exists and accepts new files.
/// `what` names it for the user ("output file"), `flag` is the option that
/// chose it ("-o").
pub fn check_file(path: &Path, what: &str, flag: &str) -> anyhow::Result<()> {
    if path.is_dir() {
        bail!(
            "cannot write the {what} {}: it is a directory; give {flag} a file name",
            path.display()
        );
    }
    let dir = parent_dir(path);
    if let Err(e) = probe(&dir) {
        bail!(
            "cannot write the {what} {}: cannot create a file in {}: {e}; nothing was done: give {flag} a path in a directory you can write to",
            path.display(),
            dir.display()
        );
    }
    Ok(())
}

/// The directory a file is written in ("." for a bare file name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Creates, writes and removes a temporary file in `dir`.
fn probe(dir: &Path) -> std::io::Result<()> {
    if !dir.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such directory",
        ));
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let path = dir.join(format!(
        "{PROBE_PREFIX}probe-{}-{nanos:09}",
        std::process::id()
    ));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut file| file.write_all(b"\n"));
    // Removed whether or not the write went through (a failed create
    // leaves nothing to remove).
    let removed = std::fs::remove_file(&path);
    written?;
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writable_place_passes_and_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        check_dir(dir.path(), "checkpoint directory", "--checkpoint-dir").unwrap();
        check_file(&dir.path().join("x.funk"), "output file", "-o").unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn missing_directories_and_directories_as_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such/x.funk");
        let err = check_file(&missing, "output file", "-o").unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("no such directory") && text.contains("-o"),
            "{text}"
        );
        let err = check_file(dir.path(), "output file", "-o").unwrap_err();
        assert!(format!("{err:#}").contains("is a directory"));
        let err = check_dir(&dir.path().join("gone"), "export directory", "--out").unwrap_err();
        assert!(format!("{err:#}").contains("--out"));
    }
}
