//! funkd and LIBMF side by side on the same ratings, in one run.
//!
//! ```text
//! benches/side-by-side.sh [--scale 0.1 | --data FILE]
//!                         [--factors 32,128] [--threads 1,2] [--cells 32x1,128x2]
//!                         [--variants defaults,like] [--like-libmf] [--isa avx512,avx2]
//!                         [--epochs 20] [--reps 3] [--first-rep 1] [--curves]
//!                         [--cpus 1,0] [--only funk|libmf] [--raw-out FILE]
//! benches/side-by-side.sh --summarize FILE [--curves]
//! ```
//!
//! (the script builds LIBMF with `CXXFLAGS=-march=native`, i.e. with AVX,
//! and runs `cargo bench --bench side_by_side -- …`; `--help` explains
//! every option).
//!
//! Every measurement runs in a child process of its own (this binary run
//! again in a worker mode), so that each one's peak resident memory is its
//! own (`wait4`'s `ru_maxrss`). For each K × threads (a *cell*) and each
//! repetition, LIBMF trains first, then every funkd variant (a model —
//! funkd's defaults or LIBMF's — on an ISA), their order reversed in every
//! other repetition. Each variant's ratio is the median over repetitions
//! of its run ÷ the LIBMF run of the same repetition, which a host whose
//! speed drifts from minute to minute disturbs least. With `--cpus LIST`
//! a T-thread measurement of either system is pinned to the first T CPUs
//! of LIST, so both run on the same cores (on a VM whose virtual CPUs
//! differ in speed, an unpinned run's rate depends on where the scheduler
//! put it).
//!
//! A long series can be split into short calls: `--cells 128x1 --reps 1
//! --first-rep 2 --raw-out raw.jsonl` measures one repetition of one cell
//! and appends it to `raw.jsonl` (one JSON line per cell × repetition);
//! `--summarize raw.jsonl` prints the tables of everything appended.
//!
//! - **funkd**: `funkd::train::train` on the memory-mapped file with its
//!   defaults (biased model, its own schedule) and the given K, threads,
//!   epochs; with `--variants like` (or `--like-libmf`), LIBMF's model
//!   instead (plain p·q, no biases, the adaptive schedule, η 0.1, λ 0.1).
//!   Its updates/s are by the wall clock: updates over the seconds from
//!   the start of the first epoch to the end of the last, everything each
//!   epoch does included (evaluation, the checkpoint, …). Beside it, the
//!   rate in the same scope as LIBMF's: every variant also trains for one
//!   epoch in a worker of its own, just before its E-epoch run, and
//!   rate = (E − 1)·N / (t_E − t_1), with t the wall time of the whole
//!   `funkd::train::train` call (so that, as for LIBMF, what a run pays
//!   once — set-up, the first epoch's extra work, the final checkpoint —
//!   cancels out), and its own ratio against LIBMF. The rate inside the
//!   training windows alone is shown as a diagnostic. Start-up is the
//!   time from opening the file to the first update.
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

#[path = "side_by_side/summary.rs"]
mod summary;
#[path = "side_by_side/worker.rs"]
mod worker;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use funk::daemon::ratingfile::RatingFile;
use worker::{Model, WorkerArgs, AUTO_ISA};

const USAGE: &str = "\
funkd and LIBMF side by side on the same ratings.

usage: benches/side-by-side.sh [OPTIONS]
       benches/side-by-side.sh --summarize FILE [--curves]

What to train on:
  --data FILE          a .funk rating file
  --scale S            or a Netflix-shaped set generated at scale S (default 0.1)
  --epochs E           epochs (LIBMF: iterations) per run (default 20)

Which cells (K x threads):
  --factors LIST       K values, e.g. 32,128 (default 32,128)
  --threads LIST       thread counts, e.g. 1,2 (default 1,2)
  --cells LIST         explicit cells instead, e.g. 32x1,128x2

Which funkd runs each LIBMF run is paired with (every model on every ISA):
  --variants LIST      defaults (funkd's own model) and/or like (LIBMF's
                       model: plain, adaptive schedule, eta 0.1, lambda 0.1);
                       default: defaults
  --like-libmf         the same as --variants like
  --isa LIST           funkd's instruction sets, e.g. avx512,avx2
                       (default: the best this CPU has)

