//! Compaction, a training round's second step: the served rating file
//! plus the ratings of closed ingest log segments → a new rating file
//! ([`crate::ratingfile::extend`], streaming), ready for a warm-started
//! run. `funkd compact` ([`crate::compact`]) runs it by hand.

use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use super::segments;
use crate::ratingfile::{extend, ExtraRating, RatingFile};

/// What a compaction did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CompactCounts {
    /// Ratings read from the log.
    pub log_ratings: u64,
    /// Log ratings of a pair already rated (in the data or earlier in the log).
    pub replaced: u64,
    /// Users the log introduced.
    pub new_users: usize,
    /// Items the log introduced.
    pub new_items: usize,
    /// Train ratings in the new file.
    pub train: u64,
    /// Test ratings in the new file.
    pub test: u64,
}

/// Writes `base` plus the ratings of segments `first..=last` of `dir`'s
/// ingest log to `out` (see the module documentation).
pub fn compact_segments(
    base: &RatingFile,
    dir: &Path,
    (first, last): (u64, u64),
    out: &Path,
) -> anyhow::Result<CompactCounts> {
    let log: Vec<ExtraRating> = if first <= last {
        segments::read_range(dir, first, last)?
            .into_iter()
            .map(|r| ExtraRating {
                user: r.user,
                item: r.item,
                value: r.value,
            })
            .collect()
    } else {
        Vec::new()
    };
    let source = format!("funkd compact of {}", base.path().display());
    let s = extend(base, &log, out, &source)
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(CompactCounts {
        log_ratings: s.extra,
        replaced: s.replaced,
        new_users: s.new_users,
        new_items: s.new_items,
        train: s.written.train,
        test: s.written.test,
    })
}
