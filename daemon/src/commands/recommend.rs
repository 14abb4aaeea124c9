//! `funkd recommend`: the options, checked into a [`RecommendConfig`]
//! (the user's original id found in the data), handed to [`recommend`],
//! and the items it returns printed by their original ids (and, with
//! `--titles`, by name).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use crate::commands::context::{choose_isa, clamp_range, print_json, write_stdout, ModelWithData};
use crate::input::titles::Titles;
use crate::report::Stderr;
use crate::trained::recommend::{recommend, RecommendConfig};
use crate::usage_bail;

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
    /// Seconds spent checking the blocks of the user's band (their
    /// checksums and records): once per process, before the first lookup
    /// in a band; not a per-query cost (a service pays it at load).
    pub check_seconds: f64,
    /// Seconds spent packing the item factors for scoring: once per
    /// model, not a per-query cost (a service packs them at load).
    pub pack_seconds: f64,
    /// Seconds spent finding the items the user rated (blocks already
    /// checked).
    pub lookup_seconds: f64,
    /// Seconds spent scoring every item and selecting the top N.
    pub score_seconds: f64,
    /// The recommendations, best first.
    pub items: Vec<Recommendation>,
}

/// Runs `funkd recommend`.
pub fn run(args: RecommendArgs) -> Result<()> {
    let isa = choose_isa(args.isa.as_deref())?;
    let titles = match &args.titles {
        Some(path) => Some(Titles::load(path)?),
        None => None,
    };
    let trained = ModelWithData::open(&args.model, args.data.as_deref(), &Stderr::new(false))?;
    let data = &trained.data;
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
    let found = recommend(
        &trained,
        &RecommendConfig {
            user,
            top: args.top as usize,
            include_rated: args.include_rated,
            isa,
        },
    )?;
    let range = clamp_range(data, false);
    let items: Vec<Recommendation> = found
        .top
        .iter()
        .enumerate()
        .map(|(position, s)| {
            let id = data.item_id(s.item);
            Recommendation {
                rank: position + 1,
                item: id.to_owned(),
                score: s.score,
                prediction: funk_kernel::clamp(s.score, range),
                title: titles.as_ref().and_then(|t| t.get(id)).map(str::to_owned),
            }
        })
        .collect();
    let report = RecommendReport {
        user: args.user.clone(),
        items_scored: found.items_scored,
        excluded: found.excluded,
        isa: isa.name(),
        check_seconds: found.check_seconds,
        pack_seconds: found.pack_seconds,
        lookup_seconds: found.lookup_seconds,
        score_seconds: found.score_seconds,
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
