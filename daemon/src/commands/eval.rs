//! `funkd eval`: the options, checked into an [`EvalConfig`], handed to
//! [`evaluate_model`], and the [`Evaluation`] it returns printed (as text,
//! or as one JSON object).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use crate::commands::context::{
    choose_isa, clamp_range, print_json, thread_count, write_stdout, ModelWithData,
};
use crate::eval::{evaluate_model, EvalConfig, Evaluation, SplitError};
use crate::report::Stderr;

/// Options of `funkd eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The rating file the model was trained on
    /// [default: the data file the checkpoint directory was trained on, from its status.json].
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// A checkpoint file, or a checkpoint directory (its newest good checkpoint).
    #[arg(long, value_name = "DIR|CHECKPOINT")]
    pub model: PathBuf,
    /// Also report the error on the train split.
    #[arg(long)]
    pub train: bool,
    /// Do not clamp predictions to the data's rating range.
    #[arg(long)]
    pub no_clamp: bool,
    /// Threads [default: the CPUs available]. The result does not depend on it.
    #[arg(long, value_name = "T")]
    pub threads: Option<usize>,
    /// Instruction set (scalar, avx2, avx512, neon) [default: the best this CPU has].
    #[arg(long, value_name = "NAME")]
    pub isa: Option<String>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `funkd eval`.
pub fn run(args: EvalArgs) -> Result<()> {
    let isa = choose_isa(args.isa.as_deref())?;
    let threads = thread_count(args.threads)?;
    let trained = ModelWithData::open(&args.model, args.data.as_deref(), &Stderr::new(false))?;
    let config = EvalConfig {
        train: args.train,
        clamp: clamp_range(&trained.data, args.no_clamp),
        isa,
        threads,
    };
    let report = evaluate_model(&trained, &config)?;
    if args.json {
        return print_json(&report);
    }
    write_stdout(|out| print_text(out, &report))
}

/// The evaluation as `funkd eval` prints it without `--json`.
fn print_text(out: &mut dyn Write, report: &Evaluation) -> std::io::Result<()> {
    let line = |out: &mut dyn Write, name: &str, e: &SplitError| {
        writeln!(
            out,
            "{name:<5}  RMSE {:.6}  MAE {:.6}  ({} ratings)",
            e.rmse, e.mae, e.count
        )
    };
    writeln!(
        out,
        "model {} ({}) on {}{}",
        report.model.display(),
        if report.model_epoch == report.epoch {
            format!("epoch {}", report.epoch)
        } else {
            format!(
                "the model of epoch {}, kept by early stopping; trained {} epochs",
                report.model_epoch, report.epoch
            )
        },
        report.data.display(),
        match report.clamp {
            Some((lo, hi)) => format!(", predictions clamped to [{lo}, {hi}]"),
            None => String::new(),
        }
    )?;
    line(out, "test", &report.test)?;
    if let Some(train) = &report.train {
        line(out, "train", train)?;
    }
    if let Some(floor) = report.noise_floor {
        writeln!(out, "noise floor RMSE {floor:.6}")?;
    }
    if let Some(mean) = report.mean_rmse {
        writeln!(out, "predicting the mean: RMSE {mean:.6}")?;
    }
    Ok(())
}
