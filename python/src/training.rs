//! `funk.train`: `funkd train` from Python. The options are the CLI's,
//! turned into [`TrainArgs`] so that their defaults, checks, messages and
//! the resume rules are the CLI's own; training runs without the GIL.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::ValueEnum;
use crossbeam_channel::{Receiver, Sender};
use funkd::ratingfile::RatingFile;
use funkd::report::{Reporter, Stderr};
use funkd::runstate::EpochRecord;
use funkd::service::Request;
use funkd::train::args::{MethodArg, ScheduleArg};
use funkd::train::train_until;
use funkd::train::{TrainArgs, TrainConfig};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{usage, IntoPy};

/// `funk.train`'s training options (None: the CLI's default), as a dict
/// with every key present.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct Options {
    factors: Option<i64>,
    epochs: Option<i64>,
    threads: Option<i64>,
    seed: Option<i64>,
    method: Option<String>,
    plain: bool,
    learning_rate: Option<f32>,
    schedule: Option<String>,
    decay: Option<f32>,
    reg: Option<f32>,
    reg_bias: Option<f32>,
    reg_row: Option<f32>,
    validation: Option<f32>,
    checkpoint_every_secs: Option<f64>,
    checkpoint_every_epochs: Option<i64>,
    keep: Option<i64>,
    early_stop: Option<i64>,
    max_backoffs: Option<i64>,
    isa: Option<String>,
    fresh: bool,
    verbose: bool,
    stratum_delay_ms: i64,
}

/// A whole number option that must not be negative, converted.
fn count<T: TryFrom<i64>>(name: &str, value: Option<i64>) -> PyResult<Option<T>> {
    value
        .map(|v| {
            T::try_from(v).map_err(|_| {
                usage(format!(
                    "{name}={v}: must be a whole number ≥ 0 (and not absurdly large)"
                ))
            })
        })
        .transpose()
}

/// A choice among the CLI's value names (`sgd`, `decay`, …).
fn choice<T: ValueEnum>(name: &str, value: Option<&str>) -> PyResult<Option<T>> {
    value
        .map(|v| {
            T::from_str(v, true).map_err(|_| {
                let names: Vec<String> = T::value_variants()
                    .iter()
                    .filter_map(|c| c.to_possible_value().map(|p| format!("{:?}", p.get_name())))
                    .collect();
                usage(format!(
                    "{name}={v:?}: expected one of {}",
                    names.join(", ")
                ))
            })
        })
        .transpose()
}

impl Options {
    /// The `funkd train` command line these options stand for.
    fn to_args(&self, data: &Path, checkpoint_dir: &Path) -> PyResult<TrainArgs> {
        Ok(TrainArgs {
            data: data.to_path_buf(),
            checkpoint_dir: Some(checkpoint_dir.to_path_buf()),
            fresh: self.fresh,
            factors: count("factors", self.factors)?,
            epochs: count("epochs", self.epochs)?,
            threads: count("threads", self.threads)?,
            seed: count("seed", self.seed)?,
            method: choice::<MethodArg>("method", self.method.as_deref())?,
            plain: self.plain,
            learning_rate: self.learning_rate,
            schedule: choice::<ScheduleArg>("schedule", self.schedule.as_deref())?,
            decay: self.decay,
            reg: self.reg,
            reg_bias: self.reg_bias,
            reg_row: self.reg_row,
            validation: self.validation,
            checkpoint_every_secs: self.checkpoint_every_secs,
            checkpoint_every_epochs: count(
                "checkpoint_every_epochs",
                self.checkpoint_every_epochs,
            )?,
            keep: count("keep", self.keep)?,
            early_stop: count("early_stop", self.early_stop)?,
            max_backoffs: count("max_backoffs", self.max_backoffs)?,
            isa: self.isa.clone(),
            warm_start: None,
            warm_start_data: None,
            json: false,
            quiet: !self.verbose,
            stratum_delay_ms: count("stratum_delay_ms", Some(self.stratum_delay_ms))?.unwrap_or(0),
            checkpoint_pause_ms: 0,
        })
    }
}

