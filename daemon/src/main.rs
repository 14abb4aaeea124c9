//! The `funkd` binary: parse, run, print the error chain once, exit 0/1/2.

use clap::Parser;

fn main() {
    let cli = funkd::cli::Cli::parse();
    if let Err(err) = cli.run() {
        eprintln!("funkd: error: {}", funkd::error::render(&err));
        std::process::exit(funkd::error::exit_code(&err));
    }
}
