//! `funkd recommend`: the top-N items for one user, scored by the model
//! with the kernel's SIMD dot product over every item.
//!
//! The items the user already rated in the data file (train and test
//! split) are left out unless `--include-rated` is given; with `--titles`
//! the items are shown by name.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use funk_kernel::{FactorRow, Isa, ModelKind};
use serde::Serialize;

use crate::commands::context::{
    choose_isa, clamp, clamp_range, print_json, write_stdout, ModelWithData,
};
use crate::commands::topn::{top_n_by, Scored};
use crate::input::titles::Titles;
use crate::model::Model;
use crate::ratingfile::{FormatError, RatingFile};
use crate::{usage_bail, with_k};

/// Options of `funkd recommend`.
#[derive(Debug, clap::Args)]
pub struct RecommendArgs {
    /// The rating file the model was trained on: id maps, and what the user rated
    /// [default: the data file the checkpoint directory was trained on, from its status.json].
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// A checkpoint file, or a checkpoint directory (its newest good checkpoint).
    #[arg(long, value_name = "DIR|CHECKPOINT")]
    pub model: PathBuf,
    /// The user's original id.
    #[arg(long)]
    pub user: String,
    /// How many items to recommend.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub top: u32,
    /// Also recommend items the user already rated.
    #[arg(long)]
    pub include_rated: bool,
    /// Item titles: MovieLens u.item / movies.dat / movies.csv or Netflix movie_titles.txt.
    #[arg(long, value_name = "FILE")]
    pub titles: Option<PathBuf>,
    /// Instruction set for the dot products (default: the best this CPU has).
    #[arg(long, value_name = "NAME")]
    pub isa: Option<String>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// One recommended item.
#[derive(Clone, Debug, Serialize)]
pub struct Recommendation {
    /// 1-based position.
    pub rank: usize,
    /// The item's original id.
    pub item: String,
    /// The model's raw score (what the ranking is by).
    pub score: f32,
    /// The score clamped to the data's rating range.
    pub prediction: f32,
    /// The item's title, when a titles file was given and lists it.
    pub title: Option<String>,
}

/// What `recommend` found, as printed by `--json`.
#[derive(Clone, Debug, Serialize)]
pub struct RecommendReport {
    /// The user's original id.
    pub user: String,
    /// Items scored (all items minus the excluded ones).
    pub items_scored: usize,
    /// Items left out because the user rated them.
    pub excluded: usize,
    /// The instruction set used.
    pub isa: &'static str,
    /// Seconds spent finding the items the user rated.
    pub lookup_seconds: f64,
    /// Seconds spent scoring every item and selecting the top N.
    pub score_seconds: f64,
    /// The recommendations, best first.
    pub items: Vec<Recommendation>,
}

/// Internal ids of the items internal user `user` rated in `data` (both
/// splits), as a mask over all items. Each block's records are sorted by
/// user, so the user's ratings are found by binary search. The user band's
/// blocks are checked first (see [`RatingFile::check_block`]): a damaged
/// file is refused.
pub fn rated_items(data: &RatingFile, user: usize) -> Result<Vec<bool>, FormatError> {
    let mut rated = vec![false; data.items()];
    let p = data.grid();
    let Some(ub) = (0..p).find(|&b| data.user_band(b).contains(&user)) else {
        return Ok(rated);
    };
    let local = (user - data.user_band(ub).start) as u32;
    for ib in 0..p {
        let start = data.item_band(ib).start;
        let blocks = [
            data.checked_train_records(ub, ib)?,
            data.checked_test_records(ub, ib)?,
        ];
        for block in blocks {
            let from = block.partition_point(|r| r.user < local);
            let to = block.partition_point(|r| r.user <= local);
            for r in block.get(from..to).unwrap_or(&[]) {
                if let Some(slot) = rated.get_mut(start + r.item as usize) {
                    *slot = true;
                }
            }
        }
    }
    Ok(rated)
}

/// Bytes of item rows copied into the aligned layout at a time: small
/// enough that the batch stays in L1 between its copy and its dot
/// products, large enough that the copies have landed before the dot
/// products read them.
const SCORE_BATCH_BYTES: usize = 8 << 10;

/// The `n` best items for internal user `user` (ties to the lower
/// internal id), every item scored with `isa`'s SIMD dot product. Item
/// rows go through a small aligned batch of [`FactorRow`]s on their way to
/// the dot product, which costs less than copying the whole item table
/// into the aligned layout first (no big allocation, no page faults, one
/// pass over the model's memory).
pub fn recommend_for(
    isa: Isa,
    model: &Model,
    user: usize,
    excluded: &[bool],
    n: usize,
) -> Vec<Scored> {
    with_k!(model.rank, K => {
        let mut p = FactorRow::<K>::zeroed();
        p.0.copy_from_slice(&model.user_factors[user * K..(user + 1) * K]);
        let (bias, offset): (&[f32], f32) = match model.kind {
            ModelKind::Biased => (&model.item_bias, model.mu + model.user_bias[user]),
            ModelKind::Plain => (&[], 0.0),
        };
        let batch_rows = (SCORE_BATCH_BYTES / (4 * K)).max(1);
        let mut batch = vec![FactorRow::<K>::zeroed(); batch_rows];
        let mut dots = Vec::with_capacity(model.items());
        for chunk in model.item_factors.chunks(batch_rows * K) {
            for (row, values) in batch.iter_mut().zip(chunk.chunks_exact(K)) {
                row.0.copy_from_slice(values);
            }
            dots.extend(batch[..chunk.len() / K].iter().map(|q| isa.dot(&p, q)));
        }
        top_n_by(dots.len(), excluded, n, |i| {
            offset + bias.get(i).copied().unwrap_or(0.0) + dots[i]
        })
    })
}

/// Runs `funkd recommend`.
pub fn run(args: RecommendArgs) -> Result<()> {
    let isa = choose_isa(args.isa.as_deref())?;
    let titles = match &args.titles {
        Some(path) => Some(Titles::load(path)?),
        None => None,
    };
    let ModelWithData { data, loaded } = ModelWithData::open(&args.model, args.data.as_deref())?;
    if let (Some(titles), Some(path)) = (&titles, &args.titles) {
        let ids = (0..data.items()).map(|i| data.item_id(i));
        if let Some(warning) = titles.mismatch_warning(ids, path, data.path()) {
            eprintln!("funkd: warning: {warning}");
        }
    }
    let Some(user) = data.user_index().get(&args.user) else {
        usage_bail!(
            "--user {}: no such user in {} (ids are the original ones of the imported data)",
            args.user,
            data.path().display()
        );
    };
    let model = &loaded.model;
    let started = Instant::now();
    let excluded = if args.include_rated {
        Vec::new()
    } else {
        rated_items(&data, user)?
    };
    let lookup = started.elapsed();
    let excluded_count = excluded.iter().filter(|&&e| e).count();
    let scoring = Instant::now();
    let top = recommend_for(isa, model, user, &excluded, args.top as usize);
    let score_seconds = scoring.elapsed().as_secs_f64();
    let range = clamp_range(&data, false);
    let items: Vec<Recommendation> = top
        .iter()
        .enumerate()
        .map(|(position, s)| {
            let id = data.item_id(s.item);
            Recommendation {
                rank: position + 1,
                item: id.to_owned(),
                score: s.score,
                prediction: clamp(s.score, range),
                title: titles.as_ref().and_then(|t| t.get(id)).map(str::to_owned),
            }
        })
        .collect();
    let report = RecommendReport {
        user: args.user.clone(),
        items_scored: model.items() - excluded_count,
        excluded: excluded_count,
        isa: isa.name(),
        lookup_seconds: lookup.as_secs_f64(),
        score_seconds,
        items,
    };
    if args.json {
        return print_json(&report);
    }
    write_stdout(|out| print_text(out, &report))
}

fn print_text(out: &mut dyn Write, report: &RecommendReport) -> std::io::Result<()> {
    writeln!(
        out,
        "top {} for user {} ({} items scored in {:.2} ms with {}, {} already rated left out)",
        report.items.len(),
        report.user,
        report.items_scored,
        report.score_seconds * 1e3,
        report.isa,
        report.excluded,
    )?;
    for r in &report.items {
        match &r.title {
            Some(title) => writeln!(
                out,
                "{:>4}  {:>8.4}  {:<10}  {title}",
                r.rank, r.prediction, r.item
            )?,
            None => writeln!(out, "{:>4}  {:>8.4}  {}", r.rank, r.prediction, r.item)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recommend_for_matches_model_predict_and_skips_exclusions() {
        let (users, items, rank, k) = (3, 20, 3, 16);
        let mut state = 12345u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        };
        let mut user_factors = vec![0.0; users * k];
        let mut item_factors = vec![0.0; items * k];
        for r in 0..users {
            for d in 0..rank {
                user_factors[r * k + d] = next();
            }
        }
        for r in 0..items {
            for d in 0..rank {
                item_factors[r * k + d] = next();
            }
        }
        let model = Model {
            kind: ModelKind::Biased,
            rank,
            k,
            mu: 3.5,
            user_factors,
            item_factors,
            user_bias: (0..users).map(|_| next()).collect(),
            item_bias: (0..items).map(|_| next()).collect(),
        };
        let mut excluded = vec![false; items];
        excluded[4] = true;
        let top = recommend_for(Isa::Scalar, &model, 1, &excluded, 5);
        let mut want: Vec<(usize, f32)> = (0..items)
            .filter(|&i| i != 4)
            .map(|i| (i, model.predict(1, i)))
            .collect();
        want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        assert_eq!(top.len(), 5);
        for (got, want) in top.iter().zip(&want) {
            assert_eq!(got.item, want.0);
            assert!((got.score - want.1).abs() < 1e-5);
        }
    }
}
