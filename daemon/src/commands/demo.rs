//! `funkd demo`: the first thing a newcomer runs. Generates a small
//! synthetic Netflix-shaped set with a known noise floor, trains the
//! default model on it with progress, compares the test RMSE with the noise
//! floor and with predicting the mean, shows a top-10 for one user, and
//! says where the data and the checkpoint went.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use crate::commands::context::{choose_isa, clamp_range};
use crate::gen::{generate_with, GenConfig};
use crate::ratingfile::RatingFile;
use crate::report::Stderr;
use crate::train::{train, TrainConfig, TrainSummary};
use crate::trained::recommend::{recommend, RecommendConfig};
use crate::trained::{load_checked_model, ModelWithData};

/// Options of `funkd demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Where to put the data and the checkpoints [default: $XDG_CACHE_HOME/funkd/demo,
    /// ~/.cache/funkd/demo, or a directory under the system's temporary directory].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Size of the synthetic set, as a fraction of Netflix's shape
    /// (0.05: 24,009 users × 889 items, about 5 M ratings).
    #[arg(long, value_name = "F", default_value_t = 0.05)]
    pub scale: f64,

    /// Epochs to train.
    #[arg(long, default_value_t = 20)]
    pub epochs: u32,

    /// Seed of the data and the model.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Print one JSON object on stdout instead of the report.
    #[arg(long)]
    pub json: bool,

    /// No progress output on stderr (the report still goes to stdout).
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// One recommended item.
#[derive(Debug, Clone, Serialize)]
pub struct Recommendation {
    /// The item's external id.
    pub item: String,
    /// The model's prediction, clamped to the rating range.
    pub score: f32,
}

/// What the demo reports with `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    /// The rating file generated.
    pub data: PathBuf,
    /// The checkpoint directory.
    pub checkpoint_dir: PathBuf,
    /// The training summary.
    pub train: TrainSummary,
    /// RMSE of the true model on the test split.
    pub noise_floor: Option<f64>,
    /// RMSE of predicting the train mean.
    pub mean_rmse: Option<f64>,
    /// test RMSE / noise floor.
    pub ratio_to_noise_floor: Option<f64>,
    /// The user the top-10 is for (external id).
    pub user: String,
    /// The ten items that user rated in neither split that the model
    /// scores highest, best first (what `funkd recommend` answers).
    pub top10: Vec<Recommendation>,
}

fn default_dir() -> PathBuf {
    if let Some(cache) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(cache).join("funkd").join("demo");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home)
            .join(".cache")
            .join("funkd")
            .join("demo");
    }
    std::env::temp_dir().join("funkd-demo")
}

/// Runs `funkd demo`.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let dir = args.dir.clone().unwrap_or_else(default_dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let data_path = dir.join(format!(
        "netflix-shaped-{}-seed{}.funk",
        args.scale, args.seed
    ));
    let checkpoint_dir = dir.join("checkpoints");
    let quiet = args.json || args.quiet;
    let reporter = Stderr::new(quiet);
    let say = |msg: String| {
        if !quiet {
            eprintln!("{msg}");
        }
    };

    let gen = GenConfig {
        scale: args.scale,
        seed: args.seed,
        ..GenConfig::default()
    };
    let (users, items, ratings) = gen.shape();
    say(format!(
        "funkd demo: generating a synthetic Netflix-shaped set ({users} users × {items} items, {ratings} ratings, true rank {}, noise σ {}) into {}",
        gen.rank,
        gen.noise,
        data_path.display()
    ));
    generate_with(&gen, &data_path, false, &reporter).context("cannot generate the demo data")?;
    let data = RatingFile::open(&data_path)
        .with_context(|| format!("cannot open the generated file {}", data_path.display()))?;

    // A fresh run every time: the demo's own checkpoint directory is emptied first.
    if checkpoint_dir.exists() {
        std::fs::remove_dir_all(&checkpoint_dir)
            .with_context(|| format!("cannot clear {}", checkpoint_dir.display()))?;
    }
    let mut config = TrainConfig::defaults_for(&data);
    config.epochs = args.epochs;
    config.seed = args.seed;
    config.handle_signals = true;
    config.validate()?;
    say(format!(
        "funkd demo: training the default model into {}",
        checkpoint_dir.display()
    ));
    let summary = train(&data, &config, &checkpoint_dir, &reporter)?;

    let trained = ModelWithData {
        loaded: load_checked_model(&checkpoint_dir, &reporter)?,
        data,
    };
    let user = 0usize;
    let top10 = top_unrated(&trained, user, 10)?;
    let ModelWithData { data, loaded } = trained;
    let report = DemoReport {
        data: data_path.clone(),
        checkpoint_dir: checkpoint_dir.clone(),
        noise_floor: data.noise_floor(),
        mean_rmse: data.mean_rmse(),
        ratio_to_noise_floor: summary
            .test_rmse
            .zip(data.noise_floor())
            .map(|(t, f)| t / f),
        user: data.user_id(user).to_string(),
        top10,
        train: summary,
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_report(&report, &loaded.path);
    }
    Ok(())
}

/// The `n` best-scoring items that `user` (internal id) rated in neither
/// split, best first, found as `funkd recommend` finds them.
fn top_unrated(
    trained: &ModelWithData,
    user: usize,
    n: usize,
) -> anyhow::Result<Vec<Recommendation>> {
    let config = RecommendConfig {
        user,
        top: n,
        include_rated: false,
        isa: choose_isa(None)?,
    };
    let range = clamp_range(&trained.data, false);
    Ok(recommend(trained, &config)?
        .top
        .into_iter()
        .map(|s| Recommendation {
            item: trained.data.item_id(s.item).to_string(),
            score: funk_kernel::clamp(s.score, range),
        })
        .collect())
}

fn print_report(r: &DemoReport, checkpoint: &Path) {
    let t = &r.train;
    println!();
    println!(
        "Trained {} epochs of a rank-{} biased model at {:.1} M updates/s ({}, {}).",
        t.epochs,
        t.rank,
        t.updates_per_sec / 1e6,
        crate::train::report::threads(t.threads),
        t.isa
    );
    match (t.test_rmse, r.noise_floor) {
        (Some(test), Some(floor)) => {
            println!("test RMSE        {test:.4}");
            println!("noise floor      {floor:.4}   (RMSE of the true model: no model can do better on average)");
            println!(
                "ratio            {:.3}    (1.000 = as good as the truth)",
                test / floor
            );
        }
        (Some(test), None) => println!("test RMSE        {test:.4}"),
        _ => println!("(no test split)"),
    }
    if let Some(mean) = r.mean_rmse {
        println!("predicting μ     {mean:.4}   (what a model that learned nothing would score)");
    }
    println!();
    println!("Top 10 unrated items for user {}:", r.user);
    for (rank, rec) in r.top10.iter().enumerate() {
        println!(
            "  {:>2}. item {:<10} predicted {:.2}",
            rank + 1,
            rec.item,
            rec.score
        );
    }
    println!();
    println!("data             {}", r.data.display());
    println!("checkpoint       {}", checkpoint.display());
    println!("model hash       {}", t.model_hash);
    println!();
    println!("Next: funkd inspect {}", checkpoint.display());
    println!("      funkd train --data {} --checkpoint-dir {} --epochs {}   (resumes and trains further)", r.data.display(), r.checkpoint_dir.display(), t.epochs + 10);
}
