//! How long-running library calls tell their caller what is happening,
//! without printing: every note, warning and step of progress goes to a
//! [`Reporter`] the caller hands in.
//!
//! - [`Silent`] drops everything (a service, a benchmark, a test that
//!   only wants the result);
//! - [`Collecting`] keeps everything as [`Event`]s, to be looked at
//!   afterwards (tests; bindings that forward them to their own logging);
//! - [`Stderr`] is the command line's: notes and warnings on stderr, in
//!   the words `funkd` prints, progress bars on a terminal, nothing but
//!   warnings when quiet.
//!
//! ```
//! use funkd::report::{Collecting, Reporter};
//!
//! let reporter = Collecting::default();
//! reporter.warning("the disk is nearly full");
//! assert_eq!(reporter.warnings(), ["the disk is nearly full"]);
//! ```

mod collecting;
pub mod progress;
mod stderr;

pub use collecting::{Collecting, Event};
pub use progress::Unit;
pub use stderr::Stderr;

use crate::runstate::EpochRecord;

/// Where a library call reports what it does. Every method has a
/// do-nothing default except the two kinds of message, so an
/// implementation says only what it cares about.
///
/// Messages are sentences without a program name ("resuming run/ckpt-…
/// at epoch 3 stratum 0 of 20"); the command line puts `funkd: ` in front.
/// A reporter is shared by the threads of one call, hence `Sync`.
pub trait Reporter: Sync {
    /// What the work is doing: a run starting or resuming, a checkpoint
    /// moved aside, a stop on its way. `funkd -q` does not show these.
    fn note(&self, message: &str);

    /// Something went wrong that did not stop the work (a bad checkpoint
    /// skipped, a metrics line not written). Always shown.
    fn warning(&self, message: &str);

    /// What the user must see even when notes are not shown: an answer
    /// asked for while the work runs (SIGUSR1's status line), or where
    /// `--fresh` moved the previous run.
    fn notice(&self, message: &str) {
        self.note(message);
    }

    /// The settings a training run goes with, one `name value (source)`
    /// line each, as [`crate::train::report::describe`] writes them.
    fn settings(&self, table: &str) {
        let _ = table;
    }

    /// Training begins (or resumes) epoch `epoch` (0-based) of `epochs`,
    /// with `strata_done` of its `strata` strata already trained.
    fn epoch_started(&self, epoch: u32, epochs: u32, strata_done: u64, strata: u64) {
        let _ = (epoch, epochs, strata_done, strata);
    }

    /// A stratum of the current epoch is trained, at this many rating
    /// updates per second.
    fn stratum_done(&self, updates_per_sec: f64) {
        let _ = updates_per_sec;
    }

    /// An epoch is complete: its record (the line `metrics.jsonl` gets).
    fn epoch_done(&self, record: &EpochRecord) {
        let _ = record;
    }

    /// A training run ends (however it ends): no more epoch events.
    fn training_ended(&self) {}

    /// A counter for a long job over `total` units (if known): a file
    /// imported by bytes, ratings generated. The default counts nothing.
    fn progress(&self, label: &str, total: Option<u64>, unit: Unit) -> Box<dyn Counter + '_> {
        let _ = (label, total, unit);
        Box::new(Uncounted)
    }
}

/// The count of a long job, advanced from any thread; ended when dropped.
pub trait Counter: Send + Sync {
    /// Adds `n` done.
    fn inc(&self, n: u64);
}

/// A counter that counts nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Uncounted;

impl Counter for Uncounted {
    fn inc(&self, _n: u64) {}
}

/// A reporter that drops everything: the call's result says what matters.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Reporter for Silent {
    fn note(&self, _message: &str) {}
    fn warning(&self, _message: &str) {}
}
