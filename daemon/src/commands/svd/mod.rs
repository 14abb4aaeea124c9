//! `funkd svd`: the truncated SVD A ≈ UΣVᵀ of the model's low-rank part
//! ÛV̂ᵀ (the factor product p_u·q_i; μ and biases are not part of it),
//! recovered from the trained factors without forming A (see [`recover`]).
//! Prints the singular values; with `-o DIR` also writes `S.npy` (f64),
//! `U.npy` (users × s, f32) and `V.npy` (items × s, f32), s the number of
//! numerically non-zero singular values, rows in internal-id order (and
//! `user_ids.txt` / `item_ids.txt` when the data file is known: `--data`,
//! else the one recorded in the checkpoint directory's `status.json`).

pub mod recover;

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::commands::context::{load_checked_model, optional_data, print_json, write_stdout};
use crate::commands::export::npy;
use crate::commands::export::{kind_name, write_id_list};
use recover::RecoveredSvd;

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

#[derive(Serialize)]
struct Report {
    model: String,
    kind: &'static str,
    rank: usize,
    users: usize,
    items: usize,
    singular_values: Vec<f64>,
    numerical_rank: usize,
    frobenius_norm: f64,
    files: Vec<String>,
}

/// Runs `funkd svd`.
pub fn run(args: SvdArgs) -> Result<()> {
    let loaded = load_checked_model(&args.model)?;
    // The data file only adds id lists to the files of -o; an explicit
    // --data is checked against the model even without -o.
    let data = if args.data.is_some() || args.out.is_some() {
        optional_data(&args.model, &loaded, args.data.as_deref())?
    } else {
        None
    };
    let model = &loaded.model;
    let svd = RecoveredSvd::from_factors(
        (0..model.users()).map(|u| model.user_row(u)),
        (0..model.items()).map(|i| model.item_row(i)),
        model.rank,
    );
    let mut files = Vec::new();
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create directory {}", dir.display()))?;
        let s = svd.numerical_rank();
        npy::write_f64(
            &dir.join("S.npy"),
            &[s],
            svd.singular_values[..s].iter().copied(),
        )?;
        npy::write_f32(
            &dir.join("U.npy"),
            &[model.users(), s],
            (0..model.users()).flat_map(|u| {
                svd.user_vector(model.user_row(u))
                    .into_iter()
                    .map(|v| v as f32)
            }),
        )?;
        npy::write_f32(
            &dir.join("V.npy"),
            &[model.items(), s],
            (0..model.items()).flat_map(|i| {
                svd.item_vector(model.item_row(i))
                    .into_iter()
                    .map(|v| v as f32)
            }),
        )?;
        files.extend(["S.npy", "U.npy", "V.npy"].map(String::from));
        if let Some(data) = &data {
            write_id_list(&dir.join("user_ids.txt"), data.users(), |u| data.user_id(u))?;
            write_id_list(&dir.join("item_ids.txt"), data.items(), |i| data.item_id(i))?;
            files.extend(["user_ids.txt", "item_ids.txt"].map(String::from));
        }
    }
    let report = Report {
        model: loaded.path.display().to_string(),
        kind: kind_name(model.kind),
        rank: model.rank,
        users: model.users(),
        items: model.items(),
        frobenius_norm: svd
            .singular_values
            .iter()
            .map(|s| s * s)
            .sum::<f64>()
            .sqrt(),
        numerical_rank: svd.numerical_rank(),
        singular_values: svd.singular_values,
        files,
    };
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
