//! `funkd import`: the options handed to [`import`] with the terminal's
//! reporter, and the summary it returns printed.

use std::fmt::Write as _;

use crate::commands::context::{print_summary, wrote_of};
use crate::import::{import, ImportArgs, ImportSummary};
use crate::report::Stderr;

/// Runs `funkd import`.
pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    let summary = import(&args, &Stderr::new(args.quiet))?;
    print_summary(args.json, &summary, &summary_text(&summary))
}

/// The summary as `import` prints it.
pub fn summary_text(summary: &ImportSummary) -> String {
    let mut out = format!("{}\n", wrote_of!(summary));
    let _ = writeln!(
        out,
        "duplicates (--duplicates {}): {} in train, {} in test{}",
        clap::ValueEnum::to_possible_value(&summary.duplicate_policy)
            .map_or_else(String::new, |v| v.get_name().to_string()),
        summary.duplicates.train,
        summary.duplicates.test,
        summary.probe_unknown.map_or(String::new(), |n| format!(
            "; probe lines not in training data: {n}"
        ))
    );
    out
}
