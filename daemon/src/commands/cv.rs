//! `funkd cv`: k-fold cross-validation over all ratings of a rating file
//! (train and test split together), the protocol Surprise and LIBMF users
//! compare with.
//!
//! The ratings are shuffled with `--fold-seed` and dealt round-robin into
//! `--folds` folds of equal size (±1). For each fold f, a rating file with
//! fold f as its test split and the others as its train split is written
//! to `DIR/fold-f.funk`, a model is trained on it into `DIR/fold-f/` with
//! the `train` flags given (the same flags as `funkd train`; `DIR` is
//! `--checkpoint-dir`), and its test RMSE and MAE are measured (predictions
//! clamped to the rating range). Every fold file is written the same way
//! from the same data and seed, so rerunning an interrupted `cv` resumes
//! each fold's training from its checkpoints.

use anyhow::{Context, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;

use crate::commands::context::{
    choose_isa, load_checked_model, open_data, print_json, thread_count, write_stdout,
};
use crate::commands::workdir::WorkDir;
use crate::eval::{evaluate, Split, SplitError};
use crate::ratingfile::{self, RatingFile, RatingSet, Triple, WriteOptions};
use crate::report::{Reporter, Stderr};
use crate::train::{train, TrainArgs, TrainConfig};
use crate::usage_bail;

/// Options of `funkd cv`: the folds, and every flag of `funkd train`.
#[derive(Debug, clap::Args)]
#[command(
    after_long_help = "DIR (--checkpoint-dir; without it, a temporary directory removed at the \
end) receives fold-F.funk, the rating file of \
fold F (fold F as its test split, the other folds as its train split), and fold-F/, that fold's \
checkpoints. Rerunning the same command resumes every unfinished fold from its checkpoints; a \
fold whose training already ended is only evaluated again.\n\nThe fold files are written from the \
same data and seeds each time, so they are identical on every run. Reported: each fold's test \
RMSE and MAE (predictions clamped to the rating range), and their mean and sample standard \
deviation over the folds.",
    mut_arg("checkpoint_dir", |arg| arg.required(false).help(
        "Directory for the fold files and each fold's checkpoints, kept afterwards (rerunning \
         resumes them) [default: a temporary directory, removed at the end]"
    ))
)]
pub struct CvArgs {
    /// Number of folds, at least 2.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Seed of the shuffle that deals ratings into folds.
    #[arg(long, default_value_t = 1)]
    pub fold_seed: u64,
    /// Training options, as for `funkd train`; --checkpoint-dir is the
    /// directory for the fold files and each fold's checkpoints, kept
    /// afterwards [default: a temporary directory, removed at the end].
    #[command(flatten)]
    pub train: TrainArgs,
}

/// One fold's result.
#[derive(Clone, Debug, Serialize)]
pub struct FoldResult {
    /// 1-based fold number.
    pub fold: usize,
    /// Ratings trained on.
    pub train_ratings: u64,
    /// Test RMSE and MAE (clamped predictions).
    pub test: SplitError,
    /// Train RMSE of the last epoch, as training reported it.
    pub train_rmse: f64,
    /// Epochs trained.
    pub epochs: u32,
    /// The fold's checkpoint directory (`null` when cv worked in a
    /// temporary directory, removed at the end).
    pub checkpoint_dir: Option<String>,
}

/// Mean and sample standard deviation over folds.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Spread {
    /// Mean over folds.
    pub mean: f64,
    /// Sample standard deviation over folds.
    pub std: f64,
}

impl Spread {
    /// The mean and sample standard deviation of `values`.
    pub fn of(values: impl Iterator<Item = f64> + Clone) -> Spread {
        let n = values.clone().count() as f64;
        let mean = values.clone().sum::<f64>() / n;
        let var = values.map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0).max(1.0);
        Spread {
            mean,
            std: var.sqrt(),
        }
    }
}