How:
  --reps N             repetitions of every cell (default 3)
  --first-rep N        number of the first repetition (default 1); the funkd
                       variants run in reverse order in even-numbered ones
  --cpus LIST          pin a T-thread run to the first T CPUs listed
  --curves             also print test RMSE per epoch (costs LIBMF a third fit)
  --only funk|libmf    run one system only (no ratios)
  --raw-out FILE       append one JSON line per cell and repetition to FILE

  --summarize FILE     print the tables of the raw lines in FILE, measure nothing
  --help               this text

Rates are updates per second by the wall clock (funkd: over its whole
training phase; LIBMF: differential between a 1- and an E-iteration fit);
ratio = median over repetitions of funkd / LIBMF of the same repetition.
funkd's same-scope rate is differential as LIBMF's: every funkd variant
also trains one epoch in a worker of its own, and
rate = (E - 1) * N / (t_E - t_1) with t the wall time of each whole train
call; its ratio is shown beside the whole-phase one.
";

/// One funkd configuration measured against each LIBMF run.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Variant {
    model: Model,
    /// An ISA name, or [`AUTO_ISA`].
    isa: String,
}

/// What one parent invocation measures (or summarizes).
#[derive(Debug, Clone)]
struct Plan {
    data: Option<PathBuf>,
    scale: f64,
    /// (K, threads) pairs, in order.
    cells: Vec<(usize, usize)>,
    epochs: u32,
    reps: usize,
    /// The number of the first repetition (1-based).
    first_rep: usize,
    curves: bool,
    only: Option<String>,
    cpus: Option<Vec<usize>>,
    variants: Vec<Variant>,
    raw_out: Option<PathBuf>,
    summarize: Option<PathBuf>,
}

fn parse_list(s: &str) -> Result<Vec<usize>> {
    s.split(',')
        .map(|x| {
            x.trim()
                .parse::<usize>()
                .with_context(|| format!("bad number {x:?} in {s:?}"))
        })
        .collect()
}

/// Cells written `KxT`, comma-separated: `32x1,128x2`.
fn parse_cells(s: &str) -> Result<Vec<(usize, usize)>> {
    s.split(',')
        .map(|cell| {
            let (k, t) = cell
                .trim()
                .split_once('x')
                .with_context(|| format!("--cells: {cell:?} is not KxT (e.g. 32x1)"))?;
            let k = k
                .parse()
                .with_context(|| format!("--cells: bad K in {cell:?}"))?;
            let t = t
                .parse()
                .with_context(|| format!("--cells: bad threads in {cell:?}"))?;
            if k == 0 || t == 0 {
                bail!("--cells: K and threads must be positive in {cell:?}");
            }
            Ok((k, t))
        })
        .collect()
}

/// ISA names, each known and available on this CPU (or `auto`).
fn parse_isas(s: &str) -> Result<Vec<String>> {
    s.split(',')
        .map(|name| {
            let name = name.trim();
            if name != AUTO_ISA && funk_kernel::Isa::from_name(name).is_none() {
                let available: Vec<&str> = funk_kernel::Isa::available()
                    .iter()
                    .map(|i| i.name())
                    .collect();
                bail!(
                    "--isa {name}: unknown or not available on this CPU (available: {})",
                    available.join(", ")
                );
            }
            Ok(name.to_string())
        })
        .collect()
}

/// Every model on every ISA, models outermost.
fn variants(models: &[Model], isas: &[String]) -> Vec<Variant> {
    models
        .iter()
        .flat_map(|&model| {
            isas.iter().map(move |isa| Variant {
                model,
                isa: isa.clone(),
            })
        })
        .collect()
}

