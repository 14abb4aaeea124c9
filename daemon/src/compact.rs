//! Compaction: a served directory's rating file plus the ratings its
//! ingest log took in → a new rating file, ready for a warm-started
//! training round. The service's training rounds do this themselves
//! ([`crate::serve::round`]); `funkd compact` ([`crate::cli::compact`],
//! which prints what [`compact`] returns) does it by hand.
//!
//! The new file holds every user and item of the old one (its id maps
//! extend the old ones, matched by original id), the users and items the
//! log introduced, the old train ratings, and the log's ratings as train
//! ratings. A (user, item) pair rated again in the log takes the log's
//! latest value. The test split is the old file's. Compacting the same
//! base and segments twice gives the same file, byte for byte, so a round
//! that is interrupted and run again never counts a rating twice.
//!
//! The old file is streamed through its memory map and the new one
//! written in place ([`crate::serve::compaction`]): only the log's
//! ratings and per-user and per-item tables are held in memory.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::commands::context::resolve_data;
use crate::ratingfile::RatingFile;
pub use crate::serve::compaction::{compact_segments, CompactCounts};
use crate::serve::manifest::{resolved, Manifest};
use crate::serve::segments;
use crate::usage_bail;

/// Options of `funkd compact`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_long_help = "\
What is compacted: the rating file the directory serves (the one its last training round
published, else the one `funkd train` recorded in DIR/status.json, or --data) plus every ingest
log segment not yet applied to it (DIR/ingest-NNNNNNNN.log).

A service started with --intake runs these rounds itself (see `funkd serve --help`); by hand:
  funkd compact --dir run --out ratings-2.funk
  funkd train --data ratings-2.funk --checkpoint-dir run-2 --warm-start run --epochs 5 --validation 0
  funkd serve --dir run-2 …

The log is only read: a service may keep writing it meanwhile (the ratings it takes in after the
read are not in the new file).")]
pub struct CompactArgs {
    /// The served directory (holds the ingest log and the checkpoints).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The rating file the directory's model was trained on [default: the
    /// one the last round published, else the one recorded in DIR/status.json].
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// The new rating file to write (atomically).
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Compacts `dir`'s data and every segment not yet applied into `out`.
pub fn compact(dir: &Path, data: Option<&Path>, out: &Path) -> anyhow::Result<CompactCounts> {
    let manifest = Manifest::read(dir)?;
    let data_path = match (data, &manifest) {
        (Some(path), _) => path.to_path_buf(),
        (None, Some(m)) => resolved(dir, &m.data),
        (None, None) => resolve_data(dir, None)?,
    };
    if out == data_path {
        usage_bail!(
            "--out {} is the rating file being compacted: write a new file",
            out.display()
        );
    }
    let base = RatingFile::open(&data_path)
        .with_context(|| format!("cannot open the rating file {}", data_path.display()))?;
    let applied = manifest.as_ref().map_or(0, |m| m.applied_through);
    let mut numbers: Vec<u64> = segments::list(dir)?
        .into_iter()
        .map(|(n, _)| n)
        .filter(|&n| n > applied)
        .collect();
    if numbers.is_empty() {
        if dir.join(segments::LEGACY_LOG_FILE_NAME).exists() {
            usage_bail!(
                "{} holds an ingest log of an older build ({}): start `funkd serve --intake` on it once \
                 to take it over, then compact",
                dir.display(),
                segments::LEGACY_LOG_FILE_NAME
            );
        }
        usage_bail!(
            "{} has no ingest log to compact (start `funkd serve --intake` on it)",
            dir.display()
        );
    }
    numbers.sort_unstable();
    let (first, last) = (numbers[0], numbers[numbers.len() - 1]);
    compact_segments(&base, dir, (first, last), out)
}
