//! `funkd compact`: a served directory's rating file plus the ratings its
//! ingest log took in → a new rating file, ready for a warm-started
//! training round (`funkd train --warm-start`).
//!
//! The new file holds every user and item of the old one (its id maps
//! extend the old ones, matched by original id), the users and items the
//! log introduced, the old train ratings, and the log's ratings as train
//! ratings. A (user, item) pair rated again in the log takes the log's
//! latest value. The test split is the old file's. Compacting the same
//! base and log twice gives the same ratings, so a round that is
//! interrupted and run again never counts a rating twice.
//!
//! The rating file and the log are read whole into memory (the writer
//! needs the whole set to balance the blocks).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use crate::commands::context::resolve_data;
use crate::ratingfile::{self, RatingFile, RatingSet, Triple, WriteOptions};
use crate::serve::ingest_log::{scan, NewRating, LOG_FILE_NAME};
use crate::usage_bail;

/// Options of `funkd compact`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_long_help = "\
Example (a training round by hand, the service running with --intake on run/):
  funkd compact --dir run --out ratings-2.funk
  funkd train --data ratings-2.funk --checkpoint-dir run-2 --warm-start run --epochs 5
  funkd serve --dir run-2 …

The log is only read: a service may keep writing it meanwhile (the ratings it takes in after the
read are not in the new file).")]
pub struct CompactArgs {
    /// The served directory (holds ingest.log and the checkpoints).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The rating file the directory's model was trained on [default: the
    /// one recorded in DIR/status.json].
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// The new rating file to write (atomically).
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

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

/// The old data set plus the log's ratings (see the module documentation).
pub fn merge(base: &RatingFile, log: &[NewRating]) -> (RatingSet, CompactCounts) {
    let mut set = base.to_rating_set();
    let mut users: HashMap<String, u32> = set
        .user_ids
        .iter()
        .enumerate()
        .map(|(n, id)| (id.clone(), n as u32))
        .collect();
    let mut items: HashMap<String, u32> = set
        .item_ids
        .iter()
        .enumerate()
        .map(|(n, id)| (id.clone(), n as u32))
        .collect();
    let intern = |map: &mut HashMap<String, u32>, ids: &mut Vec<String>, id: &str| {
        *map.entry(id.to_owned()).or_insert_with(|| {
            ids.push(id.to_owned());
            (ids.len() - 1) as u32
        })
    };
    let (old_users, old_items) = (set.user_ids.len(), set.item_ids.len());
    let before = set.train.len();
    for r in log {
        let user = intern(&mut users, &mut set.user_ids, &r.user);
        let item = intern(&mut items, &mut set.item_ids, &r.item);
        set.train.push(Triple {
            user,
            item,
            value: r.value,
        });
    }
    // Stable: among equal pairs the data's rating comes first, then the
    // log's in log order; the last one stays.
    set.train.sort_by_key(|t| (t.user, t.item));
    let mut merged: Vec<Triple> = Vec::with_capacity(set.train.len());
    for t in set.train.drain(..) {
        match merged.last_mut() {
            Some(last) if (last.user, last.item) == (t.user, t.item) => last.value = t.value,
            _ => merged.push(t),
        }
    }
    let replaced = (before + log.len() - merged.len()) as u64;
    set.train = merged;
    set.meta.source = format!("funkd compact of {}", base.path().display());
    set.meta.noise_floor = None;
    set.meta.mean_rmse = set.mean_predictor_rmse();
    let counts = CompactCounts {
        log_ratings: log.len() as u64,
        replaced,
        new_users: set.user_ids.len() - old_users,
        new_items: set.item_ids.len() - old_items,
        train: set.train.len() as u64,
        test: set.test.len() as u64,
    };
    (set, counts)
}

/// Compacts `dir`'s data and log into `out`.
pub fn compact(dir: &Path, data: Option<&Path>, out: &Path) -> anyhow::Result<CompactCounts> {
    let data_path = resolve_data(dir, data)?;
    if out == data_path {
        usage_bail!(
            "--out {} is the rating file being compacted: write a new file",
            out.display()
        );
    }
    let base = RatingFile::open(&data_path)
        .with_context(|| format!("cannot open the rating file {}", data_path.display()))?;
    let log_path = dir.join(LOG_FILE_NAME);
    let bytes = match std::fs::read(&log_path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => usage_bail!(
            "{} has no {LOG_FILE_NAME}: nothing to compact (start `funkd serve --intake` on it)",
            dir.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", log_path.display())),
    };
    // A torn tail is skipped here (the service cuts it at its next start).
    let replayed = scan(&bytes)
        .with_context(|| format!("the ingest log {} is damaged", log_path.display()))?;
    let log: Vec<NewRating> = replayed.batches.into_iter().flatten().collect();
    let (set, counts) = merge(&base, &log);
    ratingfile::write(
        out,
        &set,
        &WriteOptions {
            grid: None,
            seed: base.seed(),
        },
    )
    .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(counts)
}

/// Runs `funkd compact`.
pub fn run(args: CompactArgs) -> anyhow::Result<()> {
    let counts = compact(&args.dir, args.data.as_deref(), &args.out)?;
    if args.json {
        println!("{}", serde_json::to_string(&counts)?);
    } else {
        println!(
            "wrote {}: {} train + {} test ratings; from the log {} ratings ({} replacing earlier ones), {} new users, {} new items",
            args.out.display(),
            counts.train,
            counts.test,
            counts.log_ratings,
            counts.replaced,
            counts.new_users,
            counts.new_items
        );
    }
    Ok(())
}
