//! The two workers: one funkd or one LIBMF training run, each in a process
//! of its own, printing its measurements as one JSON line on stdout.

use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

use funk::daemon::ratingfile::RatingFile;

use crate::summary::differential_rate;

/// Which model funkd trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// funkd's defaults: biased model, its decaying step, derived λ.
    Defaults,
    /// LIBMF's model and update: plain p·q, AdaGrad, η 0.1, λ 0.1.
    Like,
}

impl Model {
    /// The name used on the command line and in raw results.
    pub fn name(self) -> &'static str {
        match self {
            Model::Defaults => "defaults",
            Model::Like => "like",
        }
    }

    /// The model called `name` (see [`Model::name`]).
    pub fn from_name(name: &str) -> Result<Model> {
        match name {
            "defaults" => Ok(Model::Defaults),
            "like" => Ok(Model::Like),
            other => bail!("unknown variant {other:?}: expected defaults or like"),
        }
    }
}

/// The ISA argument that leaves funkd's own choice (the best this CPU has).
pub const AUTO_ISA: &str = "auto";

/// What one worker trains, as passed on its command line.
pub struct WorkerArgs {
    pub data: PathBuf,
    pub factors: usize,
    pub threads: usize,
    pub epochs: u32,
    pub curves: bool,
    pub model: Model,
    /// An ISA name, or [`AUTO_ISA`].
    pub isa: String,
}

impl WorkerArgs {
    /// The command-line form, the inverse of [`WorkerArgs::parse`].
    pub fn to_args(&self) -> Vec<String> {
        vec![
            self.data.display().to_string(),
            self.factors.to_string(),
            self.threads.to_string(),
            self.epochs.to_string(),
            self.curves.to_string(),
            self.model.name().to_string(),
            self.isa.clone(),
        ]
    }

    /// Reads the arguments written by [`WorkerArgs::to_args`].
    pub fn parse(args: &[String]) -> Result<WorkerArgs> {
        let [data, k, t, e, c, m, isa] = args else {
            bail!("worker needs 7 arguments, got {args:?}");
        };
        Ok(WorkerArgs {
            data: PathBuf::from(data),
            factors: k.parse()?,
            threads: t.parse()?,
            epochs: e.parse()?,
            curves: c.parse()?,
            model: Model::from_name(m)?,
            isa: isa.clone(),
        })
    }
}

