//! Checkpoints: everything that determines the rest of a training run,
//! written atomically into a checkpoint directory, the last N kept.
//!
//! - [`format`](mod@format): the file layout and its types; `encode`/`decode` write
//!   and read it (checksummed).
//! - [`store`]: the directory: names, rotation, newest-good-with-fallback.
//! - [`background`]: checkpoints written on a thread of their own, from a
//!   snapshot, while training goes on.
//!
//! Commands that only need the model call [`load_model`].

pub mod background;
mod decode;
mod encode;
pub mod format;
pub mod store;

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::courtesy;
use crate::model::Model;

pub use background::{BackgroundWriter, Written};
pub use format::{
    Checkpoint, CheckpointView, HoldOut, Method, ParamParts, Parameters, Progress, Settings, MAGIC,
    OLDEST_VERSION, VERSION,
};
pub use store::{CheckpointDir, Position};

/// Why a checkpoint could not be read or used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading or writing failed.
    ///
    /// The OS error is part of the message rather than a `source`, so that
    /// an error chain printed with `{:#}` says it once.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// The file does not start with the checkpoint magic.
    #[error("{}: not a funk checkpoint (no FUNKCKPT magic)", path.display())]
    NotACheckpoint {
        /// The file.
        path: PathBuf,
    },
    /// The file was written by another format version.
    #[error("{}: checkpoint format version {found}, this build reads versions {OLDEST_VERSION} to {VERSION}", path.display())]
    Version {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: u32,
    },
    /// The content does not match its checksum: the file is corrupt.
    #[error("{}: corrupt checkpoint (checksum {stored:016x} stored, {computed:016x} computed)", path.display())]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The checksum stored at the end of the file.
        stored: u64,
        /// The checksum of the content.
        computed: u64,
    },
    /// The file ends before a field: it was cut short (a full disk, an
    /// interrupted copy).
    #[error(
        "{}: truncated checkpoint: the file is {size} bytes, but its {what} (at byte {offset}) \
         needs at least {needed}; it was cut short (a full disk, an interrupted copy?)",
        path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The field being read.
        what: &'static str,
        /// Where it starts.
        offset: u64,
        /// The size of the file.
        size: u64,
        /// The size the file would need at least: up to the end of the
        /// field, and the checksum after everything.
        needed: u64,
    },
    /// A field has an impossible value.
    #[error("{}: invalid checkpoint at byte {offset}: {what}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Where.
        offset: u64,
        /// What is wrong.
        what: String,
    },
    /// A directory holds no readable checkpoint.
    #[error("{}: no usable checkpoint in this directory{}", dir.display(), describe_skipped(skipped))]
    NoCheckpoint {
        /// The directory.
        dir: PathBuf,
        /// Checkpoints found but unreadable, newest first, with why.
        skipped: Vec<(PathBuf, String)>,
    },
}

fn describe_skipped(skipped: &[(PathBuf, String)]) -> String {
    if skipped.is_empty() {
        String::new()
    } else {
        let reasons: Vec<&str> = skipped.iter().map(|(_, why)| why.as_str()).collect();
        format!(" ({} unreadable: {})", skipped.len(), reasons.join("; "))
    }
}

/// A model read from a checkpoint, with what identifies where it came from.
#[derive(Clone, Debug)]
pub struct LoadedModel {
    /// The model (flat arrays in internal-id order).
    pub model: Model,
    /// `RatingFile::identity()` of the data file it was trained on.
    pub data_identity: u64,
    /// Epochs completed when the checkpoint was written.
    pub epoch: u32,
    /// The epoch whose parameters `model` holds: the one with the best
    /// validation RMSE when the checkpoint keeps that model apart from the
    /// current parameters (see [`to_model`]), else `epoch`.
    pub model_epoch: u32,
    /// The checkpoint file read.
    pub path: PathBuf,
    /// Everything the run was started with.
    pub settings: Settings,
    /// Where the run stood.
    pub progress: Progress,
    /// Checkpoints of the directory newer than `path` that could not be
    /// read, newest first, with why: the caller decides how to tell the
    /// user (see [`LoadedModel::skipped_warnings`]). Empty when a file was
    /// named.
    pub skipped: Vec<(PathBuf, String)>,
}

