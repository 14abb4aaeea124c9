//! `funkd svd`: the model (and, for the id lists of `-o`, its data file:
//! `--data`, else the one recorded in the checkpoint directory's
//! `status.json`) handed to [`svd`], and the singular values it returns
//! printed.

use std::path::PathBuf;

use anyhow::Result;

use crate::commands::context::{load_checked_model, optional_data, print_json, write_stdout};
use crate::report::Stderr;
use crate::svd::svd;

/// Options of `funkd svd`.
#[derive(Debug, clap::Args)]
pub struct SvdArgs {
    /// A checkpoint file, or a checkpoint directory (its newest good checkpoint).
    #[arg(long, value_name = "DIR|CHECKPOINT")]
    pub model: PathBuf,
    /// The model's rating file: checked against the model, and its original
    /// ids written next to U and V [default with -o: the data file the checkpoint
    /// directory was trained on, from its status.json; without one, internal ids only].
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Also write S.npy, U.npy and V.npy into this directory.
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `funkd svd`.
pub fn run(args: SvdArgs) -> Result<()> {
    let loaded = load_checked_model(&args.model, &Stderr::new(false))?;
    // The data file only adds id lists to the files of -o; an explicit
    // --data is checked against the model even without -o.
    let data = if args.data.is_some() || args.out.is_some() {
        optional_data(&args.model, &loaded, args.data.as_deref())?
    } else {
        None
    };
    let report = svd(&loaded, data.as_ref(), args.out.as_deref())?;
    if args.json {
        return print_json(&report);
    }
    write_stdout(|out| {
        writeln!(
            out,
            "singular values of P·Qᵀ ({} users × {} items, rank {}{}):",
            report.users,
            report.items,
            report.rank,
            if report.kind == "biased" {
                "; μ and biases not included"
            } else {
                ""
            }
        )?;
        for (i, s) in report.singular_values.iter().enumerate() {
            writeln!(out, "{:>4}  {s:.9e}", i + 1)?;
        }
        writeln!(out, "‖P·Qᵀ‖_F = {:.9e}", report.frobenius_norm)?;
        if !report.files.is_empty() {
            writeln!(
                out,
                "wrote {} to {}",
                report.files.join(", "),
                args.out
                    .as_ref()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default()
            )?;
        }
        Ok(())
    })
}
