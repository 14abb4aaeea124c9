//! Atomic replacement of a file, done fully: a temporary file in the same
//! directory, written, flushed and fsynced, renamed over the target, and
//! the directory fsynced so the rename itself is durable. A reader sees
//! either the old file or the new one, never a mix, whatever kills us.
//!
//! The calls whose order makes this durable go through one small trait, so
//! that a test can record them; the program uses the real file system only.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use tempfile::NamedTempFile;

use crate::bounded_io::Bounded;

/// The file-system calls of an atomic replacement or a durable removal,
/// in the order they must happen.
pub(crate) trait DurableFs {
    /// Creates an empty temporary file in `dir` (the target's directory,
    /// so that the rename stays inside one file system).
    fn create_temp(&mut self, dir: &Path) -> io::Result<NamedTempFile>;
    /// Flushes a file's data and metadata to the device.
    fn sync_file(&mut self, file: &File) -> io::Result<()>;
    /// Renames `from` over `to`.
    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()>;
    /// Flushes a directory's entries (renames, unlinks) to the device.
    fn sync_dir(&mut self, dir: &Path) -> io::Result<()>;
    /// Unlinks a file.
    fn remove(&mut self, path: &Path) -> io::Result<()>;
}

/// The file system itself.
pub(crate) struct RealFs;

impl DurableFs for RealFs {
    fn create_temp(&mut self, dir: &Path) -> io::Result<NamedTempFile> {
        tempfile::Builder::new()
            .prefix(".funk-tmp-")
            .tempfile_in(dir)
    }

    fn sync_file(&mut self, file: &File) -> io::Result<()> {
        file.sync_all()
    }

    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn sync_dir(&mut self, dir: &Path) -> io::Result<()> {
        sync_dir(dir)
    }

    fn remove(&mut self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }
}

/// Writes a file atomically: `write` fills a buffered writer over a
/// temporary file next to `path` (which takes the bytes in system calls of
/// bounded size: [`Bounded`]); only if it succeeds is the file synced
/// and renamed over `path`. On any error the temporary file is removed and
/// `path` is untouched.
pub fn write_atomically<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<Bounded<&mut File>>) -> Result<()>,
{
    write_atomically_on(&mut RealFs, path, write)
}