/// What `cv` found, as printed by `--json`.
#[derive(Clone, Debug, Serialize)]
pub struct CvReport {
    /// The rating file.
    pub data: String,
    /// Number of folds.
    pub folds: usize,
    /// All ratings (train + test of the data file).
    pub ratings: u64,
    /// Per-fold results.
    pub per_fold: Vec<FoldResult>,
    /// RMSE over folds.
    pub rmse: Spread,
    /// MAE over folds.
    pub mae: Spread,
}

/// Deals the ratings of `set` (train and test together) into `folds`
/// folds: a seeded shuffle, then round-robin. Returns the folds' ratings.
pub fn deal_folds(set: &RatingSet, folds: usize, seed: u64) -> Vec<Vec<Triple>> {
    let mut all: Vec<Triple> = set.train.iter().chain(&set.test).copied().collect();
    all.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(seed));
    let mut dealt: Vec<Vec<Triple>> = (0..folds)
        .map(|_| Vec::with_capacity(all.len() / folds + 1))
        .collect();
    for (j, t) in all.into_iter().enumerate() {
        dealt[j % folds].push(t);
    }
    dealt
}

/// The rating set of fold `f`: fold `f` as the test split, the rest as
/// the train split, the same ids and rating range.
pub fn fold_set(set: &RatingSet, dealt: &[Vec<Triple>], f: usize) -> RatingSet {
    let train = dealt
        .iter()
        .enumerate()
        .filter(|&(g, _)| g != f)
        .flat_map(|(_, fold)| fold.iter().copied())
        .collect();
    RatingSet {
        user_ids: set.user_ids.clone(),
        item_ids: set.item_ids.clone(),
        train,
        test: dealt[f].clone(),
        meta: ratingfile::Meta {
            rating_range: set.meta.rating_range,
            noise_floor: None,
            mean_rmse: None,
            source: format!("fold {} of {} of: {}", f + 1, dealt.len(), set.meta.source),
        },
    }
}

/// Runs `funkd cv`.
pub fn run(args: CvArgs) -> Result<()> {
    let json = args.train.json;
    let quiet = args.train.quiet;
    let isa = choose_isa(args.train.isa.as_deref())?;
    let threads = thread_count(args.train.threads)?;
    let data = open_data(&args.train.data)?;
    let total = data.train_count() + data.test_count();
    if args.folds < 2 || args.folds as u64 > total {
        usage_bail!(
            "--folds must be between 2 and the number of ratings ({total}), not {}",
            args.folds
        );
    }
    let reporter = Stderr::new(quiet);
    if let (true, Some(dir)) = (args.train.fresh, &args.train.checkpoint_dir) {
        crate::train::fresh::start_over(dir, &reporter)?;
    }
    let work = WorkDir::given_or_temporary(args.train.checkpoint_dir.as_deref(), "cv")?;
    if !quiet {
        eprintln!("funkd: cv: {}", work.describe());
    }
    data.check_all_blocks()?;
    let set = data.to_rating_set();
    let dealt = deal_folds(&set, args.folds, args.fold_seed);
    let mut per_fold = Vec::with_capacity(args.folds);
    for f in 0..args.folds {
        let result = run_fold(&args, &set, &dealt, f, &work, (threads, isa), &reporter)
            .with_context(|| format!("fold {} of {}", f + 1, args.folds))?;
        if !quiet {
            eprintln!(
                "funkd: fold {}/{}: test RMSE {:.6}  MAE {:.6}  ({} ratings)",
                f + 1,
                args.folds,
                result.test.rmse,
                result.test.mae,
                result.test.count
            );
        }
        per_fold.push(result);
    }
    let report = CvReport {
        data: data.path().display().to_string(),
        folds: args.folds,
        ratings: total,
        rmse: Spread::of(per_fold.iter().map(|r| r.test.rmse)),
        mae: Spread::of(per_fold.iter().map(|r| r.test.mae)),
        per_fold,
    };
    if json {
        return print_json(&report);
    }
    write_stdout(|out| {
        writeln!(
            out,
            "{}-fold cross-validation of {} ({} ratings)",
            report.folds, report.data, report.ratings
        )?;
        writeln!(out, "fold      RMSE       MAE   test ratings")?;
        for r in &report.per_fold {
            writeln!(
                out,
                "{:>4}  {:.6}  {:.6}  {:>12}",
                r.fold, r.test.rmse, r.test.mae, r.test.count
            )?;
        }
        writeln!(
            out,
            "mean  {:.6}  {:.6}   (std {:.6} / {:.6})",
            report.rmse.mean, report.mae.mean, report.rmse.std, report.mae.std
        )
    })
}

