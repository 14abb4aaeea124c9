//! `funkd gen`: the options, checked into a [`GenConfig`], handed to
//! [`generate_with`] with the terminal's reporter, and the summary it
//! returns printed.

use std::fmt::Write as _;

use crate::commands::context::{print_summary, wrote_of};
use crate::gen::{generate_with, GenArgs, GenConfig, GenSummary};
use crate::ratingfile;
use crate::report::Stderr;
use crate::usage_bail;

/// Runs `funkd gen`.
pub fn run(args: GenArgs) -> anyhow::Result<()> {
    let dense = args.dense.is_some();
    let config = GenConfig {
        scale: args.scale,
        rank: args.rank,
        noise: args.noise.unwrap_or(if dense { 0.1 } else { 0.75 }),
        test_fraction: args
            .test_fraction
            .unwrap_or(if dense { 0.0 } else { 0.014 }),
        seed: args.seed,
        dense: args.dense,
        grid: args.grid,
        ..GenConfig::default()
    };
    config.validate()?;
    let config = match args.ratings_per_user {
        Some(per_user) => config.with_ratings_per_user(per_user)?,
        None => config,
    };
    if let Some(p) = args.grid {
        let (u, i, _) = config.shape();
        if p == 0 || p > u || p > i || p > ratingfile::MAX_GRID {
            usage_bail!("--grid {p}: must be in 1..={} and at most the number of users ({u}) and items ({i})", ratingfile::MAX_GRID);
        }
    }
    if args.oracle && config.dense.is_some() {
        usage_bail!("--oracle applies to sparse data, not --dense");
    }
    let summary = generate_with(&config, &args.out, args.oracle, &Stderr::new(args.quiet))?;
    print_summary(args.json, &summary, &summary_text(&summary))
}

/// The summary as `gen` prints it.
pub fn summary_text(summary: &GenSummary) -> String {
    let mut out = format!("{}\n", wrote_of!(summary));
    let _ =
        writeln!(
        out,
        "mean {:.4}; noise floor (true-model RMSE) {:.4}; Bayes floor {}; mean-predictor RMSE {}",
        summary.mean,
        summary.noise_floor,
        summary.bayes_floor.map_or("n/a".into(), |r| format!("{r:.4}")),
        summary
            .mean_rmse
            .map_or("n/a".into(), |r| format!("{r:.4}"))
    );
    if let Some(o) = summary.oracle {
        let _ = writeln!(
            out,
            "oracle floor (items known, users estimated from their train ratings) {:.4} (clamped mean {:.4})",
            o.bayes, o.linear
        );
    }
    out
}
