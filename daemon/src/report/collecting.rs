//! [`Collecting`]: a reporter that keeps what it is told.

use std::sync::{Mutex, MutexGuard};

use super::{Counter, Reporter, Unit};
use crate::runstate::EpochRecord;

/// One thing a [`Reporter`] was told.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// [`Reporter::note`].
    Note(String),
    /// [`Reporter::warning`].
    Warning(String),
    /// [`Reporter::notice`].
    Notice(String),
    /// [`Reporter::settings`].
    Settings(String),
    /// [`Reporter::epoch_started`].
    EpochStarted {
        /// The epoch (0-based).
        epoch: u32,
        /// Epochs in all.
        epochs: u32,
        /// Strata of it already trained.
        strata_done: u64,
        /// Strata per epoch.
        strata: u64,
    },
    /// [`Reporter::stratum_done`], with its updates per second.
    StratumDone(f64),
    /// [`Reporter::epoch_done`].
    EpochDone(EpochRecord),
    /// [`Reporter::training_ended`].
    TrainingEnded,
    /// [`Reporter::progress`]: a counter started for `label`.
    ProgressStarted {
        /// What is counted.
        label: String,
        /// Its total, if known.
        total: Option<u64>,
    },
}

/// A reporter that keeps every [`Event`], in order, for the caller to
/// look at afterwards. Progress counters are recorded when they start
/// (their counts are not kept).
#[derive(Debug, Default)]
pub struct Collecting {
    events: Mutex<Vec<Event>>,
}

impl Collecting {
    /// Everything reported so far.
    pub fn events(&self) -> Vec<Event> {
        self.lock().clone()
    }

    /// The notes, in order.
    pub fn notes(&self) -> Vec<String> {
        self.texts(|e| match e {
            Event::Note(m) => Some(m),
            _ => None,
        })
    }

    /// The warnings, in order.
    pub fn warnings(&self) -> Vec<String> {
        self.texts(|e| match e {
            Event::Warning(m) => Some(m),
            _ => None,
        })
    }

    /// The records of the epochs completed, in order.
    pub fn epochs(&self) -> Vec<EpochRecord> {
        self.lock()
            .iter()
            .filter_map(|e| match e {
                Event::EpochDone(r) => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    fn texts(&self, pick: impl Fn(&Event) -> Option<&String>) -> Vec<String> {
        self.lock().iter().filter_map(pick).cloned().collect()
    }

    fn push(&self, event: Event) {
        self.lock().push(event);
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Event>> {
        // A panic while pushing leaves a whole vector: keep using it.
        self.events.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Reporter for Collecting {
    fn note(&self, message: &str) {
        self.push(Event::Note(message.to_string()));
    }

    fn warning(&self, message: &str) {
        self.push(Event::Warning(message.to_string()));
    }

    fn notice(&self, message: &str) {
        self.push(Event::Notice(message.to_string()));
    }

    fn settings(&self, table: &str) {
        self.push(Event::Settings(table.to_string()));
    }

    fn epoch_started(&self, epoch: u32, epochs: u32, strata_done: u64, strata: u64) {
        self.push(Event::EpochStarted {
            epoch,
            epochs,
            strata_done,
            strata,
        });
    }

    fn stratum_done(&self, updates_per_sec: f64) {
        self.push(Event::StratumDone(updates_per_sec));
    }

    fn epoch_done(&self, record: &EpochRecord) {
        self.push(Event::EpochDone(record.clone()));
    }

    fn training_ended(&self) {
        self.push(Event::TrainingEnded);
    }

    fn progress(&self, label: &str, total: Option<u64>, _unit: Unit) -> Box<dyn Counter + '_> {
        self.push(Event::ProgressStarted {
            label: label.to_string(),
            total,
        });
        Box::new(super::Uncounted)
    }
}
