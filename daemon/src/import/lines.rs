//! Reading text input line by line, with file names and line numbers for
//! every error, and progress by bytes.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::report::Counter;

/// An error in a user's input file: what was wrong and where.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// A file could not be opened or read.
    ///
    /// The OS error is part of the message rather than a `source`, so that
    /// an error chain printed with `{:#}` says it once.
    #[error("{file}: {error}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// A line could not be understood.
    #[error("{file}:{line}: {what}")]
    Malformed {
        /// The file.
        file: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What was wrong.
        what: String,
    },
    /// A file held no ratings at all.
    #[error("{file}: no ratings in this file (empty or only headers)")]
    Empty {
        /// The file.
        file: PathBuf,
    },
}

/// Calls `each(line_number, line)` for every line of `path` (without the
/// line break and a trailing `\r`); stops at the first error.
pub fn for_each_line(
    path: &Path,
    progress: &dyn Counter,
    mut each: impl FnMut(u64, &str) -> Result<(), String>,
) -> Result<(), InputError> {
    let io = |error| InputError::Io {
        file: path.to_path_buf(),
        error,
    };
    let file = File::open(path).map_err(io)?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut buf = Vec::with_capacity(256);
    let mut number = 0u64;
    let mut pending = 0u64;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        number += 1;
        pending += n as u64;
        if pending >= 1 << 20 {
            progress.inc(pending);
            pending = 0;
        }
        let mut bytes = &buf[..];
        if let Some(b) = bytes.strip_suffix(b"\n") {
            bytes = b;
        }
        if let Some(b) = bytes.strip_suffix(b"\r") {
            bytes = b;
        }
        let line = std::str::from_utf8(bytes).map_err(|e| InputError::Malformed {
            file: path.to_path_buf(),
            line: number,
            what: format!("not valid UTF-8 ({e})"),
        })?;
        each(number, line).map_err(|what| InputError::Malformed {
            file: path.to_path_buf(),
            line: number,
            what,
        })?;
    }
    progress.inc(pending);
    Ok(())
}

/// Parses a rating value: a finite real number.
pub fn parse_value(field: &str) -> Result<f32, String> {
    let v: f32 = field
        .trim()
        .parse()
        .map_err(|_| format!("rating {field:?} is not a number"))?;
    if !v.is_finite() {
        return Err(format!("rating {field:?} is not finite"));
    }
    Ok(v)
}

/// Checks an id field: non-empty after trimming.
pub fn parse_id<'a>(field: &'a str, what: &str) -> Result<&'a str, String> {
    let id = field.trim().trim_matches('"');
    if id.is_empty() {
        return Err(format!("empty {what} id"));
    }
    Ok(id)
}

/// The size of `path` in bytes (0 if unknown).
pub fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_input_file_says_the_os_error_once() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("u1.base");
        let os = File::open(&missing).unwrap_err().to_string();
        let err = for_each_line(&missing, &crate::report::Uncounted, |_, _| Ok(())).unwrap_err();
        let text = format!("{:#}", anyhow::Error::new(err));
        assert_eq!(text.matches(&os).count(), 1, "{text}");
        assert!(text.contains("u1.base"), "{text}");
    }
}