/// Trains funkd and prints its rates, test RMSE, start-up and the test RMSE
/// at each epoch's end (seconds since this worker started).
pub fn funk(args: &[String]) -> Result<()> {
    use funk::daemon::train;
    let w = WorkerArgs::parse(args)?;
    let start = Instant::now();
    let start_unix = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs_f64();
    let data = RatingFile::open(&w.data)?;
    let opened = start.elapsed().as_secs_f64();
    let config = funk_config(&w, &data)?;
    let dir = tempfile::tempdir()?;
    let call = Instant::now();
    let summary = train::train(&data, &config, dir.path(), &funk::daemon::report::Silent)?;
    let call_secs = call.elapsed().as_secs_f64();
    let total = start.elapsed().as_secs_f64();
    let epochs: Vec<Value> = std::fs::read_to_string(dir.path().join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect();
    let curve: Vec<Value> = epochs.iter().map(|v| v["test_rmse"].clone()).collect();
    // [seconds since this worker started, test RMSE] at each epoch's end.
    let epochs_at: Vec<Value> = epochs
        .iter()
        .filter_map(|v| {
            Some(json!([
                v["unix_time"].as_f64()? - start_unix,
                v["test_rmse"].as_f64()?
            ]))
        })
        .collect();
    println!(
        "{}",
        json!({
            "model": w.model.name(),
            "isa": summary.isa,
            "updates_per_sec": summary.updates_per_sec,
            "window_updates_per_sec": summary.window_updates_per_sec,
            "test_rmse": summary.test_rmse,
            "train_secs": summary.seconds,
            "startup_secs": opened + summary.startup_seconds.unwrap_or(f64::NAN),
            "total_secs": total,
            "call_secs": call_secs,
            "curve": curve,
            "epochs_at": epochs_at,
        })
    );
    Ok(())
}

/// funkd's configuration for `w`: its defaults or LIBMF's model, with the
/// given K, threads, epochs and ISA.
fn funk_config(w: &WorkerArgs, data: &RatingFile) -> Result<funk::daemon::train::TrainConfig> {
    let mut config = funk::daemon::train::TrainConfig::defaults_for(data);
    config.rank = w.factors;
    config.threads = w.threads;
    config.epochs = w.epochs;
    config.checkpoint_every_epochs = 0;
    // Side by side means the same epochs on the same ratings: no early
    // stop, no validation slice held out of what funkd learns from.
    config.early_stop = 0;
    config.validation = 0.0;
    if w.isa != AUTO_ISA {
        config.isa = funk_kernel::Isa::from_name(&w.isa)
            .with_context(|| format!("ISA {:?} is unknown or not on this CPU", w.isa))?;
    }
    if w.model == Model::Like {
        // LIBMF's model and update: p·q without biases, AdaGrad with its
        // η 0.1 and λ_p2 = λ_q2 = 0.1 (`libmf_params`).
        config.kind = funk_kernel::ModelKind::Plain;
        config.schedule = funk_kernel::LearningRate::Adaptive;
        config.learning_rate = 0.1;
        config.reg = 0.1;
        config.reg_row = 0.0;
    }
    Ok(config)
}

/// The training and test ratings copied into LIBMF's matrices, with
/// global internal ids.
fn to_libmf(file: &RatingFile) -> (libmf::Matrix, libmf::Matrix) {
    let p = file.grid();
    let mut train = libmf::Matrix::with_capacity(file.train_count() as usize);
    let mut test = libmf::Matrix::with_capacity(file.test_count() as usize);
    for ub in 0..p {
        let u0 = file.user_band(ub).start;
        for ib in 0..p {
            let i0 = file.item_band(ib).start;
            for (set, ratings) in [
                (&mut train, file.train_block(ub, ib)),
                (&mut test, file.test_block(ub, ib)),
            ] {
                for r in ratings {
                    set.push(
                        (u0 + r.user as usize) as i32,
                        (i0 + r.item as usize) as i32,
                        r.value,
                    );
                }
            }
        }
    }
    (train, test)
}

/// LIBMF's defaults (η 0.1, λ_p2 = λ_q2 = 0.1) with the given K, threads
/// and iterations.
fn libmf_params(w: &WorkerArgs, iterations: u32) -> libmf::Params {
    let mut params = libmf::Model::params();
    params
        .factors(w.factors as i32)
        .threads(w.threads as i32)
        .iterations(iterations as i32)
        .learning_rate(0.1)
        .lambda_p2(0.1)
        .lambda_q2(0.1)
        .quiet(true);
    params
}

/// Trains LIBMF twice (1 and E iterations) and prints its differential
/// rate, test RMSE, start-up and time to its final RMSE; with curves, a
/// third fit prints LIBMF's own per-iteration table first.
pub fn libmf(args: &[String]) -> Result<()> {
    let w = WorkerArgs::parse(args)?;
    let start = Instant::now();
    let file = RatingFile::open(&w.data)?;
    let (train, test) = to_libmf(&file);
    let loaded = start.elapsed().as_secs_f64();
    let n = file.train_count() as f64;

    let t = Instant::now();
    libmf_params(&w, 1)
        .fit(&train)
        .map_err(|e| anyhow!("{e:?}"))?;
    let t1 = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let model = libmf_params(&w, w.epochs)
        .fit(&train)
        .map_err(|e| anyhow!("{e:?}"))?;
    let te = t.elapsed().as_secs_f64();
    let per_epoch = (te - t1) / f64::from(w.epochs.saturating_sub(1).max(1));
    let rate = differential_rate(n, w.epochs, t1, te);
    if rate.is_nan() {
        eprintln!(
            "LIBMF: its {}-iteration fit took no longer than its 1-iteration fit; \
             the data set is too small to measure its rate differentially",
            w.epochs
        );
    }
    let test_rmse = model.rmse(&test).map_err(|e| anyhow!("{e:?}"))?;

    if w.curves {
        // LIBMF prints `iter tr_rmse va_rmse obj` per iteration on stdout;
        // the parent reads the va_rmse column from the lines before ours.
        let mut params = libmf_params(&w, w.epochs);
        params.quiet(false);
        params
            .fit_eval(&train, &test)
            .map_err(|e| anyhow!("{e:?}"))?;
    }
    println!(
        "{}",
        json!({
            "updates_per_sec": rate,
            "test_rmse": test_rmse,
            "train_secs": te,
            "startup_secs": loaded + (t1 - per_epoch).max(0.0),
            "tta_secs": loaded + te,
            "total_secs": start.elapsed().as_secs_f64(),
        })
    );
    Ok(())
}
