//! `funkd predict`: the model's prediction for (user, item) pairs given by
//! their original ids, one pair from the flags or many from a file or
//! stdin.
//!
//! The pairs are handed to [`predict_pairs`] and its predictions printed.
//! Unknown ids are not errors here (a recommender is asked about new users
//! and new items all the time): they get the fallbacks of
//! [`predict_with_fallback`](crate::model::predict_with_fallback), and
//! every prediction says where it came from.
//!
//! Predictions are clamped to the data's rating range when it has one
//! (`--no-clamp` turns that off).

use std::io::BufReader;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::commands::context::{clamp_range, print_json, write_stdout, ModelWithData};
use crate::input::pairs::{read_pairs, Pair};
use crate::model::Source;
use crate::report::Stderr;
use crate::trained::predict::{predict_pairs, PairPrediction};
use crate::usage_bail;

/// Options of `funkd predict`.
#[derive(Debug, clap::Args)]
#[command(
    after_long_help = "Unknown ids get a fallback, never an error, and every prediction \
says where it came from (`source`): model (both ids known), item_bias (unknown user: μ + b_i), \
user_bias (unknown item: μ + b_u), global_mean (neither known: μ; the plain model's only \
fallback is the mean train rating). Predictions, fallbacks included, are clamped to the data's \
rating range unless --no-clamp is given.\n\nOutput: one `user<TAB>item<TAB>prediction<TAB>source` \
line per pair, in input order; --json prints {predictions, count, fallbacks, clamp, model, epoch}."
)]
pub struct PredictArgs {
    /// The rating file the model was trained on, for its id maps
    /// [default: the data file the checkpoint directory was trained on, from its status.json].
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// A checkpoint file, or a checkpoint directory (its newest good checkpoint).
    #[arg(long, value_name = "DIR|CHECKPOINT")]
    pub model: PathBuf,
    /// The user's original id.
    #[arg(long, requires = "item", conflicts_with = "pairs")]
    pub user: Option<String>,
    /// The item's original id.
    #[arg(long, requires = "user")]
    pub item: Option<String>,
    /// A file of `USER ITEM` lines (tab, comma or space separated; `-` reads stdin).
    #[arg(long, value_name = "FILE")]
    pub pairs: Option<PathBuf>,
    /// Do not clamp predictions to the data's rating range.
    #[arg(long)]
    pub no_clamp: bool,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    model: String,
    epoch: u32,
    clamp: Option<(f32, f32)>,
    count: usize,
    fallbacks: usize,
    predictions: Vec<PairPrediction<'a>>,
}

/// Runs `funkd predict`.
pub fn run(args: PredictArgs) -> Result<()> {
    let pairs = match (&args.user, &args.item, &args.pairs) {
        (Some(user), Some(item), None) => vec![Pair {
            user: user.clone(),
            item: item.clone(),
        }],
        (None, None, Some(path)) if path.as_os_str() == "-" => {
            read_pairs(std::io::stdin().lock(), "stdin")?
        }
        (None, None, Some(path)) => {
            let file = std::fs::File::open(path)
                .with_context(|| format!("cannot open pair list {}", path.display()))?;
            read_pairs(BufReader::new(file), &path.display().to_string())?
        }
        _ => usage_bail!("give --user and --item, or --pairs FILE (- for stdin)"),
    };
    let trained = ModelWithData::open(&args.model, args.data.as_deref(), &Stderr::new(false))?;
    let range = clamp_range(&trained.data, args.no_clamp);
    let predictions = predict_pairs(&trained, &pairs, range);
    let fallbacks = predictions
        .iter()
        .filter(|p| p.source != Source::Model)
        .count();
    if args.json {
        return print_json(&Report {
            model: trained.loaded.path.display().to_string(),
            epoch: trained.loaded.epoch,
            clamp: range,
            count: predictions.len(),
            fallbacks,
            predictions,
        });
    }
    write_stdout(|out| {
        for p in &predictions {
            let source = p.source.name();
            writeln!(out, "{}\t{}\t{}\t{source}", p.user, p.item, p.prediction)?;
        }
        Ok(())
    })?;
    if fallbacks > 0 {
        eprintln!(
            "funkd: {fallbacks} of {} pairs had an unknown user or item and got a fallback (see `source`)",
            predictions.len()
        );
    }
    Ok(())
}
