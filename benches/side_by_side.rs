//! funkd and LIBMF side by side on the same ratings, in one run.
//!
//! ```text
//! benches/side-by-side.sh [--scale 0.1 | --data FILE] [--factors 32,128]
//!                         [--threads 1,2] [--epochs 20] [--reps 3] [--curves]
//!                         [--cpus 1,0] [--like-libmf]
//! ```
//!
//! (the script builds LIBMF with `CXXFLAGS=-march=native`, i.e. with AVX,
//! and runs `cargo bench --bench side_by_side -- …`).
//!
//! Every measurement runs in a child process of its own (this binary run
//! again in a worker mode), so that each one's peak resident memory is its
//! own (`wait4`'s `ru_maxrss`). For each K × threads the two systems run
//! interleaved, `--reps` times, and the medians are compared; the ratio
//! column is the median of the per-repetition ratios (each funkd run
//! against the LIBMF run right after it), which a host whose speed drifts
//! from minute to minute disturbs least. With `--cpus LIST` a T-thread
//! measurement of either system is pinned to the first T CPUs of LIST, so
//! both run on the same cores (on a VM whose virtual CPUs differ in speed,
//! an unpinned run's rate depends on where the scheduler put it).
//!
//! - **funkd**: `funkd::train::train` on the memory-mapped file with its
//!   defaults (biased model, its own schedule) and the given K, threads,
//!   epochs; with `--like-libmf`, LIBMF's model instead (plain p·q, no
//!   biases, the adaptive schedule, η 0.1, λ 0.1). Its updates/s are by
//!   the wall clock: updates over the seconds from the start of the first
//!   epoch to the end of the last, everything each epoch does included
//!   (evaluation, the checkpoint, …); the rate inside the training windows
//!   alone is shown as a diagnostic. Start-up is the time from opening the
//!   file to the first update.
//! - **LIBMF** (through the `libmf` crate): the same training ratings
//!   copied into a `libmf::Matrix` (global internal ids), its defaults
//!   (η 0.1, λ_p2 = λ_q2 = 0.1, 20 bins, no biases) and the given K,
//!   threads, epochs. `fit` includes LIBMF's own re-gridding and scaling,
//!   so its pure training rate is measured differentially: a 1-iteration
//!   fit and an E-iteration fit, rate = (E − 1)·N / (t_E − t_1). Start-up
//!   is the copy into its matrix plus the 1-iteration fit's overhead.
//!
//! Time to accuracy: the wall-clock seconds from the worker's start (before
//! the file is opened: loading included) until the test RMSE first reaches
//! LIBMF's final test RMSE of the same repetition. funkd's is read from the
//! `unix_time` and `test_rmse` of each epoch in its `metrics.jsonl`; LIBMF
//! reaches its own final RMSE when its E-iteration fit returns (loading plus
//! that fit). "—" when funkd never reaches it in the epochs run.
//!
//! This is a measurement program, not a test: it asserts nothing and prints
//! what it measured.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use funk::daemon::ratingfile::RatingFile;

/// What one parent invocation measures.
#[derive(Debug, Clone)]
struct Plan {
    data: Option<PathBuf>,
    scale: f64,
    factors: Vec<usize>,
    threads: Vec<usize>,
    epochs: u32,
    reps: usize,
    curves: bool,
    only: Option<String>,
    cpus: Option<Vec<usize>>,
    like_libmf: bool,
}

fn parse_list(s: &str) -> Result<Vec<usize>> {
    s.split(',')
        .map(|x| {
            x.trim()
                .parse::<usize>()
                .with_context(|| format!("bad number {x:?}"))
        })
        .collect()
}