/// [`write_atomically`] through the calls of `fs`.
pub(crate) fn write_atomically_on<F>(fs: &mut impl DurableFs, path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<Bounded<&mut File>>) -> Result<()>,
{
    let dir = parent_dir(path);
    let mut tmp = fs
        .create_temp(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    {
        let mut writer = BufWriter::with_capacity(1 << 20, Bounded(tmp.as_file_mut()));
        write(&mut writer)?;
        writer
            .flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    set_permissions(tmp.as_file(), path)?;
    fs.sync_file(tmp.as_file())
        .with_context(|| format!("cannot fsync the temporary file for {}", path.display()))?;
    // Until the rename succeeds, dropping `tmp` removes the temporary file.
    fs.rename(tmp.path(), path)
        .with_context(|| format!("cannot rename the temporary file onto {}", path.display()))?;
    // Renamed: nothing is left at the temporary path to remove on drop.
    let (_file, renamed) = tmp.into_parts();
    renamed
        .keep()
        .map_err(|e| e.error)
        .with_context(|| format!("cannot keep {}", path.display()))?;
    fs.sync_dir(dir)
        .with_context(|| format!("cannot fsync directory {}", dir.display()))?;
    Ok(())
}

/// Gives the temporary file the permissions a plainly created file would
/// have: the target's own when it exists, else `rw-r--r--` (tempfile
/// creates its files private, `rw-------`, which would make every output
/// unreadable to other users).
#[cfg(unix)]
fn set_permissions(file: &File, path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let permissions = match fs::metadata(path) {
        Ok(meta) => meta.permissions(),
        Err(_) => fs::Permissions::from_mode(0o644),
    };
    file.set_permissions(permissions)
        .with_context(|| format!("cannot set the permissions of {}", path.display()))
}

#[cfg(not(unix))]
fn set_permissions(_file: &File, _path: &Path) -> Result<()> {
    Ok(())
}

/// Writes `bytes` to `path` atomically.
pub fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically(path, |w| {
        w.write_all(bytes)
            .with_context(|| format!("cannot write {}", path.display()))
    })
}

/// fsyncs a directory so that renames and unlinks in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Removes a file and makes the removal durable.
pub fn remove_durably(path: &Path) -> io::Result<()> {
    remove_durably_on(&mut RealFs, path)
}

/// [`remove_durably`] through the calls of `fs`.
pub(crate) fn remove_durably_on(fs: &mut impl DurableFs, path: &Path) -> io::Result<()> {
    fs.remove(path)?;
    fs.sync_dir(parent_dir(path))
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// One file-system call of an atomic write, as a [`Recording`] saw it.
    #[derive(Clone, Debug, PartialEq)]
    enum Call {
        /// A temporary file was created at this path.
        CreateTemp(PathBuf),
        /// A file was fsynced while it held `len` bytes (`inode` tells
        /// which file).
        SyncFile { inode: u64, len: u64 },
        /// `from` (that inode) was renamed over `to`.
        Rename {
            inode: u64,
            from: PathBuf,
            to: PathBuf,
        },
        /// A directory was fsynced.
        SyncDir(PathBuf),
        /// A file was unlinked.
        Remove(PathBuf),
    }

    /// Which call a [`Recording`] makes fail, after recording it.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum FailAt {
        Nothing,
        SyncFile,
        Rename,
        SyncDir,
    }

    /// The real file system, with every call recorded first.
    struct Recording {
        calls: Vec<Call>,
        fail_at: FailAt,
    }

    impl Recording {
        fn new(fail_at: FailAt) -> Self {
            Self {
                calls: Vec::new(),
                fail_at,
            }
        }

        fn injected(&self, at: FailAt) -> io::Result<()> {
            if self.fail_at == at {
                Err(io::Error::other(format!("injected failure at {at:?}")))
            } else {
                Ok(())
            }
        }
    }

    #[cfg(unix)]
    fn inode(meta: &fs::Metadata) -> u64 {
        std::os::unix::fs::MetadataExt::ino(meta)
    }

    #[cfg(not(unix))]
    fn inode(_meta: &fs::Metadata) -> u64 {
        0
    }

    impl DurableFs for Recording {
        fn create_temp(&mut self, dir: &Path) -> io::Result<NamedTempFile> {
            let tmp = RealFs.create_temp(dir)?;
            self.calls.push(Call::CreateTemp(tmp.path().to_path_buf()));
            Ok(tmp)
        }

        fn sync_file(&mut self, file: &File) -> io::Result<()> {
            let meta = file.metadata()?;
            self.calls.push(Call::SyncFile {
                inode: inode(&meta),
                len: meta.len(),
            });
            self.injected(FailAt::SyncFile)?;
            RealFs.sync_file(file)
        }

        fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
            self.calls.push(Call::Rename {
                inode: inode(&fs::metadata(from)?),
                from: from.to_path_buf(),
                to: to.to_path_buf(),
            });
            self.injected(FailAt::Rename)?;
            RealFs.rename(from, to)
        }

        fn sync_dir(&mut self, dir: &Path) -> io::Result<()> {
            self.calls.push(Call::SyncDir(dir.to_path_buf()));
            self.injected(FailAt::SyncDir)?;
            RealFs.sync_dir(dir)
        }

        fn remove(&mut self, path: &Path) -> io::Result<()> {
            self.calls.push(Call::Remove(path.to_path_buf()));
            RealFs.remove(path)
        }
    }

    /// Writes `bytes` to `path` through `fs`, in two writes (so that the
    /// buffered writer holds them until it is flushed).
    fn write_on(fs: &mut Recording, path: &Path, bytes: &[u8]) -> Result<()> {
        let (a, b) = bytes.split_at(bytes.len() / 2);
        write_atomically_on(fs, path, |w| {
            w.write_all(a)?;
            w.write_all(b)?;
            Ok(())
        })
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// The whole protocol, in order: a temporary file next to the target;
    /// all of its bytes written before it is fsynced; that very file
    /// renamed over the target; then the directory fsynced, last. Leaving
    /// out or reordering any step changes the recorded calls.
    #[test]
    fn an_atomic_write_is_temp_write_fsync_rename_then_directory_fsync() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.funkc");
        fs::write(&path, b"old contents").unwrap();
        let mut fs = Recording::new(FailAt::Nothing);
        write_on(&mut fs, &path, b"new contents, all of them").unwrap();

        let [Call::CreateTemp(tmp), Call::SyncFile { inode, len }, Call::Rename {
            inode: renamed,
            from,
            to,
        }, Call::SyncDir(synced)] = fs.calls.as_slice()
        else {
            panic!("unexpected calls: {:#?}", fs.calls);
        };
        assert_eq!(
            tmp.parent(),
            Some(dir.path()),
            "temporary beside the target"
        );
        assert!(tmp
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(".funk-tmp-"));
        assert_eq!(*len, 25, "every byte written before the fsync");
        assert_eq!(inode, renamed, "the fsynced file is the one renamed");
        assert_eq!((from, to), (tmp, &path));
        assert_eq!(synced, dir.path(), "the target's directory is fsynced");
        assert_eq!(fs::read(&path).unwrap(), b"new contents, all of them");
        assert_eq!(names_in(dir.path()), ["model.funkc"]);
    }

    /// A file in the current directory: the directory fsynced is ".".
    #[test]
    fn a_bare_file_name_syncs_the_current_directory() {
        assert_eq!(parent_dir(Path::new("f")), Path::new("."));
        assert_eq!(parent_dir(Path::new("a/f")), Path::new("a"));
    }

    /// A failed fsync of the data, or a failed rename, reports the error,
    /// keeps the old file and removes the temporary one; a failed directory
    /// fsync is reported too (the rename may not be durable).
    #[test]
    fn a_failure_at_any_step_is_reported_and_leaves_old_or_new_never_a_temporary() {
        for (fail_at, calls, survivor) in [
            (FailAt::SyncFile, 2, &b"old"[..]),
            (FailAt::Rename, 3, b"old"),
            (FailAt::SyncDir, 4, b"new"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("f");
            fs::write(&path, b"old").unwrap();
            let mut fs = Recording::new(fail_at);
            let err = write_on(&mut fs, &path, b"new").unwrap_err();
            assert!(
                format!("{err:#}").contains("injected failure"),
                "{fail_at:?}: {err:#}"
            );
            assert_eq!(fs.calls.len(), calls, "{fail_at:?}: {:#?}", fs.calls);
            assert_eq!(fs::read(&path).unwrap(), survivor, "{fail_at:?}");
            assert_eq!(names_in(dir.path()), ["f"], "{fail_at:?}");
        }
    }

    /// A durable removal unlinks, then fsyncs the directory.
    #[test]
    fn a_durable_removal_is_unlink_then_directory_fsync() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, b"x").unwrap();
        let mut fs = Recording::new(FailAt::Nothing);
        remove_durably_on(&mut fs, &path).unwrap();
        assert_eq!(
            fs.calls,
            [
                Call::Remove(path.clone()),
                Call::SyncDir(dir.path().to_path_buf())
            ]
        );
        assert!(!path.exists());
    }

    /// The public removal removes, and says so when there is nothing to remove.
    #[test]
    fn remove_durably_removes_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, b"x").unwrap();
        remove_durably(&path).unwrap();
        assert!(!path.exists());
        assert!(remove_durably(&path).is_err());
    }

    /// The directory fsync really opens the directory: a missing one is an
    /// error, not a silent success.
    #[test]
    fn syncing_a_missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(sync_dir(dir.path()).is_ok());
        assert!(sync_dir(&dir.path().join("missing")).is_err());
        assert!(RealFs.sync_dir(&dir.path().join("missing")).is_err());
    }

    /// The real calls do what they say (the recording delegates to them).
    #[test]
    fn the_real_calls_rename_and_remove() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::write(&a, b"1").unwrap();
        RealFs.rename(&a, &b).unwrap();
        assert_eq!(names_in(dir.path()), ["b"]);
        RealFs.remove(&b).unwrap();
        assert!(names_in(dir.path()).is_empty());
        assert!(RealFs.remove(&b).is_err());
    }

    #[test]
    fn failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write_bytes_atomically(&path, b"old").unwrap();
        let err = write_atomically(&path, |w| {
            w.write_all(b"partial")?;
            anyhow::bail!("interrupted")
        });
        assert!(err.is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
        let entries: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(entries.len(), 1, "temporary file left behind");
    }

    #[cfg(unix)]
    #[test]
    fn new_files_are_world_readable_and_existing_modes_are_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write_bytes_atomically(&path, b"one").unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o644);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        write_bytes_atomically(&path, b"two").unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn successful_write_replaces_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write_bytes_atomically(&path, b"old").unwrap();
        write_bytes_atomically(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
    }
}
