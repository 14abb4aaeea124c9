//! `funkd export`: a model's factors and biases in formats other tools
//! read.
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
//! The data file is `--data`, else the one recorded in the checkpoint
//! directory's `status.json` (see [`resolve_data`](crate::commands::context::resolve_data));
//! `npy` and `libmf` go without it (internal ids, with a note on stderr)
//! when neither is there.
//!
//! Every format also gets `model.json` (kind, rank, μ, counts, where the
//! model came from, the prediction formula), and every file is written
//! atomically.

pub mod csv;
pub mod libmf;
pub mod npy;
pub mod numpy;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use funk_kernel::ModelKind;
use serde::Serialize;

use crate::atomic::write_atomically;
use crate::checkpoint::LoadedModel;
use crate::commands::context::{load_checked_model, optional_data, print_json, required_data};
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

/// Options of `funkd export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// A checkpoint file, or a checkpoint directory (its newest good checkpoint).
    #[arg(long, value_name = "DIR|CHECKPOINT")]
    pub model: PathBuf,
    /// The rating file the model was trained on: original ids for the output
    /// [default: the data file the checkpoint directory was trained on, from its status.json;
    /// without one, npy and libmf write internal ids only].
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// What to write.
    #[arg(long, value_enum)]
    pub format: Format,
    /// The directory to write into (created if missing).
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: PathBuf,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
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

/// Runs `funkd export`.
pub fn run(args: ExportArgs) -> Result<()> {
    let loaded = load_checked_model(&args.model)?;
    let data = match args.format {
        Format::Csv => Some(
            required_data(&args.model, &loaded, args.data.as_deref())
                .context("--format csv writes original ids, so it needs the model's data file")?,
        ),
        Format::Npy | Format::Libmf => optional_data(&args.model, &loaded, args.data.as_deref())?,
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create directory {}", args.out.display()))?;
    crate::output::check_dir(&args.out, "export directory", "--out")?;
    let mut files = match (args.format, &data) {
        (Format::Npy, _) => numpy::write(&loaded.model, data.as_ref(), &args.out)?,
        (Format::Csv, Some(data)) => csv::write(&loaded.model, data, &args.out)?,
        (Format::Csv, None) => {
            usage_bail!(
                "--format csv writes original ids: give --data FILE (the model's rating file)"
            )
        }
        (Format::Libmf, _) => libmf::write(&loaded.model, data.as_ref(), &args.out)?.files,
    };
    let row_order = match (args.format, &data) {
        (Format::Csv, _) => "by original id (first column)",
        (Format::Libmf, _) => "see libmf.json",
        (Format::Npy, Some(_)) => "internal id; original ids in user_ids.txt / item_ids.txt",
        (Format::Npy, None) => "internal id (export with --data for the original ids)",
    };
    write_description(&loaded, data.as_ref(), &args.out, row_order)?;
    files.push("model.json".to_owned());
    let report = ExportReport {
        format: args.format,
        dir: args.out.display().to_string(),
        files,
        users: loaded.model.users(),
        items: loaded.model.items(),
        rank: loaded.model.rank,
    };
    if args.json {
        print_json(&report)
    } else {
        eprintln!(
            "funkd: exported {} users × {} items at rank {} to {}: {}",
            report.users,
            report.items,
            report.rank,
            report.dir,
            report.files.join(", ")
        );
        Ok(())
    }
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
