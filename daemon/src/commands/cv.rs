//! `funkd cv`: the options, checked into a [`CvConfig`], handed to
//! [`cross_validate`] with the terminal's reporter, and the report it
//! returns printed (as text, or as one JSON object). What is done is
//! described in [`crate::cv`].

use anyhow::Result;

use crate::commands::context::{choose_isa, open_data, print_json, thread_count, write_stdout};
use crate::cv::{cross_validate, CvConfig, WorkDir};
use crate::report::{Reporter, Stderr};
use crate::train::TrainArgs;
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
    reporter.note(&format!("cv: {}", work.describe()));
    let config = CvConfig {
        folds: args.folds,
        fold_seed: args.fold_seed,
        train: args.train,
        isa,
        threads,
    };
    let report = cross_validate(&data, &config, &work, &reporter)?;
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
