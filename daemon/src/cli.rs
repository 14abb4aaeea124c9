//! The command line: clap derive structs for every subcommand. Each
//! subcommand's options live next to its code; this module only lists them.
//! The one command that sits above the service, `funkd compact`, prints
//! here ([`compact`]): the commands' layer lies below the service's.

use std::any::TypeId;
use std::str::FromStr;
use std::sync::Arc;

use clap::{Arg, Command as ClapCommand, Parser, Subcommand};

use crate::commands;
use crate::report::Stderr;

pub mod compact;

/// funkd — learn low-rank models of huge sparse rating matrices (Simon
/// Funk's stochastic "SVD"), fast, deterministic and crash-safe.
#[derive(Debug, Parser)]
#[command(
    name = "funkd",
    version,

    max_term_width = 100,
    after_help = AFTER_HELP,
    mut_subcommands(negative_numbers_are_values)
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

const AFTER_HELP: &str = "\
A typical session:
  funkd demo                                         # the whole pipeline on a small synthetic set
  funkd gen --scale 0.01 -o small.funk               # synthetic Netflix-shaped data
  funkd import -f movielens --train u1.base --test u1.test -o u1.funk
  funkd train --data small.funk --checkpoint-dir run/    # Ctrl-C checkpoints; run again to resume
  funkd eval --data small.funk --model run/
  funkd recommend --data small.funk --model run/ --user 42
  funkd serve --dir run/                             # the HTTP API, on 127.0.0.1:8080

Every command that reports numbers takes --json and then prints exactly one JSON object on
stdout. Exit codes: 0 ok, 1 runtime error, 2 usage error. `funkd <command> --help` for more.";

/// Every flag that takes a value takes a negative number as its value, so
/// that `--learning-rate -1` reaches the flag's range check (and its
/// message) instead of being read as an unknown flag `-1`.
/// Counts (`usize`, `u64` flags) say that a negative number is out of
/// their range rather than "invalid digit".
fn negative_numbers_are_values(command: ClapCommand) -> ClapCommand {
    command.mut_args(|arg| {
        if arg.get_action().takes_values() {
            whole_numbers_say_so(arg.allow_negative_numbers(true))
        } else {
            arg
        }
    })
}

fn whole_numbers_say_so(arg: Arg) -> Arg {
    let kind = arg.get_value_parser().type_id();
    if kind == TypeId::of::<usize>() {
        arg.value_parser(whole::<usize>)
    } else if kind == TypeId::of::<u64>() {
        arg.value_parser(whole::<u64>)
    } else {
        arg
    }
}

/// Parses a whole number ≥ 0, saying which of the two a value is not.
fn whole<T: FromStr>(text: &str) -> Result<T, String> {
    text.trim()
        .parse()
        .map_err(|_| match text.trim().parse::<f64>() {
            Ok(x) if x < 0.0 => format!("{text} is out of range: a whole number ≥ 0 is expected"),
            _ => format!("{text} is not a whole number ≥ 0"),
        })
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate, train and evaluate a small synthetic set: the first thing to run.
    Demo(commands::demo::DemoArgs),
    /// Generate synthetic Netflix-shaped (or dense) data with a known noise floor.
    Gen(crate::gen::GenArgs),
    /// Import Netflix Prize, MovieLens, CSV/TSV or LIBMF text into a rating file.
    Import(crate::import::ImportArgs),
    /// Show what is in a rating file or checkpoint (counts, grid, balance, checksums).
    Inspect(commands::inspect::InspectArgs),
    /// Train (or resume) a model from a rating file into a checkpoint directory.
    Train(crate::train::TrainArgs),
    /// Serve the newest model of a checkpoint directory over HTTP (predict, recommend, fold-in).
    Serve(crate::serve::ServeArgs),
    /// A served directory's rating file plus its ingest log → a new rating file.
    Compact(crate::compact::CompactArgs),
    /// RMSE and MAE of a model on the test split.
    Eval(commands::eval::EvalArgs),
    /// Predict ratings for (user, item) pairs given by their original ids.
    Predict(commands::predict::PredictArgs),
    /// The top-N items for a user.
    Recommend(commands::recommend::RecommendArgs),
    /// Recover singular values (and vectors) of the rating matrix from the factors.
    Svd(commands::svd::SvdArgs),
    /// Write factors and biases as .npy, CSV or LIBMF model text.
    Export(commands::export::ExportArgs),
    /// Compare the analytic gradient with a central-difference quotient.
    Gradcheck(commands::gradcheck::GradcheckArgs),
    /// k-fold cross-validation over all ratings.
    Cv(commands::cv::CvArgs),
    /// Search rank, learning rate and λ by cross-validation of the train split only.
    Tune(commands::tune::TuneArgs),
}

impl Cli {
    /// Runs the chosen subcommand.
    pub fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Demo(a) => commands::demo::run(a),
            Command::Gen(a) => commands::gen::run(a),
            Command::Import(a) => commands::import::run(a),
            Command::Inspect(a) => commands::inspect::run(a),
            Command::Train(a) => commands::train::run(a),
            Command::Serve(a) => {
                crate::serve::run(a, crate::serve::Log::new(Arc::new(Stderr::new(false))))
            }
            Command::Compact(a) => compact::run(a),
            Command::Eval(a) => commands::eval::run(a),
            Command::Predict(a) => commands::predict::run(a),
            Command::Recommend(a) => commands::recommend::run(a),
            Command::Svd(a) => commands::svd::run(a),
            Command::Export(a) => commands::export::run(a),
            Command::Gradcheck(a) => commands::gradcheck::run(a),
            Command::Cv(a) => commands::cv::run(a),
            Command::Tune(a) => commands::tune::run(a),
        }
    }
}
