//! `funkd inspect`: what is in a rating file (or, in [`checkpoint`], a
//! checkpoint): counts, dimensions, grid, block
//! balance, split sizes, id ranges, format version, checksums.

use std::io::Read;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use serde_json::json;

use crate::ratingfile::RatingFile;

pub mod checkpoint;

/// The first bytes of a checkpoint file.
pub const CHECKPOINT_MAGIC: &[u8; 8] = b"FUNKCKPT";

/// Options of `funkd inspect`.
#[derive(Debug, Clone, clap::Args)]
pub struct InspectArgs {
    /// A rating file, a checkpoint, or a checkpoint directory (its newest
    /// good checkpoint).
    pub file: PathBuf,
    /// Check every checksum and record (reports throughput).
    #[arg(long)]
    pub verify: bool,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `funkd inspect`.
pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    if args.file.is_dir() {
        // A checkpoint directory: its newest good checkpoint.
        return checkpoint::inspect_command(&args.file, args.verify, args.json);
    }
    let mut magic = [0u8; 8];
    let n = std::fs::File::open(&args.file)
        .and_then(|mut f| read_up_to(&mut f, &mut magic))
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    if n == 8 && &magic == CHECKPOINT_MAGIC {
        return checkpoint::inspect_command(&args.file, args.verify, args.json);
    }
    let start = Instant::now();
    let file = RatingFile::open(&args.file)?;
    let open_seconds = start.elapsed().as_secs_f64();
    let verify = if args.verify {
        Some(file.verify()?)
    } else {
        None
    };
    let report = describe(&file, open_seconds, verify.as_ref());
    if args.json {
        println!("{report}");
    } else {
        print_human(&file, open_seconds, verify.as_ref());
    }
    Ok(())
}

fn read_up_to(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match f.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// The JSON description of a rating file.
pub fn describe(
    file: &RatingFile,
    open_seconds: f64,
    verify: Option<&crate::ratingfile::VerifyReport>,
) -> serde_json::Value {
    let users = file.user_index();
    let items = file.item_index();
    let sections: Vec<_> = file
        .sections()
        .into_iter()
        .map(|(name, s)| json!({"name": name, "offset": s.offset, "bytes": s.len, "xxh3": format!("{:016x}", s.hash)}))
        .collect();
    json!({
        "kind": "rating-file",
        "path": file.path(),
        "format_version": file.format_version(),
        "bytes": file.file_len(),
        "identity": format!("{:016x}", file.identity()),
        "users": file.users(),
        "items": file.items(),
        "train": file.train_count(),
        "test": file.test_count(),
        "bytes_per_rating": file.file_len() as f64 / (file.train_count() + file.test_count()).max(1) as f64,
        "grid": file.grid(),
        "block_balance": file.block_balance(),
        "mean": file.mean(),
        "rating_range": file.rating_range(),
        "noise_floor": file.noise_floor(),
        "mean_rmse": file.mean_rmse(),
        "seed": file.seed(),
        "source": file.source_command(),
        "user_ids": id_range(&users),
        "item_ids": id_range(&items),
        "sections": sections,
        "open_seconds": open_seconds,
        "verify": verify,
    })
}

/// The id range: numeric min/max when every id is an integer, else the
/// first and last in string order.
fn id_range(index: &crate::ratingfile::IdIndex<'_>) -> serde_json::Value {
    match numeric_range(index) {
        Some((lo, hi)) => json!({"count": index.len(), "numeric": true, "min": lo, "max": hi}),
        None => {
            let (first, last) = index.first_last().unwrap_or(("", ""));
            json!({"count": index.len(), "numeric": false, "first": first, "last": last})
        }
    }
}

/// Smallest and largest id when every id is a non-negative integer.
fn numeric_range(index: &crate::ratingfile::IdIndex<'_>) -> Option<(u64, u64)> {
    let mut range: Option<(u64, u64)> = None;
    for name in index.iter() {
        let n: u64 = name.parse().ok()?;
        range = Some(range.map_or((n, n), |(lo, hi)| (lo.min(n), hi.max(n))));
    }
    range
}

fn describe_range(index: &crate::ratingfile::IdIndex<'_>) -> String {
    match numeric_range(index) {
        Some((lo, hi)) => format!("{} ids, numeric {lo} .. {hi}", index.len()),
        None => {
            let (first, last) = index.first_last().unwrap_or(("", ""));
            format!("{} ids, {first:?} .. {last:?} in string order", index.len())
        }
    }
}

fn print_human(
    file: &RatingFile,
    open_seconds: f64,
    verify: Option<&crate::ratingfile::VerifyReport>,
) {
    let b = file.block_balance();
    println!(
        "{}: funk rating file, format version {}",
        file.path().display(),
        file.format_version()
    );
    println!(
        "  size        {} bytes ({:.2} bytes per rating), identity {:016x}",
        file.file_len(),
        file.file_len() as f64 / (file.train_count() + file.test_count()).max(1) as f64,
        file.identity()
    );
    println!(
        "  matrix      {} users × {} items",
        file.users(),
        file.items()
    );
    println!(
        "  ratings     {} train + {} test, mean train rating {:.4}",
        file.train_count(),
        file.test_count(),
        file.mean()
    );
    println!(
        "  grid        {} × {} blocks; train ratings per block min {} / mean {:.1} / max {}",
        file.grid(),
        file.grid(),
        b.min,
        b.mean,
        b.max
    );
    match file.rating_range() {
        Some((lo, hi)) => println!("  range       {lo} .. {hi}"),
        None => println!("  range       none (real-valued)"),
    }
    if let Some(n) = file.noise_floor() {
        println!("  noise floor {n:.4} (RMSE of the true model)");
    }
    if let Some(m) = file.mean_rmse() {
        println!("  mean RMSE   {m:.4} (predicting the mean train rating)");
    }
    for (what, index) in [
        ("user ids", file.user_index()),
        ("item ids", file.item_index()),
    ] {
        println!("  {what:<11} {}", describe_range(&index));
    }
    println!("  source      {}", file.source_command());
    for (name, s) in file.sections() {
        println!(
            "  section     {name:<16} {:>12} bytes at {:>12}, xxh3 {:016x}",
            s.len, s.offset, s.hash
        );
    }
    println!(
        "  opened in   {:.3} ms (header, block table, id tables checked)",
        open_seconds * 1e3
    );
    if let Some(v) = verify {
        println!(
            "  verified    every checksum and record: {} records, {} blocks, {:.1} MB in {:.3} s ({:.0} MB/s)",
            v.records, v.blocks, v.bytes as f64 / 1e6, v.seconds, v.mb_per_s
        );
    }
}
