//! A trained model as the commands and the service use it: a
//! checkpoint's model, checked to be whole and finite, together with the
//! rating file it was trained on, checked to be that file.
//!
//! A checkpoint stores only its data file's identity, not the file's id
//! maps, so whoever turns original ids into predictions needs the data
//! file too. A caller names it, or [`resolve_data`] finds the one
//! `funkd train` recorded in the checkpoint directory's `status.json`.
//! Either way [`check_model_matches`] refuses a file that is not the one
//! trained on.

use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::checkpoint::{load_model, LoadedModel};
use crate::ratingfile::RatingFile;
use crate::report::Reporter;
use crate::service::STATUS_FILE_NAME;
use crate::usage_bail;

pub mod predict;
pub mod recommend;
pub mod rows;

pub use rows::check_model_shape;

/// A model and the data file it was trained on, checked to belong
/// together.
#[derive(Debug)]
pub struct ModelWithData {
    /// The rating file (memory-mapped).
    pub data: RatingFile,
    /// The checkpoint's model.
    pub loaded: LoadedModel,
}

/// Loads a checkpoint (a file, or a directory: its newest good checkpoint)
/// and checks that the model's arrays are consistent and finite. Newer
/// checkpoints of a directory that cannot be read are skipped, each with a
/// warning to `reporter`.
pub fn load_checked_model(path: &Path, reporter: &dyn Reporter) -> Result<LoadedModel> {
    let loaded = load_model(path)?;
    for warning in loaded.skipped_warnings() {
        reporter.warning(&warning);
    }
    check_model_shape(&loaded.model)
        .with_context(|| format!("unusable model in {}", loaded.path.display()))?;
    Ok(loaded)
}

/// Opens a rating file.
pub fn open_data(path: &Path) -> Result<RatingFile> {
    Ok(RatingFile::open(path)?)
}

/// Refuses a model that was not trained on `data` (another data file's
/// identity, or other user/item counts): a usage error (exit code 2).
pub fn check_model_matches(loaded: &LoadedModel, data: &RatingFile) -> Result<()> {
    if loaded.data_identity != data.identity() {
        usage_bail!(
            "checkpoint {} was trained on another data file (identity {:016x}), not on {} (identity {:016x})",
            loaded.path.display(),
            loaded.data_identity,
            data.path().display(),
            data.identity()
        );
    }
    let model = &loaded.model;
    if model.users() != data.users() || model.items() != data.items() {
        usage_bail!(
            "checkpoint {} has {} users × {} items but {} has {} × {}",
            loaded.path.display(),
            model.users(),
            model.items(),
            data.path().display(),
            data.users(),
            data.items()
        );
    }
    Ok(())
}

/// The checkpoint directory of a `--model` path: the path itself when it
/// is a directory, else the checkpoint file's directory.
pub fn checkpoint_dir_of(model: &Path) -> PathBuf {
    if model.is_dir() {
        return model.to_path_buf();
    }
    match model.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The data file of the model at `model`: `data` (`--data`) when given,
/// else the one `funkd train` recorded in the checkpoint directory's
/// `status.json`. No status file, none that names a data file, or a named
/// file that is gone is a usage error (exit code 2) that asks for `--data`.
/// The file found is not checked against the model here: see
/// [`check_model_matches`].
pub fn resolve_data(model: &Path, data: Option<&Path>) -> Result<PathBuf> {
    match data {
        Some(path) => Ok(path.to_path_buf()),
        None => recorded_data(model),
    }
}

/// The data file named in the `status.json` of `model`'s checkpoint
/// directory (see [`resolve_data`]).
pub fn recorded_data(model: &Path) -> Result<PathBuf> {
    let status = checkpoint_dir_of(model).join(STATUS_FILE_NAME);
    let text = match std::fs::read_to_string(&status) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => usage_bail!(
            "no --data given, and there is no {} to say which data file {} was trained on: \
             pass --data FILE (the rating file the model was trained on)",
            status.display(),
            model.display()
        ),
        Err(e) => {
            return Err(e).with_context(|| {
                format!(
                    "no --data given, and cannot read {} (pass --data FILE)",
                    status.display()
                )
            })
        }
    };
    let named = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(value) => value
            .get("data")
            .and_then(serde_json::Value::as_str)
            .map(PathBuf::from),
        Err(e) => usage_bail!(
            "no --data given, and {} is not valid JSON ({e}): pass --data FILE \
             (the rating file the model was trained on)",
            status.display()
        ),
    };
    let Some(path) = named else {
        usage_bail!(
            "no --data given, and {} names no data file (written by an older funkd?): \
             pass --data FILE (the rating file the model was trained on)",
            status.display()
        );
    };
    if let Err(e) = std::fs::metadata(&path) {
        usage_bail!(
            "no --data given; {} says the model was trained on {}, which cannot be opened ({e}): \
             pass --data FILE (where that data file is now)",
            status.display(),
            path.display()
        );
    }
    Ok(path)
}

impl ModelWithData {
    /// Loads the model at `model`, opens its rating file (`data`, or the
    /// one recorded in the checkpoint directory: see [`resolve_data`]),
    /// and checks that they belong together. Skipped checkpoints are
    /// reported as [`load_checked_model`] does.
    pub fn open(
        model: &Path,
        data: Option<&Path>,
        reporter: &dyn Reporter,
    ) -> Result<ModelWithData> {
        match data {
            Some(path) => {
                // The data file first: a wrong --data fails before a large
                // checkpoint is read.
                let data = open_data(path)?;
                let loaded = load_checked_model(model, reporter)?;
                check_model_matches(&loaded, &data)?;
                Ok(ModelWithData { data, loaded })
            }
            None => {
                // The model first: a missing --model is reported as such,
                // not as a missing status.json.
                let loaded = load_checked_model(model, reporter)?;
                let data = recorded_matching_data(model, &loaded)?;
                Ok(ModelWithData { data, loaded })
            }
        }
    }
}

/// The data file of an already loaded model, for a command that needs it:
/// `data` (`--data`) when given, else the recorded one (see
/// [`resolve_data`]); either way checked to be the file trained on.
pub fn required_data(
    model: &Path,
    loaded: &LoadedModel,
    data: Option<&Path>,
) -> Result<RatingFile> {
    match data {
        Some(path) => {
            let data = open_data(path)?;
            check_model_matches(loaded, &data)?;
            Ok(data)
        }
        None => recorded_matching_data(model, loaded),
    }
}

/// The data file recorded for `model`, opened and checked to be the one
/// `loaded` was trained on.
pub fn recorded_matching_data(model: &Path, loaded: &LoadedModel) -> Result<RatingFile> {
    let path = recorded_data(model)?;
    let data = open_data(&path)?;
    check_model_matches(loaded, &data).with_context(|| {
        format!(
            "no --data given, and {} (recorded in the checkpoint directory's \
             {STATUS_FILE_NAME}) is not the data this model was trained on: pass --data FILE",
            path.display()
        )
    })?;
    Ok(data)
}
