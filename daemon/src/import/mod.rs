//! `funkd import`: text rating data → a rating file.
//!
//! Formats: the Netflix Prize `training_set` (a directory of `mv_*.txt`,
//! with `--probe probe.txt` held out as the test split), Kaggle's
//! `combined_data_*.txt`, MovieLens `u.data` / `u*.base` / `u*.test`
//! (tab), `ratings.dat` (`::`), `ratings.csv` (header, half stars),
//! generic CSV/TSV (column choice, header or not) and LIBMF text
//! (`user item value`, whitespace). Original ids are kept in the file.
//!
//! Repeated (user, item) pairs within a split follow `--duplicates`
//! (default: the last occurrence in file order wins); how many were seen
//! is reported. Values outside the format's rating range (1..5 stars,
//! 0.5..5 for `ratings.csv`) are refused with file and line; generic
//! formats have no range unless `--rating-range` gives one.

mod builder;
mod delimited;
mod lines;
mod netflix;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;

pub use builder::{Builder, DuplicateCounts, DuplicatePolicy, Split};
pub use delimited::{Delimiter, Layout};
pub use lines::InputError;

use crate::progress::{Progress, Unit};
use crate::ratingfile::{self, WriteOptions};
use crate::usage_bail;

/// The input formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Netflix Prize `training_set/` directory of `mv_*.txt` (or the files).
    Netflix,
    /// Kaggle's `combined_data_*.txt` (`MOVIE:` lines, then `USER,RATING,DATE`).
    NetflixCombined,
    /// MovieLens 100K `u.data`, `u1.base`, `u1.test`… (`user<TAB>item<TAB>rating<TAB>time`).
    Movielens,
    /// MovieLens 1M/10M `ratings.dat` (`user::item::rating::time`).
    MovielensDat,
    /// MovieLens 20M/25M/latest `ratings.csv` (header; half stars).
    MovielensCsv,
    /// Comma-separated values (see --columns, --header).
    Csv,
    /// Tab-separated values (see --columns, --header).
    Tsv,
    /// LIBMF text: `user item value`, whitespace-separated.
    Libmf,
}

impl Format {
    /// The rating range the format implies.
    pub fn rating_range(self) -> Option<(f32, f32)> {
        match self {
            Format::Netflix
            | Format::NetflixCombined
            | Format::Movielens
            | Format::MovielensDat => Some((1.0, 5.0)),
            Format::MovielensCsv => Some((0.5, 5.0)),
            Format::Csv | Format::Tsv | Format::Libmf => None,
        }
    }

    fn is_netflix(self) -> bool {
        matches!(self, Format::Netflix | Format::NetflixCombined)
    }
}

/// Options of `funkd import`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// Input format.
    #[arg(long, short = 'f', value_enum)]
    pub format: Format,
    /// Training input files (for `netflix`, also the `training_set` directory).
    #[arg(long, required = true, num_args = 1.., value_name = "PATH")]
    pub train: Vec<PathBuf>,
    /// Test input files, same format (instead of --test-fraction).
    #[arg(long, num_args = 1.., value_name = "PATH", conflicts_with = "test_fraction")]
    pub test: Vec<PathBuf>,
    /// Hold out a seeded random fraction of the training ratings as test.
    #[arg(long, value_name = "F")]
    pub test_fraction: Option<f64>,
    /// Netflix `probe.txt`: hold these (movie, user) pairs out as the test split.
    #[arg(long, value_name = "PATH")]
    pub probe: Option<PathBuf>,
    /// Seed of the test split and of the id renumbering.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output rating file.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: PathBuf,
    /// Repeated (user, item) pairs within a split.
    #[arg(long, value_enum, default_value_t = DuplicatePolicy::KeepLast)]
    pub duplicates: DuplicatePolicy,
    /// Rating range MIN,MAX (values outside are refused; predictions are
    /// clamped to it), or `none`. Default: the format's (1..5 stars,
    /// 0.5..5 for movielens-csv; none for csv, tsv, libmf).
    #[arg(long, value_name = "MIN,MAX", value_parser = parse_range, allow_hyphen_values = true)]
    pub rating_range: Option<RangeArg>,
    /// csv/tsv: 1-based columns of user, item and value.
    #[arg(long, value_name = "U,I,V", default_value = "1,2,3", value_parser = parse_columns)]
    pub columns: Columns,
    /// csv/tsv: the first line is a header.
    #[arg(long)]
    pub header: bool,
    /// csv/tsv: field separator (default `,` for csv, a tab for tsv).
    #[arg(long, value_name = "STR")]
    pub delimiter: Option<String>,
    /// Grid P (P × P blocks) [default: 32 for large sets, smaller for small].
    #[arg(long)]
    pub grid: Option<usize>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress output.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// `--rating-range`: a range or none.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RangeArg(pub Option<(f32, f32)>);