fn parse_plan(args: &[String]) -> Result<Plan> {
    let mut plan = Plan {
        data: None,
        scale: 0.1,
        factors: vec![32, 128],
        threads: vec![1, 2],
        epochs: 20,
        reps: 3,
        curves: false,
        only: None,
        cpus: None,
        like_libmf: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("{a} needs a value"))
                .cloned()
        };
        match a.as_str() {
            "--data" => plan.data = Some(PathBuf::from(value()?)),
            "--scale" => plan.scale = value()?.parse()?,
            "--factors" => plan.factors = parse_list(&value()?)?,
            "--threads" => plan.threads = parse_list(&value()?)?,
            "--epochs" => plan.epochs = value()?.parse()?,
            "--reps" => plan.reps = value()?.parse()?,
            "--only" => plan.only = Some(value()?),
            "--curves" => plan.curves = true,
            "--like-libmf" => plan.like_libmf = true,
            "--cpus" => plan.cpus = Some(parse_list(&value()?)?),
            // cargo bench passes --bench; ignore it and other harness flags.
            "--bench" | "--nocapture" => {}
            other if other.starts_with("--") => bail!("unknown option {other}"),
            _ => {}
        }
    }
    Ok(plan)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("__worker-funk") => worker_funk(&args[1..]),
        Some("__worker-libmf") => worker_libmf(&args[1..]),
        _ => parent(parse_plan(&args)?),
    }
}

// ---------------------------------------------------------------- parent

/// One child's result: its JSON line, what it printed before it, and its
/// peak RSS in MiB.
struct Measured {
    json: Value,
    preamble: Vec<String>,
    peak_rss_mib: f64,
}

impl Measured {
    /// Test RMSE per epoch: the worker's `curve`, or else the `va_rmse`
    /// column of LIBMF's own per-iteration table.
    fn curve(&self) -> Vec<f64> {
        if let Some(c) = self.json["curve"].as_array() {
            return c.iter().filter_map(Value::as_f64).collect();
        }
        self.preamble
            .iter()
            .filter_map(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                match cols.as_slice() {
                    [iter, _tr, va, _obj] if iter.parse::<u32>().is_ok() => va.parse().ok(),
                    _ => None,
                }
            })
            .collect()
    }
}

/// The set of `cpus`, for `sched_setaffinity`.
fn cpu_set(cpus: &[usize]) -> Result<libc::cpu_set_t> {
    // SAFETY: an all-zero `cpu_set_t` is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        if cpu >= libc::CPU_SETSIZE as usize {
            bail!("--cpus: CPU {cpu} is beyond what this system can name");
        }
        // SAFETY: `cpu` is below CPU_SETSIZE, so it indexes `set`.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    Ok(set)
}

