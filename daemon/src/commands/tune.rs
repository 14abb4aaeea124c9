//! `funkd tune`: the options, checked into a [`TuneConfig`] (the grid of
//! `--factors` × `--learning-rate` × `--reg` × `--reg-row`, or `--samples`
//! of it drawn at random with `--search-seed`; learning rates, λ and λ₀ as
//! multiples of the defaults derived from the data unless `--absolute`),
//! handed to [`tune`], and the table it returns printed, sorted by mean
//! RMSE, with the best row's flags for `funkd train`. The search itself is
//! described in [`crate::tune`].

use std::path::PathBuf;

use anyhow::Result;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::commands::context::{open_data, print_json, write_stdout};
use crate::cv::WorkDir;
use crate::rank::MAX_RANK;
use crate::report::{Reporter, Stderr};
use crate::train::{DataShape, Derived};
use crate::tune::{tune, Candidate, TuneConfig};
use crate::usage_bail;

/// Options of `funkd tune`.
#[derive(Debug, Clone, clap::Args)]
pub struct TuneArgs {
    /// The rating file (only its train split is used).
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// Work directory for the fold files and the candidates' checkpoints,
    /// kept afterwards [default: a temporary directory, removed at the end].
    #[arg(long, visible_alias = "dir", value_name = "DIR")]
    pub checkpoint_dir: Option<PathBuf>,
    /// Folds of the train split, at least 2.
    #[arg(long, default_value_t = 3)]
    pub folds: usize,
    /// Seed of the shuffle that deals the train ratings into folds.
    #[arg(long, default_value_t = 1)]
    pub fold_seed: u64,
    /// Ranks to try, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "16,32,64")]
    pub factors: Vec<usize>,
    /// Learning rates to try: multiples of the derived default (or
    /// absolute values with --absolute), comma-separated.
    #[arg(
        long,
        visible_alias = "lr",
        value_delimiter = ',',
        default_value = "0.5,1,2"
    )]
    pub learning_rate: Vec<f32>,
    /// λ values to try: multiples of the derived default (or absolute with
    /// --absolute), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0.5,1,2")]
    pub reg: Vec<f32>,
    /// λ₀ values (the per-row prior) to try: multiples of the derived
    /// default (or absolute with --absolute), comma-separated [default:
    /// the derived λ₀ only].
    #[arg(long, value_delimiter = ',')]
    pub reg_row: Option<Vec<f32>>,
    /// --learning-rate, --reg and --reg-row are absolute values, not multiples.
    #[arg(long)]
    pub absolute: bool,
    /// Random search: try this many candidates drawn from the grid.
    #[arg(long, value_name = "N")]
    pub samples: Option<usize>,
    /// Seed of the random search.
    #[arg(long, default_value_t = 1)]
    pub search_seed: u64,
    /// The most epochs per training; early stopping on each fold's
    /// validation slice ends most trainings well before [default: 200].
    #[arg(long, value_name = "N")]
    pub epochs: Option<u32>,
    /// Worker threads per training [default: train's default].
    #[arg(long, value_name = "T")]
    pub threads: Option<usize>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress output on stderr (warnings still go there).
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// The default cap on epochs per training. Higher than `train`'s default:
/// the candidates with small learning rates need more epochs, and a cap
/// that cuts them off while they still improve would rank them unfairly;
/// early stopping ends every training once it stops improving.
pub const DEFAULT_TUNE_EPOCHS: u32 = 200;

/// The candidates: the grid, or `samples` of it at random.
pub fn candidates(args: &TuneArgs, derived: &Derived) -> Vec<Candidate> {
    let (derived_rate, derived_reg, derived_row) =
        (derived.learning_rate, derived.reg, derived.reg_row);
    let scale = |v: f32, base: f32| if args.absolute { v } else { v * base };
    let rows: Vec<f32> = match &args.reg_row {
        Some(list) => list.iter().map(|&r| scale(r, derived_row)).collect(),
        None => vec![derived_row],
    };
    let mut grid = Vec::new();
    for &factors in &args.factors {
        for &lr in &args.learning_rate {
            for &reg in &args.reg {
                for &row in &rows {
                    grid.push(Candidate {
                        factors,
                        learning_rate: scale(lr, derived_rate),
                        reg: scale(reg, derived_reg),
                        reg_row: row,
                    });
                }
            }
        }
    }
    if let Some(n) = args.samples {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(args.search_seed);
        grid.shuffle(&mut rng);
        grid.truncate(n);
    }
    grid
}

