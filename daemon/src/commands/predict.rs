//! `funkd predict`: the model's prediction for (user, item) pairs given by
//! their original ids, one pair from the flags or many from a file or
//! stdin.
//!
//! Unknown ids are not errors here (a recommender is asked about new users
//! and new items all the time): they get a documented fallback, and every
//! prediction says where it came from:
//!
//! | user | item | biased model | plain model | `source` |
//! |---|---|---|---|---|
//! | known | known | μ + b_u + b_i + p·q | p·q | `model` |
//! | unknown | known | μ + b_i | mean train rating | `item_bias` / `global_mean` |
//! | known | unknown | μ + b_u | mean train rating | `user_bias` / `global_mean` |
//! | unknown | unknown | μ | mean train rating | `global_mean` |
//!
//! Predictions are clamped to the data's rating range when it has one
//! (`--no-clamp` turns that off).

use std::io::BufReader;
use std::path::PathBuf;

use anyhow::{Context, Result};
use funk_kernel::ModelKind;
use serde::Serialize;

use crate::commands::context::{clamp_range, print_json, write_stdout, ModelWithData};
use crate::input::pairs::{read_pairs, Pair};
use crate::model::Model;
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

/// Where a prediction came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Both ids known: the full model.
    Model,
    /// Unknown user, known item (biased model): μ + b_i.
    ItemBias,
    /// Known user, unknown item (biased model): μ + b_u.
    UserBias,
    /// Nothing to go on: μ (biased) or the mean train rating (plain).
    GlobalMean,
    /// A user row folded in from ratings taken in since training (`serve`).
    FoldIn,
}

impl Source {
    /// The name printed in text and JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Source::Model => "model",
            Source::ItemBias => "item_bias",
            Source::UserBias => "user_bias",
            Source::GlobalMean => "global_mean",
            Source::FoldIn => "fold_in",
        }
    }
}

/// A prediction and where it came from.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Prediction {
    /// The predicted rating (clamped when a range was given).
    pub value: f32,
    /// Which rule produced it.
    pub source: Source,
}

/// The prediction for internal ids that may be unknown (`None`), with the
/// fallbacks in the module documentation. `data_mean` is the mean train
/// rating (the plain model's only fallback).
pub fn predict_with_fallback(
    model: &Model,
    data_mean: f32,
    user: Option<usize>,
    item: Option<usize>,
    range: Option<(f32, f32)>,
) -> Prediction {
    let (value, source) = match (model.kind, user, item) {
        (_, Some(u), Some(i)) => (model.predict(u, i), Source::Model),
        (ModelKind::Biased, None, Some(i)) => (model.mu + model.item_bias[i], Source::ItemBias),
        (ModelKind::Biased, Some(u), None) => (model.mu + model.user_bias[u], Source::UserBias),
        (ModelKind::Biased, None, None) => (model.mu, Source::GlobalMean),
        (ModelKind::Plain, _, _) => (data_mean, Source::GlobalMean),
    };
    Prediction {
        value: funk_kernel::clamp(value, range),
        source,
    }
}

#[derive(Serialize)]
struct PairOutput<'a> {
    user: &'a str,
    item: &'a str,
    prediction: f32,
    source: Source,
}

#[derive(Serialize)]
struct Report<'a> {
    model: String,
    epoch: u32,
    clamp: Option<(f32, f32)>,
    count: usize,
    fallbacks: usize,
    predictions: Vec<PairOutput<'a>>,
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
    let ModelWithData { data, loaded } = ModelWithData::open(&args.model, args.data.as_deref())?;
    let range = clamp_range(&data, args.no_clamp);
    let (users, items) = (data.user_index(), data.item_index());
    let data_mean = data.mean() as f32;
    let predictions: Vec<PairOutput> = pairs
        .iter()
        .map(|pair| {
            let p = predict_with_fallback(
                &loaded.model,
                data_mean,
                users.get(&pair.user),
                items.get(&pair.item),
                range,
            );
            PairOutput {
                user: &pair.user,
                item: &pair.item,
                prediction: p.value,
                source: p.source,
            }
        })
        .collect();
    let fallbacks = predictions
        .iter()
        .filter(|p| p.source != Source::Model)
        .count();
    if args.json {
        return print_json(&Report {
            model: loaded.path.display().to_string(),
            epoch: loaded.epoch,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn model(kind: ModelKind) -> Model {
        let k = 16;
        let mut user_factors = vec![0.0; 2 * k];
        let mut item_factors = vec![0.0; 2 * k];
        user_factors[0] = 1.0;
        user_factors[1] = 2.0;
        item_factors[0] = 0.5;
        item_factors[1] = 0.25;
        Model {
            kind,
            rank: 2,
            k,
            mu: 3.0,
            user_factors,
            item_factors,
            user_bias: vec![0.5, -0.5],
            item_bias: vec![0.25, -1.0],
        }
    }

    #[test]
    fn known_pairs_use_the_model() {
        let m = model(ModelKind::Biased);
        let p = predict_with_fallback(&m, 2.0, Some(0), Some(0), None);
        assert_eq!(
            p,
            Prediction {
                value: 3.0 + 0.5 + 0.25 + 1.0,
                source: Source::Model
            }
        );
    }

    #[test]
    fn unknown_ids_fall_back_as_documented() {
        let m = model(ModelKind::Biased);
        let p = predict_with_fallback(&m, 2.0, None, Some(1), None);
        assert_eq!(
            p,
            Prediction {
                value: 2.0,
                source: Source::ItemBias
            }
        );
        let p = predict_with_fallback(&m, 2.0, Some(1), None, None);
        assert_eq!(
            p,
            Prediction {
                value: 2.5,
                source: Source::UserBias
            }
        );
        let p = predict_with_fallback(&m, 2.0, None, None, None);
        assert_eq!(
            p,
            Prediction {
                value: 3.0,
                source: Source::GlobalMean
            }
        );
        let plain = model(ModelKind::Plain);
        let p = predict_with_fallback(&plain, 2.0, None, Some(0), None);
        assert_eq!(
            p,
            Prediction {
                value: 2.0,
                source: Source::GlobalMean
            }
        );
        let p = predict_with_fallback(&plain, 2.0, Some(0), Some(0), None);
        assert_eq!(
            p,
            Prediction {
                value: 1.0,
                source: Source::Model
            }
        );
    }

    #[test]
    fn predictions_and_fallbacks_are_clamped() {
        let m = model(ModelKind::Biased);
        let p = predict_with_fallback(&m, 2.0, Some(0), Some(0), Some((1.0, 4.5)));
        assert_eq!(p.value, 4.5);
        let p = predict_with_fallback(&m, 2.0, None, Some(1), Some((2.5, 5.0)));
        assert_eq!(p.value, 2.5);
    }
}