/// Trains on the rating file `data` into `checkpoint_dir` (resuming the
/// run there, as `funkd train` does) and returns the summary as JSON
/// (`funkd train --json`'s object).
///
/// Training runs on its own thread, without the GIL; this thread waits for
/// it, checking for signals (Ctrl-C), calling `progress` with each epoch's
/// record and turning the run's warnings into Python warnings. A
/// KeyboardInterrupt, or an exception from `progress`, stops the run
/// cleanly between strata (the blocks in flight finish, a checkpoint is
/// written) and is raised once it has stopped.
#[pyfunction]
#[pyo3(signature = (data, checkpoint_dir, options, progress=None))]
pub fn train(
    py: Python<'_>,
    data: PathBuf,
    checkpoint_dir: PathBuf,
    options: Options,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<String> {
    let args = options.to_args(&data, &checkpoint_dir)?;
    let (stop, requests) = crossbeam_channel::unbounded::<Request>();
    let (events, heard) = crossbeam_channel::unbounded::<Event>();
    let (done, finished) = crossbeam_channel::bounded::<anyhow::Result<String>>(1);
    let worker = std::thread::Builder::new()
        .name("funk-train".into())
        .spawn(move || {
            let reporter = Forwarder {
                events,
                stderr: (!args.quiet).then(|| Stderr::new(false)),
            };
            let result = run(&args, &reporter, &requests);
            reporter.training_ended();
            let _ = done.send(result);
        })
        .map_err(|e| usage(format!("cannot start the training thread: {e}")))?;
    let json = py.import("json")?;
    let warnings = py.import("warnings")?;
    let category = py.import("funk._errors")?.getattr("FunkWarning")?;
    let mut raised: Option<PyErr> = None;
    let stop_with = |error: PyErr, why: &'static str, raised: &mut Option<PyErr>| {
        // The first exception is the one raised; the run finishes its
        // checkpoint whatever comes after it.
        if raised.is_none() {
            let _ = stop.send(Request::Stop(why));
            *raised = Some(error);
        }
    };
    let result = loop {
        let next = py.detach(|| {
            crossbeam_channel::select! {
                recv(finished) -> r => Wake::Finished(r.ok()),
                recv(heard) -> e => Wake::Heard(e.ok()),
                default(POLL) => Wake::Poll,
            }
        });
        match next {
            Wake::Finished(result) => break result,
            Wake::Heard(Some(Event::Epoch(record))) => {
                if let (Some(callback), None) = (&progress, &raised) {
                    let called = json
                        .call_method1("loads", (record,))
                        .and_then(|record| callback.call1((record,)));
                    if let Err(e) = called {
                        stop_with(e, "the progress callback raised an exception", &mut raised);
                    }
                }
            }
            Wake::Heard(Some(Event::Warning(message))) => {
                if let Err(e) = warnings.call_method1("warn", (message, &category, 2)) {
                    stop_with(e, "a warning was raised as an error", &mut raised);
                }
            }
            Wake::Heard(None) | Wake::Poll => {}
        }
        // After every wake, not only when the poll times out: epochs that
        // end faster than the poll would otherwise never let Ctrl-C in.
        if let Err(e) = py.check_signals() {
            stop_with(e, "KeyboardInterrupt", &mut raised);
        }
    };
    let _ = worker.join();
    if let Some(e) = raised {
        return Err(e);
    }
    match result {
        Some(result) => result.py_err(),
        None => Err(usage(
            "internal error: the training thread ended without a result",
        )),
    }
}

/// How often the waiting thread looks for signals.
const POLL: Duration = Duration::from_millis(50);

/// What the training thread tells the waiting one.
enum Event {
    /// An epoch's record (`metrics.jsonl`'s line), as JSON.
    Epoch(String),
    /// A warning: something went wrong that did not stop the run.
    Warning(String),
}

/// What woke the waiting thread.
enum Wake {
    Finished(Option<anyhow::Result<String>>),
    Heard(Option<Event>),
    Poll,
}

/// The run's reporter: epochs and warnings to the waiting thread (for
/// `progress` and Python's warnings), and with `verbose=True` everything
/// `funkd train` prints, on stderr.
struct Forwarder {
    events: Sender<Event>,
    stderr: Option<Stderr>,
}

impl Reporter for Forwarder {
    fn note(&self, message: &str) {
        if let Some(stderr) = &self.stderr {
            stderr.note(message);
        }
    }

