//! `funkd export`: the model and its data file (`--data`, else the one
//! recorded in the checkpoint directory's `status.json`: see
//! [`resolve_data`](crate::commands::context::resolve_data)) handed to
//! [`export`], which writes the files of [`crate::export`]; `npy` and
//! `libmf` go without the data file (internal ids, with a note on stderr)
//! when neither is there.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::commands::context::{load_checked_model, optional_data, print_json, required_data};
use crate::export::{export, Format};
use crate::report::Stderr;

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

/// Runs `funkd export`.
pub fn run(args: ExportArgs) -> Result<()> {
    let loaded = load_checked_model(&args.model, &Stderr::new(false))?;
    let data = match args.format {
        Format::Csv => Some(
            required_data(&args.model, &loaded, args.data.as_deref())
                .context("--format csv writes original ids, so it needs the model's data file")?,
        ),
        Format::Npy | Format::Libmf => optional_data(&args.model, &loaded, args.data.as_deref())?,
    };
    let report = export(&loaded, data.as_ref(), args.format, &args.out)?;
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