/// Runs this binary in worker `mode`, pinned to `cpus` when given.
fn run_child(mode: &str, args: &[String], cpus: Option<&[usize]>) -> Result<Measured> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe()?;
    let mut command = Command::new(exe);
    command
        .arg(mode)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(cpus) = cpus {
        let set = cpu_set(cpus)?;
        // SAFETY: the closure only makes one system call (async-signal-safe)
        // on a set built before the fork.
        unsafe {
            command.pre_exec(move || {
                if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let child = command.spawn().context("cannot start a worker")?;
    let pid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.context("no stdout")?;
    let mut out = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut out)?;
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet reaped (the `Child` handle's
    // stdout was taken and it is never waited on through std); `status` and
    // `usage` are valid, writable and live for the call.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if rc != pid || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!("{mode} worker failed (status {status}); its stderr is above");
    }
    let mut lines: Vec<String> = out.lines().map(str::to_owned).collect();
    let line = lines.pop().context("worker printed nothing")?;
    Ok(Measured {
        json: serde_json::from_str(&line).with_context(|| format!("bad worker output {line:?}"))?,
        preamble: lines,
        peak_rss_mib: usage.ru_maxrss as f64 / 1024.0,
    })
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

fn ensure_data(plan: &Plan) -> Result<PathBuf> {
    if let Some(d) = &plan.data {
        return Ok(d.clone());
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("netflix-scale-{}.funk", plan.scale));
    if !path.exists() {
        eprintln!("generating {} (scale {}) …", path.display(), plan.scale);
        let config = funk::daemon::gen::GenConfig {
            scale: plan.scale,
            ..Default::default()
        };
        let reporter = funk::daemon::report::Stderr::new(false);
        funk::daemon::gen::generate_with(&config, &path, false, &reporter)?;
    }
    Ok(path)
}

fn parent(plan: Plan) -> Result<()> {
    let data = ensure_data(&plan)?;
    let file = RatingFile::open(&data)?;
    println!(
        "data: {} — {} users × {} items, {} train / {} test ratings, noise floor {}",
        data.display(),
        file.users(),
        file.items(),
        file.train_count(),
        file.test_count(),
        file.noise_floor()
            .map_or("unknown".into(), |f| format!("{f:.4}"))
    );
    println!(
        "LIBMF built with CXXFLAGS={:?}; {} epochs; {} repetitions, medians shown",
        option_env!("CXXFLAGS").unwrap_or(""),
        plan.epochs,
        plan.reps
    );
    drop(file);
    let mut rows = Vec::new();
    for &k in &plan.factors {
        for &t in &plan.threads {
            let args = vec![
                data.display().to_string(),
                k.to_string(),
                t.to_string(),
                plan.epochs.to_string(),
                plan.curves.to_string(),
                plan.like_libmf.to_string(),
            ];
            let cpus = match &plan.cpus {
                Some(list) if list.len() < t => {
                    bail!("--cpus names {} CPUs; {t} threads need {t}", list.len())
                }
                Some(list) => Some(&list[..t]),
                None => None,
            };
            let (mut funk, mut libmf) = (Vec::new(), Vec::new());
            for rep in 0..plan.reps {
                eprintln!("K={k} threads={t} repetition {}/{}", rep + 1, plan.reps);
                if plan.only.as_deref() != Some("libmf") {
                    funk.push(run_child("__worker-funk", &args, cpus)?);
                }
                if plan.only.as_deref() != Some("funk") {
                    libmf.push(run_child("__worker-libmf", &args, cpus)?);
                }
            }
            rows.push(report_row(k, t, &funk, &libmf, plan.curves));
        }
    }
    println!();
    println!(
        "funkd: {}",
        if plan.like_libmf {
            "LIBMF's model (plain, adaptive schedule, learning rate 0.1, reg 0.1)"
        } else {
            "its defaults"
        }
    );
    println!(
        "| K | threads | funkd M upd/s | LIBMF M upd/s | ratio | funkd in-window M upd/s | funkd test RMSE | LIBMF test RMSE | funkd s to LIBMF's RMSE | LIBMF s to its RMSE | funkd start-up s | LIBMF start-up s | funkd peak MiB | LIBMF peak MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!("{r}");
    }
    Ok(())
}

fn field(ms: &[Measured], key: &str) -> f64 {
    median(ms.iter().filter_map(|m| m.json[key].as_f64()).collect())
}

fn report_row(k: usize, t: usize, funk: &[Measured], libmf: &[Measured], curves: bool) -> String {
    let f_rate = field(funk, "updates_per_sec") / 1e6;
    let l_rate = field(libmf, "updates_per_sec") / 1e6;
    let rate = |m: &Measured| m.json["updates_per_sec"].as_f64();
    let ratio = median(
        funk.iter()
            .zip(libmf)
            .filter_map(|(f, l)| Some(rate(f)? / rate(l)?))
            .collect(),
    );
    if curves {
        for (name, ms) in [("funkd", funk), ("LIBMF", libmf)] {
            if let Some(m) = ms.first() {
                let curve: Vec<String> = m.curve().iter().map(|x| format!("{x:.4}")).collect();
                println!(
                    "K={k} threads={t} {name} test RMSE per epoch: {}",
                    curve.join(" ")
                );
            }
        }
    }
    let rss = |ms: &[Measured]| median(ms.iter().map(|m| m.peak_rss_mib).collect());
    // funkd's seconds to each repetition's LIBMF RMSE (∞ when not reached).
    let reached: Vec<f64> = funk
        .iter()
        .zip(libmf)
        .filter_map(|(f, l)| {
            let target = l.json["test_rmse"].as_f64()?;
            let epochs = f.json["epochs_at"].as_array()?;
            Some(
                epochs
                    .iter()
                    .find(|e| e[1].as_f64().is_some_and(|r| r <= target))
                    .and_then(|e| e[0].as_f64())
                    .unwrap_or(f64::INFINITY),
            )
        })
        .collect();
    let funk_tta = median(reached);
    let funk_tta = if funk_tta.is_finite() {
        format!("{funk_tta:.1}")
    } else {
        "—".to_string()
    };
    format!(
        "| {k} | {t} | {f_rate:.1} | {l_rate:.1} | {ratio:.2}× | {:.1} | {:.4} | {:.4} | {funk_tta} | {:.1} | {:.2} | {:.2} | {:.0} | {:.0} |",
        field(funk, "window_updates_per_sec") / 1e6,
        field(funk, "test_rmse"),
        field(libmf, "test_rmse"),
        field(libmf, "tta_secs"),
        field(funk, "startup_secs"),
        field(libmf, "startup_secs"),
        rss(funk),
        rss(libmf),
    )
}

// ---------------------------------------------------------------- workers

struct WorkerArgs {
    data: PathBuf,
    factors: usize,
    threads: usize,
    epochs: u32,
    curves: bool,
    like_libmf: bool,
}

fn worker_args(args: &[String]) -> Result<WorkerArgs> {
    let [data, k, t, e, c, l] = args else {
        bail!("worker needs 6 arguments, got {args:?}");
    };
    Ok(WorkerArgs {
        data: PathBuf::from(data),
        factors: k.parse()?,
        threads: t.parse()?,
        epochs: e.parse()?,
        curves: c.parse()?,
        like_libmf: l.parse()?,
    })
}

fn worker_funk(args: &[String]) -> Result<()> {
    use funk::daemon::train::{self, TrainConfig};
    let w = worker_args(args)?;
    let start = Instant::now();
    let start_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs_f64();
    let data = RatingFile::open(&w.data)?;
    let opened = start.elapsed().as_secs_f64();
    let mut config = TrainConfig::defaults_for(&data);
    config.rank = w.factors;
    config.threads = w.threads;
    config.epochs = w.epochs;
    config.checkpoint_every_epochs = 0;
    // Side by side means the same epochs on the same ratings: no early
    // stop, no validation slice held out of what funkd learns from.
    config.early_stop = 0;
    config.validation = 0.0;
    if w.like_libmf {
        // LIBMF's model and update: p·q without biases, AdaGrad with its
        // η 0.1 and λ_p2 = λ_q2 = 0.1 (`libmf_params`).
        config.kind = funk_kernel::ModelKind::Plain;
        config.schedule = funk_kernel::LearningRate::Adaptive;
        config.learning_rate = 0.1;
        config.reg = 0.1;
        config.reg_row = 0.0;
    }
    let dir = tempfile::tempdir()?;
    let summary = train::train(&data, &config, dir.path(), &funk::daemon::report::Silent)?;
    let total = start.elapsed().as_secs_f64();
    let epochs: Vec<Value> = std::fs::read_to_string(dir.path().join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect();
    let curve: Vec<Value> = if w.curves {
        epochs.iter().map(|v| v["test_rmse"].clone()).collect()
    } else {
        Vec::new()
    };
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
            "updates_per_sec": summary.updates_per_sec,
            "window_updates_per_sec": summary.window_updates_per_sec,
            "test_rmse": summary.test_rmse,
            "train_secs": summary.seconds,
            "startup_secs": opened + summary.startup_seconds.unwrap_or(f64::NAN),
            "total_secs": total,
            "isa": summary.isa,
            "curve": curve,
            "epochs_at": epochs_at,
        })
    );
    Ok(())
}

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

fn worker_libmf(args: &[String]) -> Result<()> {
    let w = worker_args(args)?;
    let start = Instant::now();
    let file = RatingFile::open(&w.data)?;
    let (train, test) = to_libmf(&file);
    let loaded = start.elapsed().as_secs_f64();
    let n = file.train_count() as f64;

    let t = Instant::now();
    libmf_params(&w, 1)
        .fit(&train)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let t1 = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let model = libmf_params(&w, w.epochs)
        .fit(&train)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let te = t.elapsed().as_secs_f64();
    let per_epoch = (te - t1) / f64::from(w.epochs.saturating_sub(1).max(1));
    let test_rmse = model.rmse(&test).map_err(|e| anyhow::anyhow!("{e:?}"))?;

    if w.curves {
        // LIBMF prints `iter tr_rmse va_rmse obj` per iteration on stdout;
        // the parent reads the va_rmse column from the lines before ours.
        let mut params = libmf_params(&w, w.epochs);
        params.quiet(false);
        params
            .fit_eval(&train, &test)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    println!(
        "{}",
        json!({
            "updates_per_sec": n / per_epoch,
            "test_rmse": test_rmse,
            "train_secs": te,
            "startup_secs": loaded + (t1 - per_epoch).max(0.0),
            "tta_secs": loaded + te,
            "total_secs": start.elapsed().as_secs_f64(),
        })
    );
    Ok(())
}
