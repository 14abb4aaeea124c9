//! `funkd gradcheck`: the options checked into a [`GradcheckConfig`] (the
//! trained model of `--model`, or a random one), handed to [`gradcheck`],
//! and its outcome printed. The worst relative error is printed; above
//! `--tolerance` the command fails (exit code 1).

use std::path::PathBuf;

use anyhow::{bail, Result};
use funk_kernel::ModelKind;

use crate::commands::context::{
    check_model_matches, load_checked_model, open_data, print_json, write_stdout,
};
use crate::gradcheck::{gradcheck, random_model, GradcheckConfig};
use crate::rank::MAX_RANK;
use crate::report::Stderr;
use crate::usage_bail;

/// Options of `funkd gradcheck`.
#[derive(Debug, clap::Args)]
pub struct GradcheckArgs {
    /// The rating file.
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// Check at a trained model's parameters (a checkpoint file or
    /// directory) instead of random ones.
    #[arg(long, value_name = "DIR|CHECKPOINT")]
    pub model: Option<PathBuf>,
    /// Without --model: check the plain model p·q instead of the biased one.
    #[arg(long, conflicts_with = "model")]
    pub plain: bool,
    /// Without --model: the rank of the random model.
    #[arg(
        long,
        visible_alias = "factors",
        default_value_t = 8,
        conflicts_with = "model"
    )]
    pub rank: usize,
    /// λ, the factor regularisation [default: the model's, else 0.05].
    #[arg(long, value_name = "LAMBDA")]
    pub reg: Option<f32>,
    /// λ_b, the bias regularisation [default: the model's, else 0.01].
    #[arg(long, value_name = "LAMBDA")]
    pub reg_bias: Option<f32>,
    /// Parameters to probe.
    #[arg(long, default_value_t = 200)]
    pub probes: usize,
    /// At most this many ratings of the chosen block enter J.
    #[arg(long, default_value_t = 20_000)]
    pub max_ratings: usize,
    /// Seed of the block choice, the probes and the random model.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Fail when the worst relative error exceeds this.
    #[arg(long, default_value_t = 1e-3)]
    pub tolerance: f64,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `funkd gradcheck`.
pub fn run(args: GradcheckArgs) -> Result<()> {
    if !(args.tolerance.is_finite() && args.tolerance > 0.0) {
        usage_bail!("--tolerance must be a positive number");
    }
    if args.probes == 0 || args.max_ratings == 0 {
        usage_bail!("--probes and --max-ratings must be at least 1");
    }
    let data = open_data(&args.data)?;
    let (model, parameters, reg, reg_bias) = match &args.model {
        Some(path) => {
            let loaded = load_checked_model(path, &Stderr::new(false))?;
            check_model_matches(&loaded, &data)?;
            let (reg, reg_bias) = (loaded.settings.reg, loaded.settings.reg_bias);
            (
                loaded.model,
                loaded.path.display().to_string(),
                reg,
                reg_bias,
            )
        }
        None => {
            if !(1..=MAX_RANK).contains(&args.rank) {
                usage_bail!("--rank {} is outside 1..={MAX_RANK}", args.rank);
            }
            let kind = if args.plain {
                ModelKind::Plain
            } else {
                ModelKind::Biased
            };
            (
                random_model(kind, args.rank, &data, args.seed),
                "random".to_owned(),
                0.05,
                0.01,
            )
        }
    };
    let config = GradcheckConfig {
        parameters,
        reg: args.reg.unwrap_or(reg),
        reg_bias: args.reg_bias.unwrap_or(reg_bias),
        probes: args.probes,
        max_ratings: args.max_ratings,
        seed: args.seed,
        tolerance: args.tolerance,
    };
    let outcome = gradcheck(&data, &model, &config)?;
    if args.json {
        print_json(&outcome)?;
    } else {
        write_stdout(|out| {
            writeln!(
            out,
            "gradient check on block ({}, {}) of {}: {} ratings, {} probes, {} {} model of rank {}, λ {} λ_b {}",
            outcome.block.0,
            outcome.block.1,
            data.path().display(),
            outcome.ratings,
            outcome.checked,
            outcome.parameters,
            outcome.kind,
            outcome.rank,
            outcome.reg,
            outcome.reg_bias
        )?;
            writeln!(out, "J = {:.9e}", outcome.objective)?;
            writeln!(
            out,
            "worst relative error {:.3e} at {} (analytic {:.9e}, numeric {:.9e}); tolerance {:.1e}: {}",
            outcome.worst_relative_error,
            outcome.worst.as_deref().unwrap_or("-"),
            outcome.analytic,
            outcome.numeric,
            outcome.tolerance,
            if outcome.passed { "ok" } else { "FAILED" }
        )
        })?;
    }
    if !outcome.passed {
        bail!(
            "gradient check failed: worst relative error {:.3e} exceeds the tolerance {:.1e}",
            outcome.worst_relative_error,
            outcome.tolerance
        );
    }
    Ok(())
}
