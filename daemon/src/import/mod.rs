//! Importing text rating data into a rating file ([`import`]; the
//! command around it is [`crate::commands::import`]).
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

mod args;
mod builder;
mod delimited;
mod lines;
mod netflix;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;

pub use args::{Columns, Format, ImportArgs, RangeArg};
pub use builder::{Builder, DuplicateCounts, DuplicatePolicy, Split};
pub use delimited::{Delimiter, Layout};
pub use lines::InputError;

use crate::ratingfile::{self, shell_word, RatingSet, WriteOptions};
use crate::report::{Counter, Reporter, Unit};
use crate::usage_bail;

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

/// Imports as `args` says and writes the rating file: the library call of
/// `funkd import` ([`crate::commands::import`]). Progress (bytes read) and
/// warnings go to `reporter`.
pub fn import(args: &ImportArgs, reporter: &dyn Reporter) -> anyhow::Result<ImportSummary> {
    let start = Instant::now();
    crate::output::check_file(&args.out, "output file", "-o")?;
    let Loaded {
        set,
        duplicates,
        probe_unknown,
        files,
    } = load(args, reporter)?;
    if let Some(p) = args.grid {
        let (u, i) = (set.user_ids.len(), set.item_ids.len());
        if p == 0 || p > u || p > i || p > ratingfile::MAX_GRID {
            usage_bail!(
                "--grid {p}: must be in 1..={} and at most the number of users ({u}) and items ({i})",
                ratingfile::MAX_GRID
            );
        }
    }
    if duplicates.in_both_splits > 0 {
        reporter.warning(&format!(
            "{} (user, item) pairs are rated in both the train and the test input; \
             the test error on them measures memory, not prediction (remove them from one side)",
            duplicates.in_both_splits
        ));
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
        files,
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

/// The input read, before it is written.
#[derive(Debug)]
pub struct Loaded {
    /// The data set, by original id.
    pub set: RatingSet,
    /// Repeated pairs seen per split.
    pub duplicates: DuplicateCounts,
    /// Probe lines naming an unknown user or movie (with --probe).
    pub probe_unknown: Option<u64>,
    /// Input files read.
    pub files: usize,
}

/// Reads and checks the input `args` names (everything `import` does but
/// writing the file), counting the bytes read on `reporter`.
pub fn load(args: &ImportArgs, reporter: &dyn Reporter) -> anyhow::Result<Loaded> {
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
    let progress = reporter.progress("import", Some(total), Unit::Bytes);

    let mut b = Builder::new(range);
    if args.duplicates == DuplicatePolicy::Error {
        b.refuse_duplicates();
    }
    for (files, split) in [(&train_files, Split::Train), (&test_files, Split::Test)] {
        for file in files {
            b.start_file(file);
            read_file(args, file, split, &mut b, progress.as_ref())?;
        }
    }
    let mut probe_unknown = None;
    if let Some(probe) = &args.probe {
        let (pairs, unknown) = netflix::read_probe(probe, &b, progress.as_ref())?;
        b.hold_out(&pairs);
        probe_unknown = Some(unknown);
    }
    drop(progress);
    let source = command_line(args);
    let (set, duplicates) = b
        .finish(args.duplicates, fraction, args.seed, source)
        .map_err(|e| anyhow::anyhow!(e))
        .context("cannot import")?;
    if set.train.is_empty() {
        anyhow::bail!("no training ratings left (all input went to the test split)");
    }
    Ok(Loaded {
        set,
        duplicates,
        probe_unknown,
        files: all.len(),
    })
}

/// The `funkd import` command that makes the file again (recorded as its
/// source): every input, the split, the seed. Not the output path, so that
/// the same inputs give the same bytes wherever they are written
/// ([`RatingFile::source_command`](crate::ratingfile::RatingFile::source_command)
/// adds it back).
fn command_line(args: &ImportArgs) -> String {
    fn name<T: Serialize>(value: T) -> String {
        serde_json::to_value(value)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    }
    let mut words = vec![
        "funkd".to_string(),
        "import".into(),
        "--format".into(),
        name(args.format),
        "--train".into(),
    ];
    words.extend(
        args.train
            .iter()
            .map(|p| shell_word(&p.display().to_string())),
    );
    if !args.test.is_empty() {
        words.push("--test".into());
        words.extend(
            args.test
                .iter()
                .map(|p| shell_word(&p.display().to_string())),
        );
    }
    if let Some(f) = args.test_fraction {
        words.extend(["--test-fraction".into(), f.to_string()]);
    }
    if let Some(p) = &args.probe {
        words.extend(["--probe".into(), shell_word(&p.display().to_string())]);
    }
    if args.duplicates != DuplicatePolicy::KeepLast {
        words.extend(["--duplicates".into(), name(args.duplicates)]);
    }
    if let Some(RangeArg(range)) = args.rating_range {
        let range = range.map_or("none".to_string(), |(lo, hi)| format!("{lo},{hi}"));
        words.extend(["--rating-range".into(), range]);
    }
    if args.columns != Columns([0, 1, 2]) {
        let [u, i, v] = args.columns.0.map(|c| c + 1);
        words.extend(["--columns".into(), format!("{u},{i},{v}")]);
    }
    if args.header {
        words.push("--header".into());
    }
    if let Some(d) = &args.delimiter {
        words.extend(["--delimiter".into(), shell_word(d)]);
    }
    if let Some(p) = args.grid {
        words.extend(["--grid".into(), p.to_string()]);
    }
    words.extend(["--seed".into(), args.seed.to_string()]);
    words.join(" ")
}

fn read_file(
    args: &ImportArgs,
    file: &Path,
    split: Split,
    b: &mut Builder,
    progress: &dyn Counter,
) -> Result<(), InputError> {
    let generic = matches!(args.format, Format::Csv | Format::Tsv);
    let integer_ids = match args.format {
        Format::Movielens => Some("movielens"),
        Format::MovielensDat => Some("movielens-dat"),
        Format::MovielensCsv => Some("movielens-csv"),
        _ => None,
    };
    let layout = |delimiter: Delimiter, header: bool, header_if_not_numeric: bool| Layout {
        delimiter,
        columns: args.columns.0,
        header,
        header_if_not_numeric,
        integer_ids,
        header_hint: generic && !header,
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
