//! The options of `funkd import` and the input formats.

use std::path::PathBuf;

use serde::Serialize;

use super::DuplicatePolicy;

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

    pub(crate) fn is_netflix(self) -> bool {
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