/// Reads the command line; `Ok(None)` for `--help`.
fn parse_plan(args: &[String]) -> Result<Option<Plan>> {
    let mut factors = vec![32, 128];
    let mut threads = vec![1, 2];
    let mut cells = None;
    let mut models = vec![Model::Defaults];
    let mut isas = vec![AUTO_ISA.to_string()];
    let mut plan = Plan {
        data: None,
        scale: 0.1,
        cells: Vec::new(),
        epochs: 20,
        reps: 3,
        first_rep: 1,
        curves: false,
        only: None,
        cpus: None,
        variants: Vec::new(),
        raw_out: None,
        summarize: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("{a} needs a value"))
                .cloned()
        };
        match a.as_str() {
            "--help" | "-h" => return Ok(None),
            "--data" => plan.data = Some(PathBuf::from(value()?)),
            "--scale" => plan.scale = value()?.parse().context("--scale")?,
            "--factors" => factors = parse_list(&value()?)?,
            "--threads" => threads = parse_list(&value()?)?,
            "--cells" => cells = Some(parse_cells(&value()?)?),
            "--epochs" => plan.epochs = value()?.parse().context("--epochs")?,
            "--reps" => plan.reps = value()?.parse().context("--reps")?,
            "--first-rep" => plan.first_rep = value()?.parse().context("--first-rep")?,
            "--only" => plan.only = Some(value()?),
            "--curves" => plan.curves = true,
            "--like-libmf" => models = vec![Model::Like],
            "--variants" => {
                models = value()?
                    .split(',')
                    .map(|m| Model::from_name(m.trim()))
                    .collect::<Result<_>>()?
            }
            "--isa" => isas = parse_isas(&value()?)?,
            "--cpus" => plan.cpus = Some(parse_list(&value()?)?),
            "--raw-out" => plan.raw_out = Some(PathBuf::from(value()?)),
            "--summarize" => plan.summarize = Some(PathBuf::from(value()?)),
            // cargo bench passes --bench; ignore it and other harness flags.
            "--bench" | "--nocapture" => {}
            other if other.starts_with("--") => bail!("unknown option {other}"),
            _ => {}
        }
    }
    if let Some(only) = plan.only.as_deref() {
        if only != "funk" && only != "libmf" {
            bail!("--only {only}: expected funk or libmf");
        }
    }
    if plan.first_rep == 0 {
        bail!("--first-rep counts from 1");
    }
    plan.cells = cells.unwrap_or_else(|| {
        factors
            .iter()
            .flat_map(|&k| threads.iter().map(move |&t| (k, t)))
            .collect()
    });
    plan.variants = variants(&models, &isas);
    Ok(Some(plan))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("__worker-funk") => worker::funk(&args[1..]),
        Some("__worker-libmf") => worker::libmf(&args[1..]),
        _ => match parse_plan(&args) {
            Ok(None) => {
                print!("{USAGE}");
                Ok(())
            }
            Ok(Some(plan)) => run(&plan),
            Err(e) => {
                eprintln!("side_by_side: {e:#}\n(--help lists the options)");
                std::process::exit(2);
            }
        },
    };
    if let Err(e) = result {
        eprintln!("side_by_side: {e:#}");
        std::process::exit(1);
    }
}

