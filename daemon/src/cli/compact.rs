//! `funkd compact`: the options handed to [`crate::compact::compact`], and
//! the counts it returns printed: one line of text, or with `--json` one
//! JSON object on one line.

use std::io::Write;

use anyhow::Result;

use crate::commands::context::write_stdout;
use crate::compact::{compact, CompactArgs, CompactCounts};

/// Runs `funkd compact`.
pub fn run(args: CompactArgs) -> Result<()> {
    let counts = compact(&args.dir, args.data.as_deref(), &args.out)?;
    if args.json {
        let text = serde_json::to_string(&counts)?;
        return write_stdout(|out| writeln!(out, "{text}"));
    }
    write_stdout(|out| print_text(out, &args, &counts))
}

fn print_text(
    out: &mut dyn Write,
    args: &CompactArgs,
    counts: &CompactCounts,
) -> std::io::Result<()> {
    writeln!(
        out,
        "wrote {}: {} train + {} test ratings; from the log {} ratings ({} replacing earlier ones), {} new users, {} new items",
        args.out.display(),
        counts.train,
        counts.test,
        counts.log_ratings,
        counts.replaced,
        counts.new_users,
        counts.new_items
    )
}