fn run_fold(
    args: &CvArgs,
    set: &RatingSet,
    dealt: &[Vec<Triple>],
    f: usize,
    work: &WorkDir,
    (threads, isa): (usize, funk_kernel::Isa),
    reporter: &dyn Reporter,
) -> Result<FoldResult> {
    let (dir, temporary) = (work.path(), work.is_temporary());
    let fold_file = dir.join(format!("fold-{}.funk", f + 1));
    let fold_dir = dir.join(format!("fold-{}", f + 1));
    let options = WriteOptions {
        grid: None,
        seed: args.fold_seed.wrapping_add(f as u64),
    };
    let fold = fold_set(set, dealt, f);
    // Identical bytes when rerun: a resumed fold finds its own data file.
    ratingfile::write(&fold_file, &fold, &options)?;
    drop(fold);
    let fold_data: RatingFile = open_data(&fold_file)?;
    let mut fold_args = args.train.clone();
    fold_args.data = fold_file.clone();
    fold_args.checkpoint_dir = Some(fold_dir.clone());
    let mut config = TrainConfig::from_args(&fold_args, &fold_data)?;
    config.handle_signals = false;
    let summary = train(&fold_data, &config, &fold_dir, reporter)?;
    let loaded = load_checked_model(&fold_dir, reporter)?;
    let clamp = fold_data.rating_range();
    let loss = evaluate(
        &fold_data,
        &loaded.model,
        &[Split::Test],
        clamp,
        isa,
        threads,
    )?;
    Ok(FoldResult {
        fold: f + 1,
        train_ratings: fold_data.train_count(),
        test: loss[0].into(),
        train_rmse: summary.train_rmse,
        epochs: summary.epochs,
        checkpoint_dir: (!temporary).then(|| fold_dir.display().to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(n: u32) -> RatingSet {
        RatingSet {
            user_ids: (0..n).map(|u| format!("u{u}")).collect(),
            item_ids: vec!["i".into()],
            train: (0..n - 3)
                .map(|u| Triple {
                    user: u,
                    item: 0,
                    value: u as f32,
                })
                .collect(),
            test: (n - 3..n)
                .map(|u| Triple {
                    user: u,
                    item: 0,
                    value: u as f32,
                })
                .collect(),
            meta: Default::default(),
        }
    }

    #[test]
    fn folds_partition_all_ratings_evenly() {
        let s = set(23);
        let dealt = deal_folds(&s, 5, 7);
        let sizes: Vec<usize> = dealt.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![5, 5, 5, 4, 4]);
        let mut users: Vec<u32> = dealt.iter().flatten().map(|t| t.user).collect();
        users.sort_unstable();
        assert_eq!(users, (0..23).collect::<Vec<_>>());
        assert_eq!(deal_folds(&s, 5, 7)[2], dealt[2], "same seed, same folds");
        assert_ne!(
            deal_folds(&s, 5, 8)[0],
            dealt[0],
            "another seed, other folds"
        );
    }

    #[test]
    fn a_fold_set_tests_on_its_fold_and_trains_on_the_rest() {
        let s = set(10);
        let dealt = deal_folds(&s, 3, 1);
        let f = fold_set(&s, &dealt, 1);
        assert_eq!(f.test, dealt[1]);
        assert_eq!(f.train.len() + f.test.len(), 10);
        assert!(f.train.iter().all(|t| !f.test.contains(t)));
    }

    #[test]
    fn spread_is_mean_and_sample_std() {
        let s = Spread::of([1.0, 2.0, 3.0].into_iter());
        assert_eq!(s.mean, 2.0);
        assert!((s.std - 1.0).abs() < 1e-12);
    }
}