/// Summarizes a raw file, or measures and then prints the tables.
fn run(plan: &Plan) -> Result<()> {
    if let Some(raw) = &plan.summarize {
        let groups = summary::read_raw(raw)?;
        if groups.is_empty() {
            bail!("{} holds no results yet", raw.display());
        }
        summary::print(&groups, plan.curves);
        return Ok(());
    }
    let groups = measure_all(plan)?;
    println!();
    summary::print(&groups, plan.curves);
    Ok(())
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

    /// The worker's fields with its peak RSS and its curve added: what the
    /// raw results and the tables keep of one run.
    fn into_record(self) -> Value {
        let curve = self.curve();
        let mut record = self.json;
        record["peak_rss_mib"] = json!(self.peak_rss_mib);
        record["curve"] = json!(curve);
        record
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

/// Runs one worker, reports its wall time on stderr and returns its record.
fn measure(label: &str, mode: &str, w: &WorkerArgs, cpus: Option<&[usize]>) -> Result<Value> {
    let start = Instant::now();
    let record = run_child(mode, &w.to_args(), cpus)?.into_record();
    eprintln!("  {label}: {:.1} s", start.elapsed().as_secs_f64());
    Ok(record)
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

/// The data set's path and shape, as recorded with every group.
fn describe_data(path: &Path) -> Result<Value> {
    let file = RatingFile::open(path)
        .with_context(|| format!("cannot open rating file {}", path.display()))?;
    Ok(json!({
        "path": path.display().to_string(),
        "users": file.users(),
        "items": file.items(),
        "train": file.train_count(),
        "test": file.test_count(),
        "noise_floor": file.noise_floor(),
    }))
}

/// The CPUs a `threads`-thread run is pinned to, if `--cpus` was given.
fn cell_cpus(plan: &Plan, threads: usize) -> Result<Option<&[usize]>> {
    match &plan.cpus {
        Some(list) if list.len() < threads => {
            bail!(
                "--cpus names {} CPUs; {threads} threads need {threads}",
                list.len()
            )
        }
        Some(list) => Ok(Some(&list[..threads])),
        None => Ok(None),
    }
}

/// Measures every cell `plan.reps` times, appending each group to the raw
/// file (if any) as soon as it is measured; returns the groups.
fn measure_all(plan: &Plan) -> Result<Vec<Value>> {
    let data = ensure_data(plan)?;
    let context = json!({
        "run": run_id()?,
        "epochs": plan.epochs,
        "data": describe_data(&data)?,
        "libmf_cxxflags": option_env!("CXXFLAGS").unwrap_or(""),
    });
    // Check the pinning of every cell before the first (long) measurement.
    for &(_, t) in &plan.cells {
        cell_cpus(plan, t)?;
    }
    let mut groups = Vec::new();
    for &(k, t) in &plan.cells {
        for rep in plan.first_rep..plan.first_rep + plan.reps {
            let group = measure_group(plan, &data, (k, t), rep, &context)?;
            if let Some(raw) = &plan.raw_out {
                append_line(raw, &group)?;
            }
            groups.push(group);
        }
    }
    Ok(groups)
}

/// An id for this invocation, so that repetitions numbered alike in
/// different calls stay apart in a raw file.
fn run_id() -> Result<String> {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    Ok(format!("{secs}-{}", std::process::id()))
}

/// One repetition of one cell: LIBMF, then every funkd variant (in reverse
/// order in even-numbered repetitions).
fn measure_group(
    plan: &Plan,
    data: &Path,
    (k, t): (usize, usize),
    rep: usize,
    context: &Value,
) -> Result<Value> {
    eprintln!("K={k} threads={t} repetition {rep}");
    let cpus = cell_cpus(plan, t)?;
    let args = |model, isa: &str| WorkerArgs {
        data: data.to_path_buf(),
        factors: k,
        threads: t,
        epochs: plan.epochs,
        curves: plan.curves,
        model,
        isa: isa.to_string(),
    };
    let libmf = if plan.only.as_deref() == Some("funk") {
        Value::Null
    } else {
        let w = args(Model::Defaults, AUTO_ISA);
        measure("LIBMF", "__worker-libmf", &w, cpus)?
    };
    let mut order = plan.variants.clone();
    if rep.is_multiple_of(2) {
        order.reverse();
    }
    let n = file_train_count(context);
    let mut funkd = Vec::new();
    if plan.only.as_deref() != Some("libmf") {
        for v in &order {
            let label = format!("funkd {} {}", v.model.name(), v.isa);
            // The 1-epoch run first, then the E-epoch one, each in its own
            // worker: the rate in LIBMF's scope is their difference.
            let one_epoch = WorkerArgs {
                epochs: 1,
                curves: false,
                ..args(v.model, &v.isa)
            };
            let one = measure(
                &format!("{label} (1 epoch)"),
                "__worker-funk",
                &one_epoch,
                cpus,
            )?;
            let full = measure(&label, "__worker-funk", &args(v.model, &v.isa), cpus)?;
            funkd.push(summary::with_same_scope(full, &one, n, plan.epochs));
        }
    }
    let mut group = context.clone();
    group["k"] = json!(k);
    group["threads"] = json!(t);
    group["rep"] = json!(rep);
    group["libmf"] = libmf;
    group["funkd"] = json!(funkd);
    Ok(group)
}

/// The number of train ratings recorded in a group's `context` (NaN when
/// unknown).
fn file_train_count(context: &Value) -> f64 {
    context["data"]["train"].as_f64().unwrap_or(f64::NAN)
}

/// Appends `value` as one line to `path` and syncs it, so that a series
/// split over many calls loses nothing already measured.
fn append_line(path: &Path, value: &Value) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open --raw-out {} for appending", path.display()))?;
    writeln!(file, "{value}")
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot append to {}", path.display()))
}
