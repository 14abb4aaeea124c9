//! What the model commands share: loading a checkpoint, opening its data
//! file, refusing a pair that does not belong together, choosing the ISA,
//! and printing the one JSON object of `--json`.

use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, Result};
use funk_kernel::Isa;

use crate::checkpoint::{load_model, LoadedModel};
use crate::commands::rows::check_model_shape;
use crate::ratingfile::RatingFile;
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

impl ModelWithData {
    /// Loads the model at `model`, opens the rating file at `data`, and
    /// checks that they belong together.
    pub fn open(model: &Path, data: &Path) -> Result<ModelWithData> {
        let data = open_data(data)?;
        let loaded = load_checked_model(model)?;
        check_model_matches(&loaded, &data)?;
        Ok(ModelWithData { data, loaded })
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

/// Clamps `value` to `range` when there is one.
pub fn clamp(value: f32, range: Option<(f32, f32)>) -> f32 {
    match range {
        // max/min rather than f32::clamp: never panics, even on a range
        // read from a damaged file.
        Some((lo, hi)) => value.max(lo).min(hi),
        None => value,
    }
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
