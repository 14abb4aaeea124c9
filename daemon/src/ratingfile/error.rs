//! What can be wrong with a rating file, or with a data set being written.

use std::path::PathBuf;

/// An error reading, validating or writing a rating file. Every variant
/// names the file and says what was wrong and where.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The file could not be opened, read or mapped.
    ///
    /// The OS error is part of the message rather than a `source`, so that
    /// an error chain printed with `{:#}` says it once.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// The file does not start with the rating-file magic: most often a
    /// text file of ratings that was never imported.
    #[error("{path}: not a funk rating file ({looks_like}); {advice}")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// What the file seems to be (its first line, escaped, when it is
        /// text; never raw binary bytes).
        looks_like: String,
        /// What to do: the `funkd import` command that makes a rating file.
        advice: String,
    },
    /// The file was written by a newer funkd.
    #[error("{path}: rating-file format version {found} is newer than this funkd supports (version {supported})")]
    FutureVersion {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// The file is damaged or inconsistent (truncated, bit-flipped, counts
    /// that disagree with the length...).
    #[error("{path}: corrupt rating file: {what}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What was found wrong, and where.
        what: String,
    },
    /// A section's contents do not match its stored checksum.
    #[error(
        "{path}: checksum mismatch in {section} (stored {stored:016x}, computed {computed:016x})"
    )]
    Checksum {
        /// The file.
        path: PathBuf,
        /// Which section (e.g. "block (3, 7) train records").
        section: String,
        /// The checksum in the file.
        stored: u64,
        /// The checksum of the bytes.
        computed: u64,
    },
    /// A block's records are damaged (found when the block was first read
    /// by a command, see [`super::RatingFile::check_block`]).
    #[error(
        "{path}: block ({user_band}, {item_band}) of the rating file is damaged: {what}; \
         the file cannot be trusted: run `funkd inspect --verify {path}` for a full check, \
         and import or generate it again"
    )]
    DamagedBlock {
        /// The file.
        path: PathBuf,
        /// The block's user band.
        user_band: usize,
        /// The block's item band.
        item_band: usize,
        /// What was found wrong.
        what: String,
    },
    /// The data set handed to [`super::write`] cannot be written.
    #[error("cannot write {path}: {what}")]
    InvalidSet {
        /// The file that was to be written.
        path: PathBuf,
        /// What is wrong with the data set.
        what: String,
    },
    /// Writing the file failed (nothing was left at the path).
    #[error("cannot write {path}: {message}")]
    Write {
        /// The file that was to be written.
        path: PathBuf,
        /// The error chain.
        message: String,
    },
}

impl FormatError {
    pub(crate) fn corrupt(path: &std::path::Path, what: impl Into<String>) -> Self {
        FormatError::Corrupt {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }

    pub(crate) fn invalid(path: &std::path::Path, what: impl Into<String>) -> Self {
        FormatError::InvalidSet {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }
}