/// `--columns`: 0-based user, item, value columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Columns(pub [usize; 3]);

fn parse_range(s: &str) -> Result<RangeArg, String> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(RangeArg(None));
    }
    let (a, b) = s
        .split_once(',')
        .ok_or_else(|| format!("expected MIN,MAX or none, got {s:?}"))?;
    let num = |t: &str| t.trim().parse::<f32>().map_err(|e| format!("{t:?}: {e}"));
    let (lo, hi) = (num(a)?, num(b)?);
    if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
        return Err(format!("{s:?} is not a finite range with MIN ≤ MAX"));
    }
    Ok(RangeArg(Some((lo, hi))))
}

fn parse_columns(s: &str) -> Result<Columns, String> {
    let cols: Vec<usize> = s
        .split(',')
        .map(|t| t.trim().parse::<usize>().map_err(|e| format!("{t:?}: {e}")))
        .collect::<Result<_, _>>()?;
    match cols[..] {
        [u, i, v] if u >= 1 && i >= 1 && v >= 1 && u != i && u != v && i != v => {
            Ok(Columns([u - 1, i - 1, v - 1]))
        }
        _ => Err(format!(
            "expected three different 1-based column numbers U,I,V, got {s:?}"
        )),
    }
}

/// What an import did.
#[derive(Clone, Debug, Serialize)]
pub struct ImportSummary {
    /// The file written.
    pub path: PathBuf,
    /// The input format.
    pub format: Format,
    /// Input files read.
    pub files: usize,
    /// Users.
    pub users: usize,
    /// Items.
    pub items: usize,
    /// Train ratings written.
    pub train: u64,
    /// Test ratings written.
    pub test: u64,
    /// The duplicate policy applied.
    pub duplicate_policy: DuplicatePolicy,
    /// Extra occurrences of repeated pairs (dropped or merged).
    pub duplicates: DuplicateCounts,
    /// Probe lines whose user or movie is not in the training files.
    pub probe_unknown: Option<u64>,
    /// Rating range recorded in the file.
    pub rating_range: Option<(f32, f32)>,
    /// P.
    pub grid: usize,
    /// Mean train rating.
    pub mean: f64,
    /// File size.
    pub bytes: u64,
    /// Content identity, hex.
    pub identity: String,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Runs `funkd import`.
pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    let summary = import(&args)?;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!(
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
        println!(
            "duplicates ({:?}): {} in train, {} in test{}",
            summary.duplicate_policy,
            summary.duplicates.train,
            summary.duplicates.test,
            summary.probe_unknown.map_or(String::new(), |n| format!(
                "; probe lines not in training data: {n}"
            ))
        );
    }
    Ok(())
}

