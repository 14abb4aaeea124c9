//! What the model commands share: loading a checkpoint, finding and
//! opening its data file, refusing a pair that does not belong together,
//! choosing the ISA, and printing the one JSON object of `--json`.
//!
//! A checkpoint stores only its data file's identity, not the file's id
//! maps, so the model commands need the data file too. `--data` names it;
//! without it they use the one `funkd train` recorded in the checkpoint
//! directory's `status.json` ([`resolve_data`]). Either way the identity
//! check ([`check_model_matches`]) refuses a file that is not the one
//! trained on.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use funk_kernel::Isa;

use crate::checkpoint::{load_model, LoadedModel};
use crate::commands::rows::check_model_shape;
use crate::ratingfile::RatingFile;
use crate::service::STATUS_FILE_NAME;
use crate::usage_bail;

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
/// and checks that the model's arrays are consistent and finite.
pub fn load_checked_model(path: &Path) -> Result<LoadedModel> {
    let loaded = load_model(path)?;
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
fn recorded_data(model: &Path) -> Result<PathBuf> {
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
    /// and checks that they belong together.
    pub fn open(model: &Path, data: Option<&Path>) -> Result<ModelWithData> {
        match data {
            Some(path) => {
                // The data file first: a wrong --data fails before a large
                // checkpoint is read.
                let data = open_data(path)?;
                let loaded = load_checked_model(model)?;
                check_model_matches(&loaded, &data)?;
                Ok(ModelWithData { data, loaded })
            }
            None => {
                // The model first: a missing --model is reported as such,
                // not as a missing status.json.
                let loaded = load_checked_model(model)?;
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
fn recorded_matching_data(model: &Path, loaded: &LoadedModel) -> Result<RatingFile> {
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

/// The data file for a command to which it is optional (it only adds the
/// original ids to the output): `data` (`--data`) when given, which must
/// match the model; else the data file recorded in the checkpoint
/// directory when there is one and it matches; else none, with a note on
/// stderr saying why.
pub fn optional_data(
    model: &Path,
    loaded: &LoadedModel,
    data: Option<&Path>,
) -> Result<Option<RatingFile>> {
    if data.is_some() {
        return required_data(model, loaded, data).map(Some);
    }
    match recorded_matching_data(model, loaded) {
        Ok(data) => Ok(Some(data)),
        Err(why) => {
            eprintln!("funkd: note: writing internal ids only: {why:#}");
            Ok(None)
        }
    }
}

/// The ISA named by `--isa`, or the best this CPU has: a name that is
/// unknown or unavailable here is a usage error.
pub fn choose_isa(name: Option<&str>) -> Result<Isa> {
    match name {
        None => Ok(Isa::detect()),
        Some(name) => match Isa::from_name(name) {
            Some(isa) => Ok(isa),
            None => usage_bail!(
                "--isa {name}: unknown or not available on this CPU (available: {})",
                Isa::available()
                    .iter()
                    .map(|i| i.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    }
}

/// The rating range to clamp predictions to: the data's, unless clamping
/// is turned off.
pub fn clamp_range(data: &RatingFile, no_clamp: bool) -> Option<(f32, f32)> {
    if no_clamp {
        None
    } else {
        data.rating_range()
    }
}

/// Clamps `value` to `range` when there is one ([`funk_kernel::clamp`]).
pub fn clamp(value: f32, range: Option<(f32, f32)>) -> f32 {
    funk_kernel::clamp(value, range)
}

/// Prints one JSON object on stdout (the `--json` contract).
pub fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).context("cannot encode the JSON result")?;
    write_stdout(|out| writeln!(out, "{text}"))
}

/// Writes human-readable output to stdout through a buffer. A reader that
/// went away (`funkd … | head`) ends the output quietly rather than as an
/// error; any other write error is reported.
pub fn write_stdout(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<()> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    match write(&mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to stdout"),
    }
}