/// Runs `funkd tune`.
pub fn run(args: TuneArgs) -> Result<()> {
    if args.folds < 2 {
        usage_bail!("--folds must be at least 2, not {}", args.folds);
    }
    if args.factors.is_empty()
        || args.learning_rate.is_empty()
        || args.reg.is_empty()
        || args.reg_row.as_ref().is_some_and(Vec::is_empty)
    {
        usage_bail!("--factors, --learning-rate, --reg and --reg-row each need at least one value");
    }
    let what = if args.absolute {
        "absolute value"
    } else {
        "multiple of the derived default"
    };
    for &lr in &args.learning_rate {
        if !(lr.is_finite() && lr > 0.0) {
            usage_bail!("--learning-rate {lr} must be a finite number > 0 (a {what})");
        }
    }
    for (flag, values) in [("reg", Some(&args.reg)), ("reg-row", args.reg_row.as_ref())] {
        for &v in values.into_iter().flatten() {
            if !(v.is_finite() && v >= 0.0) {
                usage_bail!("--{flag} {v} must be a finite number ≥ 0 (a {what})");
            }
        }
    }
    if let Some(&k) = args.factors.iter().find(|&&k| !(1..=MAX_RANK).contains(&k)) {
        usage_bail!("--factors {k} must be within 1..={MAX_RANK}");
    }
    if args.samples == Some(0) {
        usage_bail!("--samples must be at least 1");
    }
    let data = open_data(&args.data)?;
    if data.train_count() < args.folds as u64 {
        usage_bail!(
            "--folds {} is more than the {} train ratings",
            args.folds,
            data.train_count()
        );
    }
    let epochs = args.epochs.unwrap_or(DEFAULT_TUNE_EPOCHS);
    if epochs == 0 {
        usage_bail!("--epochs must be at least 1");
    }
    let derived = Derived::for_shape(&DataShape::of(&data));
    let work = WorkDir::given_or_temporary(args.checkpoint_dir.as_deref(), "tune")?;
    let reporter = Stderr::new(args.quiet);
    reporter.note(&format!("tune: {}", work.describe()));

    let config = TuneConfig {
        folds: args.folds,
        fold_seed: args.fold_seed,
        epochs,
        threads: args.threads,
        candidates: candidates(&args, &derived),
        derived,
    };
    let report = tune(&data, &config, &work, &reporter)?;
    if args.json {
        return print_json(&report);
    }
    write_stdout(|out| {
        writeln!(
            out,
            "{}-fold cross-validation of the {} train ratings of {} (its test split unused)",
            report.folds, report.train_ratings, report.data
        )?;
        writeln!(
            out,
            "derived defaults: learning rate {}, reg {}",
            report.derived.0, report.derived.1
        )?;
        writeln!(
            out,
            "factors  learning-rate        reg  reg-row    rmse     std  epochs (per fold, of at most {})",
            report.epochs
        )?;
        let mut capped = false;
        for s in &report.candidates {
            let c = s.candidate;
            let epochs: Vec<String> = s
                .model_epochs
                .iter()
                .map(|&e| {
                    if e >= report.epochs {
                        capped = true;
                        format!("{e}*")
                    } else {
                        e.to_string()
                    }
                })
                .collect();
            writeln!(
                out,
                "{:>7}  {:>13.6}  {:>9.6}  {:>7.3}  {:.4}  {:.4}  {}",
                c.factors,
                c.learning_rate,
                c.reg,
                c.reg_row,
                s.rmse.mean,
                s.rmse.std,
                epochs.join(" ")
            )?;
        }
        if capped {
            writeln!(
                out,
                "* the epoch cap: the validation RMSE was still improving (try a higher --epochs)"
            )?;
        }
        writeln!(out, "best: funkd train {}", report.best_flags)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        tune: TuneArgs,
    }

    fn args(extra: &[&str]) -> TuneArgs {
        let mut v = vec!["tune", "--data", "d.funk"];
        v.extend_from_slice(extra);
        Cli::parse_from(v).tune
    }

    fn derived(learning_rate: f32, reg: f32) -> Derived {
        Derived {
            learning_rate,
            reg,
            reg_bias: 0.01,
            reg_row: 5.0,
        }
    }

    #[test]
    fn the_grid_is_multiples_of_the_derived_defaults() {
        let c = candidates(
            &args(&["--factors", "8,16", "--lr", "1,2", "--reg", "0.5"]),
            &derived(0.01, 0.04),
        );
        assert_eq!(c.len(), 4);
        assert_eq!(
            c[1],
            Candidate {
                factors: 8,
                learning_rate: 0.02,
                reg: 0.02,
                reg_row: 5.0,
            }
        );
        let abs = candidates(
            &args(&[
                "--factors",
                "8",
                "--lr",
                "0.3",
                "--reg",
                "0.1",
                "--absolute",
            ]),
            &derived(0.01, 0.04),
        );
        assert_eq!(abs[0].learning_rate, 0.3);
        assert_eq!(abs[0].reg, 0.1);
        assert_eq!(abs[0].reg_row, 5.0, "without --reg-row: the derived λ₀");
        let rows = candidates(
            &args(&[
                "--factors",
                "8",
                "--lr",
                "1",
                "--reg",
                "1",
                "--reg-row",
                "0,2",
            ]),
            &derived(0.01, 0.04),
        );
        assert_eq!(
            rows.iter().map(|c| c.reg_row).collect::<Vec<_>>(),
            vec![0.0, 10.0]
        );
    }

    #[test]
    fn random_search_draws_distinct_grid_points_reproducibly() {
        let a = candidates(&args(&["--samples", "5"]), &derived(0.01, 0.03));
        assert_eq!(a.len(), 5);
        assert_eq!(
            a,
            candidates(&args(&["--samples", "5"]), &derived(0.01, 0.03))
        );
        let grid = candidates(&args(&[]), &derived(0.01, 0.03));
        assert_eq!(grid.len(), 27);
        assert!(a.iter().all(|c| grid.contains(c)));
        for (i, x) in a.iter().enumerate() {
            assert!(!a[i + 1..].contains(x), "drawn twice: {x:?}");
        }
    }
}