/// Imports as `args` says and writes the rating file.
pub fn import(args: &ImportArgs) -> anyhow::Result<ImportSummary> {
    let start = Instant::now();
    if args.probe.is_some() && !args.format.is_netflix() {
        usage_bail!("--probe is only for the netflix and netflix-combined formats");
    }
    if args.probe.is_some() && (!args.test.is_empty() || args.test_fraction.is_some()) {
        usage_bail!("--probe, --test and --test-fraction choose the test split: give only one");
    }
    let fraction = args.test_fraction.unwrap_or(0.0);
    if !(0.0..1.0).contains(&fraction) {
        usage_bail!("--test-fraction must be in [0, 1), got {fraction}");
    }
    let generic = matches!(args.format, Format::Csv | Format::Tsv);
    if !generic && (args.header || args.delimiter.is_some() || args.columns != Columns([0, 1, 2])) {
        usage_bail!("--header, --delimiter and --columns are for the csv and tsv formats only");
    }
    if args.delimiter.as_deref() == Some("") {
        usage_bail!("--delimiter must not be empty");
    }
    let range = match args.rating_range {
        Some(RangeArg(r)) => r,
        None => args.format.rating_range(),
    };

    let (train_files, test_files) = if args.format == Format::Netflix {
        (netflix::expand(&args.train)?, netflix::expand(&args.test)?)
    } else {
        (args.train.clone(), args.test.clone())
    };
    let mut all: Vec<&Path> = train_files
        .iter()
        .chain(&test_files)
        .map(PathBuf::as_path)
        .collect();
    if let Some(p) = &args.probe {
        all.push(p);
    }
    let total: u64 = all.iter().map(|p| lines::file_len(p)).sum();
    let progress = Progress::new("import", Some(total), Unit::Bytes, args.quiet);

    let mut b = Builder::new(range);
    for (files, split) in [(&train_files, Split::Train), (&test_files, Split::Test)] {
        for file in files {
            read_file(args, file, split, &mut b, &progress)?;
        }
    }
    let mut probe_unknown = None;
    if let Some(probe) = &args.probe {
        let (pairs, unknown) = netflix::read_probe(probe, &b, &progress)?;
        b.hold_out(&pairs);
        probe_unknown = Some(unknown);
    }
    progress.finish();
    let source = format!(
        "funkd import --format {} {}",
        serde_json::to_value(args.format)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
        train_files
            .first()
            .map_or(String::new(), |p| p.display().to_string())
    );
    let (set, duplicates) = b
        .finish(args.duplicates, fraction, args.seed, source)
        .map_err(|e| anyhow::anyhow!(e))
        .context("cannot import")?;
    if set.train.is_empty() {
        anyhow::bail!("no training ratings left (all input went to the test split)");
    }
    if let Some(p) = args.grid {
        let (u, i) = (set.user_ids.len(), set.item_ids.len());
        if p == 0 || p > u || p > i || p > ratingfile::MAX_GRID {
            usage_bail!("--grid {p}: must be in 1..={} and at most the number of users ({u}) and items ({i})", ratingfile::MAX_GRID);
        }
    }
    let written = ratingfile::write(
        &args.out,
        &set,
        &WriteOptions {
            grid: args.grid,
            seed: args.seed,
        },
    )?;
    Ok(ImportSummary {
        path: args.out.clone(),
        format: args.format,
        files: all.len(),
        users: written.users,
        items: written.items,
        train: written.train,
        test: written.test,
        duplicate_policy: args.duplicates,
        duplicates,
        probe_unknown,
        rating_range: set.meta.rating_range,
        grid: written.grid,
        mean: written.mean,
        bytes: written.bytes,
        identity: format!("{:016x}", written.identity),
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn read_file(
    args: &ImportArgs,
    file: &Path,
    split: Split,
    b: &mut Builder,
    progress: &Progress,
) -> Result<(), InputError> {
    let layout = |delimiter: Delimiter, header: bool, header_if_not_numeric: bool| Layout {
        delimiter,
        columns: args.columns.0,
        header,
        header_if_not_numeric,
    };
    let exact = |d: &str| Delimiter::Exact(d.to_string());
    match args.format {
        Format::Netflix | Format::NetflixCombined => {
            netflix::read_ratings(file, split, b, progress)
        }
        Format::Movielens => delimited::read(
            file,
            &layout(Delimiter::Whitespace, false, false),
            split,
            b,
            progress,
        ),
        Format::MovielensDat => {
            delimited::read(file, &layout(exact("::"), false, false), split, b, progress)
        }
        Format::MovielensCsv => {
            delimited::read(file, &layout(exact(","), false, true), split, b, progress)
        }
        Format::Csv => delimited::read(
            file,
            &layout(
                exact(args.delimiter.as_deref().unwrap_or(",")),
                args.header,
                false,
            ),
            split,
            b,
            progress,
        ),
        Format::Tsv => delimited::read(
            file,
            &layout(
                exact(args.delimiter.as_deref().unwrap_or("\t")),
                args.header,
                false,
            ),
            split,
            b,
            progress,
        ),
        Format::Libmf => delimited::read(
            file,
            &layout(Delimiter::Whitespace, false, false),
            split,
            b,
            progress,
        ),
    }
}