    fn warning(&self, message: &str) {
        let _ = self.events.send(Event::Warning(message.to_string()));
    }

    fn notice(&self, message: &str) {
        if let Some(stderr) = &self.stderr {
            stderr.notice(message);
        }
    }

    fn settings(&self, table: &str) {
        if let Some(stderr) = &self.stderr {
            stderr.settings(table);
        }
    }

    fn epoch_started(&self, epoch: u32, epochs: u32, strata_done: u64, strata: u64) {
        if let Some(stderr) = &self.stderr {
            stderr.epoch_started(epoch, epochs, strata_done, strata);
        }
    }

    fn stratum_done(&self, updates_per_sec: f64) {
        if let Some(stderr) = &self.stderr {
            stderr.stratum_done(updates_per_sec);
        }
    }

    fn epoch_done(&self, record: &EpochRecord) {
        if let Some(stderr) = &self.stderr {
            stderr.epoch_done(record);
        }
        if let Ok(json) = serde_json::to_string(record) {
            let _ = self.events.send(Event::Epoch(json));
        }
    }

    fn training_ended(&self) {
        if let Some(stderr) = &self.stderr {
            stderr.training_ended();
        }
    }
}

/// The training run itself, on the training thread.
fn run(
    args: &TrainArgs,
    reporter: &dyn Reporter,
    requests: &Receiver<Request>,
) -> anyhow::Result<String> {
    let checkpoint_dir = args
        .checkpoint_dir
        .as_deref()
        .context("internal error: no checkpoint directory")?;
    let data = RatingFile::open(&args.data).context("cannot open the rating file")?;
    let mut config = TrainConfig::from_args(args, &data)?;
    // Ctrl-C is Python's: the waiting thread stops the run.
    config.handle_signals = false;
    if args.fresh {
        move_run_aside(checkpoint_dir, !args.quiet)?;
    }
    let summary = train_until(&data, &config, checkpoint_dir, None, reporter, requests)?;
    Ok(serde_json::to_string(&summary)?)
}

/// `fresh=True`: moves the run in `dir`, if any, aside (whole, beside it).
fn move_run_aside(dir: &Path, say: bool) -> anyhow::Result<()> {
    if let Some(aside) = funkd::train::fresh::move_aside(dir)? {
        if say {
            eprintln!(
                "funk: fresh=True: the previous run in {} was moved to {} (nothing was deleted)",
                dir.display(),
                aside.display()
            );
        }
    }
    Ok(())
}

/// `fresh=True` before the data file of arrays is written into `dir`:
/// moves the run there, if any, aside.
#[pyfunction]
pub fn move_aside(py: Python<'_>, dir: PathBuf, verbose: bool) -> PyResult<()> {
    py.detach(|| move_run_aside(&dir, verbose)).py_err()
}

/// The defaults `funkd train` would use on the rating file `data` (its
/// derived learning rate and regularisation among them), as a dict.
#[pyfunction]
pub fn defaults<'py>(py: Python<'py>, data: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let data = RatingFile::open(&data)
        .context("cannot open the rating file")
        .py_err()?;
    let c = TrainConfig::defaults_for(&data);
    let d = PyDict::new(py);
    d.set_item("factors", c.rank)?;
    d.set_item("epochs", c.epochs)?;
    d.set_item("seed", c.seed)?;
    d.set_item("threads", c.threads)?;
    d.set_item("method", c.method.name())?;
    d.set_item("plain", false)?;
    d.set_item("learning_rate", c.learning_rate)?;
    d.set_item("schedule", "decay")?;
    d.set_item("decay", funkd::train::config::DEFAULT_DECAY)?;
    d.set_item("reg", c.reg)?;
    d.set_item("reg_bias", c.reg_bias)?;
    d.set_item("reg_row", c.reg_row)?;
    d.set_item("validation", c.validation)?;
    d.set_item("early_stop", c.early_stop)?;
    d.set_item("checkpoint_every_epochs", c.checkpoint_every_epochs)?;
    d.set_item("keep", c.keep)?;
    d.set_item("max_backoffs", c.max_backoffs)?;
    d.set_item("isa", c.isa.name())?;
    Ok(d)
}
