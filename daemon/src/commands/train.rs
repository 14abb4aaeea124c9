//! `funkd train`: the options, checked into a [`TrainConfig`], handed to
//! [`crate::train::train_from`] with the terminal's reporter, and the
//! summary it returns printed (as text or as one JSON object).

use anyhow::Context;

use crate::ratingfile::RatingFile;
use crate::report::Stderr;
use crate::train::report::{ending_line, still_improving, threads};
use crate::train::{fresh, train_from, TrainArgs, TrainConfig, TrainSummary, WarmStart};

/// Runs `funkd train`.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let reporter = Stderr::new(args.quiet);
    let data = RatingFile::open(&args.data).context("cannot open the rating file")?;
    let mut config = TrainConfig::from_args(&args, &data)?;
    if let Some(asked) = config.requested_threads.filter(|&n| n > config.threads) {
        if !reporter.is_quiet() {
            eprintln!(
                "funkd: note: --threads {asked}: this data's grid is {p}×{p} blocks, so at most {p} train at once; using {}",
                threads(config.threads),
                p = data.grid()
            );
        }
    }
    let Some(dir) = &args.checkpoint_dir else {
        crate::usage_bail!("funkd train needs --checkpoint-dir DIR (where the run is kept)");
    };
    let warm = match &args.warm_start {
        Some(path) => {
            let warm = WarmStart::load(path, args.warm_start_data.as_deref(), &reporter)?;
            warm.adapt(&mut config)?;
            Some(warm)
        }
        None => {
            if args.warm_start_data.is_some() {
                crate::usage_bail!("--warm-start-data is only for --warm-start");
            }
            None
        }
    };
    if args.fresh {
        fresh::start_over(dir, &reporter)?;
    }
    let summary = train_from(&data, &config, dir, warm.as_ref(), &reporter)?;
    if let Some(hint) = still_improving(&summary) {
        if !reporter.is_quiet() {
            eprintln!("funkd: note: {hint}");
        }
    }
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print!("{}", summary_text(&summary));
    }
    Ok(())
}

/// The summary as `train` prints it: a line on how the run ended, then one
/// `name value` line per number.
pub fn summary_text(s: &TrainSummary) -> String {
    let mut out = format!("training {}\n", ending_line(s));
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    if let Some(e) = s.model_epoch.filter(|e| *e != s.epochs) {
        line(format!(
            "model           epoch {e} (best validation RMSE, restored)"
        ));
    }
    line(format!("train rmse      {:.4}", s.train_rmse));
    if let Some(v) = s.validation_rmse {
        line(format!(
            "valid rmse      {v:.4} ({} held-out train ratings)",
            s.validation_ratings
        ));
    }
    line(match s.test_rmse {
        Some(t) => format!("test rmse       {t:.4}"),
        None => "test rmse       - (no test split)".to_string(),
    });
    if let Some(floor) = s.noise_floor {
        line(format!("noise floor     {floor:.4}"));
    }
    line(format!(
        "updates/s       {:.1} M by the clock over {:.1} s of epochs ({}, {}); {:.1} M inside the training windows",
        s.updates_per_sec / 1e6,
        s.training_seconds,
        threads(s.threads),
        s.isa,
        s.window_updates_per_sec / 1e6
    ));
    line(format!("model hash      {}", s.model_hash));
    if let Some(path) = &s.checkpoint {
        line(format!("checkpoint      {}", path.display()));
    }
    out
}