impl LoadedModel {
    /// One warning per skipped checkpoint, in the words the command line
    /// prints after `funkd: warning: `.
    pub fn skipped_warnings(&self) -> impl Iterator<Item = String> + '_ {
        self.skipped
            .iter()
            .map(|(path, why)| format!("skipping unreadable checkpoint {}: {why}", path.display()))
    }
}

/// Reads the model of a checkpoint. `path` is a checkpoint file, or a
/// checkpoint directory (then the newest readable checkpoint is used, and
/// any newer unreadable one is listed in [`LoadedModel::skipped`]).
pub fn load_model(path: &Path) -> anyhow::Result<LoadedModel> {
    let (checkpoint, file, skipped) = if path.is_dir() {
        let found = CheckpointDir::new(path).newest_good()?;
        (found.checkpoint, found.path, found.skipped)
    } else {
        let checkpoint = store::read(path)
            .with_context(|| format!("cannot load a model from {}", path.display()))?;
        (checkpoint, path.to_path_buf(), Vec::new())
    };
    Ok(LoadedModel {
        model: to_model(&checkpoint),
        data_identity: checkpoint.settings.data_identity,
        epoch: checkpoint.progress.epoch,
        model_epoch: model_epoch(&checkpoint),
        path: file,
        settings: checkpoint.settings,
        progress: checkpoint.progress,
        skipped,
    })
}

/// The epoch (counted from 1) whose parameters [`to_model`] returns.
pub fn model_epoch(checkpoint: &Checkpoint) -> u32 {
    match &checkpoint.best {
        Some(_) => crate::runstate::best_epoch(&checkpoint.progress.validation_rmse)
            .map_or(checkpoint.progress.epoch, |i| i as u32 + 1),
        None => checkpoint.progress.epoch,
    }
}

/// The model of a checkpoint, as commands see it: the parameters of the
/// epoch with the best validation RMSE when the checkpoint keeps them
/// apart from the current ones, else the current ones. Copied a piece at a
/// time ([`courtesy::concatenated`]): on a background thread (a service's
/// warm start or swap) a copy of tens of megabytes, page faults included,
/// is not one stretch.
pub fn to_model(checkpoint: &Checkpoint) -> Model {
    let p = checkpoint.best.as_ref().unwrap_or(&checkpoint.params);
    let s = &checkpoint.settings;
    Model {
        kind: s.kind,
        rank: s.rank as usize,
        k: s.k as usize,
        mu: p.mu,
        user_factors: courtesy::concatenated([&p.user_factors[..]]),
        item_factors: courtesy::concatenated([&p.item_factors[..]]),
        user_bias: courtesy::concatenated([&p.user_bias[..]]),
        item_bias: courtesy::concatenated([&p.item_bias[..]]),
    }
}

/// A hash of a model's parameters (μ, biases, factors; not the optimiser
/// state), as 16 hex digits: two runs ended with the same model exactly
/// when their hashes agree. xxh3-64 over the little-endian bytes.
pub fn model_hash(
    mu: f32,
    user_bias: &[f32],
    item_bias: &[f32],
    user_factors: &[f32],
    item_factors: &[f32],
) -> String {
    hash_parts(
        mu,
        [
            &[user_bias][..],
            &[item_bias],
            &[user_factors],
            &[item_factors],
        ],
    )
}

/// [`model_hash`] of parameters given as parts (bands), without copying them.
pub fn hash_of_parts(p: &ParamParts<'_>) -> String {
    hash_parts(
        p.mu,
        [
            &p.user_bias[..],
            &p.item_bias,
            &p.user_factors,
            &p.item_factors,
        ],
    )
}

fn hash_parts(mu: f32, arrays: [&[&[f32]]; 4]) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3Default::new();
    h.update(&mu.to_le_bytes());
    let mut buf = vec![0u8; 4096 * 4];
    for parts in arrays {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        h.update(&(len as u64).to_le_bytes());
        for part in parts {
            for chunk in part.chunks(4096) {
                for (dst, v) in buf.chunks_exact_mut(4).zip(chunk) {
                    dst.copy_from_slice(&v.to_le_bytes());
                }
                h.update(&buf[..chunk.len() * 4]);
            }
        }
    }
    format!("{:016x}", h.digest())
}

/// [`model_hash`] of a [`Model`].
pub fn hash_of_model(model: &Model) -> String {
    model_hash(
        model.mu,
        &model.user_bias,
        &model.item_bias,
        &model.user_factors,
        &model.item_factors,
    )
}

#[cfg(test)]
mod tests;
