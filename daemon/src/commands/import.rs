//! `funkd import`: the options handed to [`import`] with the terminal's
//! reporter, and the summary it returns printed.

use std::fmt::Write as _;

use crate::import::{import, ImportArgs, ImportSummary};
use crate::report::Stderr;

/// Runs `funkd import`.
pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    let summary = import(&args, &Stderr::new(args.quiet))?;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print!("{}", summary_text(&summary));
    }
    Ok(())
}

/// The summary as `import` prints it.
pub fn summary_text(summary: &ImportSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "wrote {}: {} users × {} items, {} train + {} test ratings, grid {}, {:.1} MB in {:.1} s",
        summary.path.display(),
        summary.users,
        summary.items,
        summary.train,
        summary.test,
        summary.grid,
        summary.bytes as f64 / 1e6,
        summary.seconds
    );
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
