//! What the commands share: loading a checkpoint, finding and opening its
//! data file, refusing a pair that does not belong together, choosing the
//! ISA, printing the one JSON object of `--json`, and the line that says
//! which rating file `gen` or `import` wrote.
//!
//! A checkpoint stores only its data file's identity, not the file's id
//! maps, so the model commands need the data file too. `--data` names it;
//! without it they use the one `funkd train` recorded in the checkpoint
//! directory's `status.json` ([`resolve_data`]). Either way the identity
//! check ([`check_model_matches`]) refuses a file that is not the one
//! trained on.

use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, Result};
use funk_kernel::Isa;

use crate::checkpoint::LoadedModel;
use crate::ratingfile::RatingFile;
use crate::train::config::isa_named;
use crate::usage_bail;

use crate::trained::recorded_matching_data;
pub use crate::trained::{
    check_model_matches, checkpoint_dir_of, load_checked_model, open_data, required_data,
    resolve_data, ModelWithData,
};

/// The data file for a command to which it is optional (it only adds the
/// original ids to the output): `data` (`--data`) when given, which must
/// match the model; else the data file recorded in the checkpoint
/// directory when there is one and it matches; else none, with a note on
/// stderr saying why.
pub fn optional_data(
    model: &Path,
    loaded: &LoadedModel,
    data: Option<&Path>,
) -> Result<Option<RatingFile>> {
    if data.is_some() {
        return required_data(model, loaded, data).map(Some);
    }
    match recorded_matching_data(model, loaded) {
        Ok(data) => Ok(Some(data)),
        Err(why) => {
            eprintln!("funkd: note: writing internal ids only: {why:#}");
            Ok(None)
        }
    }
}

/// The ISA named by `--isa`, or the best this CPU has: a name that is
/// unknown or unavailable here is a usage error.
pub fn choose_isa(name: Option<&str>) -> Result<Isa> {
    match name {
        None => Ok(Isa::detect()),
        Some(name) => isa_named(name),
    }
}

/// The number of threads to use: `--threads`, or every CPU.
pub fn thread_count(requested: Option<usize>) -> Result<usize> {
    match requested {
        Some(0) => usage_bail!("--threads must be at least 1"),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// The rating range to clamp predictions to: the data's, unless clamping
/// is turned off.
pub fn clamp_range(data: &RatingFile, no_clamp: bool) -> Option<(f32, f32)> {
    if no_clamp {
        None
    } else {
        data.rating_range()
    }
}

/// Prints one JSON object on stdout (the `--json` contract).
pub fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).context("cannot encode the JSON result")?;
    write_stdout(|out| writeln!(out, "{text}"))
}

/// Writes human-readable output to stdout through a buffer. A reader that
/// went away (`funkd … | head`) ends the output quietly rather than as an
/// error; any other write error is reported.
pub fn write_stdout(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<()> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    match write(&mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to stdout"),
    }
}

/// A rating file just written, as the first line of `gen`'s and
/// `import`'s summary shows it.
pub struct Wrote<'a> {
    /// Where.
    pub path: &'a Path,
    /// Users and items.
    pub shape: (usize, usize),
    /// Train and test ratings.
    pub ratings: (u64, u64),
    /// The grid (P of P × P blocks).
    pub grid: usize,
    /// The file's size in bytes.
    pub bytes: u64,
    /// How long writing it took, in seconds.
    pub seconds: f64,
}

impl std::fmt::Display for Wrote<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "wrote {}: {} users × {} items, {} train + {} test ratings, grid {}, {:.1} MB in {:.1} s",
            self.path.display(),
            self.shape.0,
            self.shape.1,
            self.ratings.0,
            self.ratings.1,
            self.grid,
            self.bytes as f64 / 1e6,
            self.seconds
        )
    }
}

/// The [`Wrote`] of a summary that has the fields `path`, `users`,
/// `items`, `train`, `test`, `grid`, `bytes` and `seconds`, as `gen`'s
/// and `import`'s have.
macro_rules! wrote_of {
    ($summary:expr) => {{
        let s = &$summary;
        $crate::commands::context::Wrote {
            path: &s.path,
            shape: (s.users, s.items),
            ratings: (s.train, s.test),
            grid: s.grid,
            bytes: s.bytes,
            seconds: s.seconds,
        }
    }};
}
pub(crate) use wrote_of;

/// Prints a command's summary on stdout: as one line of JSON with
/// `--json`, else as `text`.
pub fn print_summary(json: bool, summary: &impl serde::Serialize, text: &str) -> Result<()> {
    if json {
        let line = serde_json::to_string(summary).context("cannot encode the JSON result")?;
        write_stdout(|out| writeln!(out, "{line}"))
    } else {
        write_stdout(|out| out.write_all(text.as_bytes()))
    }
}
