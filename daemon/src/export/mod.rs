//! A model's factors and biases in formats other tools read.
//!
//! - `npy`: `user_factors.npy` (users × rank, f32), `item_factors.npy`,
//!   and for the biased model `user_bias.npy`, `item_bias.npy`; rows in
//!   internal-id order, whose original ids are in `user_ids.txt` and
//!   `item_ids.txt` (one per line) when the data file is known.
//! - `csv`: `users.csv` and `items.csv`, one row per user/item keyed by
//!   its original id (the data file required): `id[,bias],f0,…,f{rank-1}`.
//! - `libmf`: `model.txt` in LIBMF's model text format (`mf_save_model`),
//!   readable by `mf-predict` and `mf_load_model` (see [`libmf`]).
//!
//! Every format also gets `model.json` (kind, rank, μ, counts, where the
//! model came from, the prediction formula), and every file is written
//! atomically. [`export`] is the entry point.

pub mod csv;
pub mod libmf;
pub mod npy;
pub mod numpy;

use std::path::Path;

use anyhow::{Context, Result};
use funk_kernel::ModelKind;
use serde::Serialize;

use crate::atomic::write_atomically;
use crate::checkpoint::LoadedModel;
use crate::ratingfile::RatingFile;
use crate::usage_bail;

/// The export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// NumPy .npy arrays (plus id lists when the data file is known).
    Npy,
    /// CSV keyed by original ids (needs the data file).
    Csv,
    /// LIBMF model text (`mf_save_model` format).
    Libmf,
}

/// What `export` wrote.
#[derive(Debug, Serialize)]
pub struct ExportReport {
    /// The format.
    pub format: Format,
    /// The output directory.
    pub dir: String,
    /// The files written, by name.
    pub files: Vec<String>,
    /// Users exported.
    pub users: usize,
    /// Items exported.
    pub items: usize,
    /// The model's rank.
    pub rank: usize,
}

/// Where a `model.json` says the model came from.
#[derive(Debug, Serialize)]
struct ModelDescription<'a> {
    kind: &'static str,
    rank: usize,
    mu: f32,
    users: usize,
    items: usize,
    epoch: u32,
    checkpoint: String,
    data: Option<String>,
    data_identity: String,
    prediction: &'static str,
    row_order: &'a str,
}

/// The name of a model kind in exported metadata.
pub fn kind_name(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::Plain => "plain",
        ModelKind::Biased => "biased",
    }
}

/// Writes the model of `loaded` as `format` into directory `out`
/// (created if missing), with original ids from `data` where it is given
/// (`csv` requires it: without it, a usage error).
pub fn export(
    loaded: &LoadedModel,
    data: Option<&RatingFile>,
    format: Format,
    out: &Path,
) -> Result<ExportReport> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create directory {}", out.display()))?;
    crate::output::check_dir(out, "export directory", "--out")?;
    let mut files = match (format, data) {
        (Format::Npy, _) => numpy::write(&loaded.model, data, out)?,
        (Format::Csv, Some(data)) => csv::write(&loaded.model, data, out)?,
        (Format::Csv, None) => {
            usage_bail!(
                "--format csv writes original ids: give --data FILE (the model's rating file)"
            )
        }
        (Format::Libmf, _) => libmf::write(&loaded.model, data, out)?.files,
    };
    let row_order = match (format, data) {
        (Format::Csv, _) => "by original id (first column)",
        (Format::Libmf, _) => "see libmf.json",
        (Format::Npy, Some(_)) => "internal id; original ids in user_ids.txt / item_ids.txt",
        (Format::Npy, None) => "internal id (export with --data for the original ids)",
    };
    write_description(loaded, data, out, row_order)?;
    files.push("model.json".to_owned());
    Ok(ExportReport {
        format,
        dir: out.display().to_string(),
        files,
        users: loaded.model.users(),
        items: loaded.model.items(),
        rank: loaded.model.rank,
    })
}

fn write_description(
    loaded: &LoadedModel,
    data: Option<&RatingFile>,
    dir: &Path,
    row_order: &str,
) -> Result<()> {
    let model = &loaded.model;
    let description = ModelDescription {
        kind: kind_name(model.kind),
        rank: model.rank,
        mu: model.mu,
        users: model.users(),
        items: model.items(),
        epoch: loaded.epoch,
        checkpoint: loaded.path.display().to_string(),
        data: data.map(|d| d.path().display().to_string()),
        data_identity: format!("{:016x}", loaded.data_identity),
        prediction: match model.kind {
            ModelKind::Plain => "p_u · q_i",
            ModelKind::Biased => "mu + b_u + b_i + p_u · q_i",
        },
        row_order,
    };
    write_json_file(&dir.join("model.json"), &description)
}

/// Writes a pretty JSON file atomically.
pub fn write_json_file(path: &Path, value: &impl Serialize) -> Result<()> {
    write_atomically(path, |w| {
        serde_json::to_writer_pretty(&mut *w, value)
            .with_context(|| format!("cannot write {}", path.display()))?;
        std::io::Write::write_all(w, b"\n")
            .with_context(|| format!("cannot write {}", path.display()))
    })
}

/// Writes the original ids of `count` rows, one per line, from `id`.
pub fn write_id_list<'a>(path: &Path, count: usize, id: impl Fn(usize) -> &'a str) -> Result<()> {
    write_atomically(path, |w| {
        for i in 0..count {
            std::io::Write::write_all(w, id(i).as_bytes())
                .and_then(|()| std::io::Write::write_all(w, b"\n"))
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    })
}
