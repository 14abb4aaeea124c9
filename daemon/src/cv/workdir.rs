//! The work directory of `cv` and `tune`: the one the user named (kept,
//! and resumed from), or a temporary one removed at the end.

use std::path::{Path, PathBuf};

use anyhow::Context;
use tempfile::TempDir;

/// A work directory, created.
#[derive(Debug)]
pub struct WorkDir {
    path: PathBuf,
    /// Removes a temporary directory when dropped.
    temporary: Option<TempDir>,
}

impl WorkDir {
    /// `given`, created if missing; or, without one, a new temporary
    /// directory (under the system's temporary directory, `$TMPDIR`) named
    /// after `command`.
    pub fn given_or_temporary(given: Option<&Path>, command: &str) -> anyhow::Result<WorkDir> {
        match given {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create directory {}", dir.display()))?;
                Ok(WorkDir {
                    path: dir.to_path_buf(),
                    temporary: None,
                })
            }
            None => {
                let temp = tempfile::Builder::new()
                    .prefix(&format!("funkd-{command}-"))
                    .tempdir()
                    .with_context(|| {
                        format!(
                            "cannot create a temporary work directory in {}; pass --checkpoint-dir DIR",
                            std::env::temp_dir().display()
                        )
                    })?;
                Ok(WorkDir {
                    path: temp.path().to_path_buf(),
                    temporary: Some(temp),
                })
            }
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether it is removed at the end.
    pub fn is_temporary(&self) -> bool {
        self.temporary.is_some()
    }

    /// A line for stderr saying where the work goes.
    pub fn describe(&self) -> String {
        if self.is_temporary() {
            format!(
                "working in the temporary directory {} (removed at the end; pass --checkpoint-dir DIR to keep the work and resume it)",
                self.path.display()
            )
        } else {
            format!("working in {}", self.path.display())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_temporary_directory_goes_away_and_a_given_one_stays() {
        let temp = WorkDir::given_or_temporary(None, "cv").unwrap();
        let path = temp.path().to_path_buf();
        assert!(path.is_dir() && temp.is_temporary());
        std::fs::write(path.join("fold-1.funk"), b"x").unwrap();
        drop(temp);
        assert!(!path.exists());

        let root = tempfile::tempdir().unwrap();
        let given = root.path().join("work");
        let kept = WorkDir::given_or_temporary(Some(&given), "cv").unwrap();
        assert!(!kept.is_temporary());
        drop(kept);
        assert!(given.is_dir());
    }
}
