//! `funkd serve`: the long-lived service. It holds the newest model of a
//! checkpoint directory in memory, answers predictions, top-N, similar
//! items and fold-in of new users over HTTP/1.1 + JSON, and swaps in each
//! newer checkpoint that appears without failing a request.
//!
//! - [`request`]: query strings and bodies, parsed by pure functions.
//! - [`snapshot`]: one loaded, checked model with its rating file.
//! - [`state`]: the published snapshot (an atomic pointer) and settings.
//! - [`reload`]: hot swap (polling, SIGHUP, `POST /v1/reload`).
//! - [`api`]: routes, handlers, JSON errors; [`metrics`]: Prometheus.
//! - [`server`]: connections and their limits; [`notify`]: systemd readiness.
//! - [`ingest_log`], [`segments`] and [`intake`]: `POST /v1/ratings` with
//!   `--intake`.
//! - [`round`] and [`manifest`]: training rounds in the background, and
//!   what they leave on disk to survive a crash.
//! - [`log`]: the service's log, written to a reporter the front end
//!   hands in (the command line's writes it on stderr).
//!
//! `serve` only reads the checkpoints, so it runs beside a `funkd train`
//! writing into the directory (the normal case) and never takes the
//! training writer's lock ([`crate::dirlock`]); `/v1/status` names the
//! writer. With `--intake` it also writes one file of its own there, the
//! ingest log, which it locks (one intake per directory), and the
//! training rounds' files (`serving.json`, `rounds/`).

pub mod api;
pub mod compaction;
pub mod id_key;
pub mod ingest_log;
pub mod intake;
mod json_record;
pub mod known_ids;
pub mod log;
pub mod manifest;
pub mod metrics;
pub mod notify;
pub mod overlay;
pub mod priority;
pub mod reload;
pub mod request;
pub mod round;
pub mod scoring;
pub mod segments;
pub mod server;
pub mod snapshot;
pub mod state;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use arc_swap::ArcSwap;

use crate::commands::context::choose_isa;
use crate::input::titles::Titles;
use crate::usage_bail;
pub use log::Log;
use reload::Trigger;
use server::ConnectionLimits;
use snapshot::{DataSource, Snapshot};
use state::AppState;

/// Options of `funkd serve`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Endpoints (JSON; errors are {\"error\": \"…\"} with a 4xx/5xx status):
  GET  /v1/predict?user=U&item=I     the rating, clamped, and its source (model or a fallback)
  GET  /v1/recommend?user=U&n=N      top-N items the user has not rated (n: 1..1000, default 10)
  GET  /v1/similar?item=I&n=N        the N nearest items by cosine of their factor rows
  POST /v1/fold-in                   {\"ratings\": [{\"item\": I, \"rating\": R}, …], \"n\": N, \"return_row\": false}
  GET  /v1/status                    model, data, uptime, request counts, the directory's writer
  POST /v1/reload                    look for a newer checkpoint now (also SIGHUP)
  POST /v1/ratings                   with --intake: [{\"user\": U, \"item\": I, \"rating\": R}, …] (also NDJSON, CSV)
  POST /v1/train                     with --intake: train a round now (202; 409 while one runs)
  GET  /metrics                      Prometheus text: requests, latency histograms, model age
  GET  /healthz                      200 while a model is being served

A newer checkpoint in DIR (written by `funkd train` there) is loaded and checked off the request
path and swapped in atomically; a damaged one is refused with a log line and the old model keeps
serving. SIGINT/SIGTERM stop accepting, let requests in flight finish, and exit 0.

Training rounds (with --intake): once --round-after-ratings ratings (or --round-after-fraction of
the served data) wait in the ingest log, or --round-every seconds passed since the last publish
with at least one rating waiting, or on POST /v1/train, the service closes the log's segment
(intake goes on in a new one), compacts the served data and the closed segments into a new rating
file (DIR/rounds/round-N/data.funk), trains a run warm-started from the live model with its
settings (at most --round-epochs, stopping early by validation as `funkd train` does, on
--round-threads threads at --background-priority), publishes its best-validation epoch by
replacing DIR/serving.json atomically, and swaps it in. The applied segments and the previous
round's files are removed only after that. Killed at any moment, the next start serves the last
published model and resumes an unfinished round: every acknowledged rating reaches the next
model's data exactly once.

Example:
  funkd train --data ratings.funk --checkpoint-dir run/ &
  funkd serve --dir run/ --titles movie_titles.txt
  curl 'http://127.0.0.1:8080/v1/recommend?user=6&n=5'")]
pub struct ServeArgs {
    /// The checkpoint directory to serve (what `funkd train --checkpoint-dir` writes).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Address to listen on. The default is loopback only; serving other hosts
    /// (e.g. 0.0.0.0:8080) is an explicit choice. Port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The rating file the model was trained on, for its id maps
    /// [default: the one recorded in DIR/status.json by `funkd train`].
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Item titles to show with items: MovieLens u.item / movies.dat / movies.csv or
    /// Netflix movie_titles.txt.
    #[arg(long, value_name = "FILE")]
    pub titles: Option<PathBuf>,
    /// Threads answering requests [default: one per core].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Connections served at once; more are answered 503 and closed.
    #[arg(long, value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Largest request body accepted (bytes); larger ones get 413.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_body_bytes: u32,
    /// Time a request may take, body included, before it is answered 408 (ms).
    #[arg(long, value_name = "MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_ms: u64,
    /// Time a client has to send a request's headers, also the keep-alive idle time (ms).
    #[arg(long, value_name = "MS", default_value_t = 5_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_ms: u64,
    /// How often to look for a newer checkpoint in DIR (ms; 0: only on SIGHUP or POST /v1/reload).
    #[arg(long, value_name = "MS", default_value_t = 1_000)]
    pub poll_ms: u64,
    /// Take in ratings on POST /v1/ratings: each accepted batch is appended to
    /// the ingest log (DIR/ingest-NNNNNNNN.log) and flushed before it is
    /// acknowledged; it is replayed on start. Users with new ratings are
    /// answered from rows folded in at once; new items are recommended after
    /// the next training round, which the service runs itself (--round-*).
    #[arg(long)]
    pub intake: bool,
    /// Testing aid: the ingest log's writer waits this long after the first
    /// batch of a round, so that concurrent batches join it. A flag only
    /// with the `test-hooks` feature (the tests' build); 0 otherwise.
    #[cfg_attr(feature = "test-hooks", arg(long, hide = true, default_value_t = 0))]
    #[cfg_attr(not(feature = "test-hooks"), arg(skip))]
    pub intake_gather_ms: u64,
    /// Train a round once this many ratings wait in the ingest log (with --intake).
    #[arg(long, value_name = "N", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub round_after_ratings: u64,
    /// ... or once this fraction of the served data's train ratings wait, whichever
    /// comes first.
    #[arg(long, value_name = "F", default_value_t = 0.05)]
    pub round_after_fraction: f64,
    /// ... or when this many seconds passed since the model served was published
    /// and at least one rating waits (0: not by time).
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub round_every: u64,
    /// Train only on POST /v1/train, never on the thresholds above.
    #[arg(long)]
    pub no_auto_rounds: bool,
    /// Threads a round trains on. They run at --background-priority, so
    /// queries keep the CPU.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub round_threads: u16,
    /// Most epochs a round trains (early stopping may end it sooner).
    #[arg(long, value_name = "N", default_value_t = crate::train::config::DEFAULT_WARM_EPOCHS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub round_epochs: u32,
    /// Fraction of the train ratings a round holds out as its validation
    /// slice, as `funkd train --validation` does: chosen by original ids, so
    /// the live model never trained on it if it held out at least as much;
    /// the round delivers its best-validation epoch (0: none, the last epoch)
    /// [default: 0.02; 0 when the live model is plain].
    #[arg(long, value_name = "F")]
    pub round_validation: Option<f32>,
    /// Early-stopping patience of a round, as `funkd train --early-stop`:
    /// the round stops when the validation RMSE has not improved for N
    /// epochs (0: never; needs a validation slice).
    #[arg(long, value_name = "N", default_value_t = crate::train::config::DEFAULT_EARLY_STOP)]
    pub round_early_stop: u32,
    /// Testing aid: a round pauses this long after each step and each stratum.
    #[arg(long, hide = true, default_value_t = 0)]
    pub round_step_delay_ms: u64,
    /// CPU priority of background work: a training round (compaction,
    /// training, checking the new data file), loading a hot-swapped
    /// checkpoint, checking the data file's blocks after start-up. `idle`
    /// (Linux's SCHED_IDLE): it runs only when queries leave the CPU free,
    /// so they keep their latency; on a server saturated for long it gets
    /// about 0.3 % of a core and a round or a swap takes that much longer;
    /// its disk reads and writes are in the idle I/O class too. `nice:N` (1..=19): normal class, N lower (queries wait behind its
    /// time slices on a shared core). `normal`: as the queries.
    #[arg(long, value_name = "idle|nice:N|normal", default_value = "idle")]
    pub background_priority: priority::BackgroundPriority,
    /// Instruction set for the dot products (default: the best this CPU has).
    #[arg(long, value_name = "NAME")]
    pub isa: Option<String>,
}

/// Runs `funkd serve` until SIGINT or SIGTERM, writing its log to `log`.
pub fn run(args: ServeArgs, log: Log) -> Result<()> {
    let entered = Instant::now();
    priority::choose(args.background_priority);
    let isa = choose_isa(args.isa.as_deref())?;
    if !args.dir.is_dir() {
        usage_bail!(
            "--dir {}: no such directory (it is where `funkd train --checkpoint-dir` writes)",
            args.dir.display()
        );
    }
    let titles = match &args.titles {
        Some(path) => Some(Titles::load(path)?),
        None => None,
    };
    let source = match &args.data {
        Some(path) => DataSource::Given(path.clone()),
        None => DataSource::Recorded,
    };
    let recovered = if args.intake {
        manifest::recover(&args.dir)?
    } else {
        manifest::Recovered {
            manifest: manifest::Manifest::read(&args.dir)?,
            pending: None,
        }
    };
    let (snapshot, serving) = match &recovered.manifest {
        Some(m) => {
            let checkpoint = manifest::resolved(&args.dir, &m.checkpoint);
            let data = DataSource::Given(manifest::resolved(&args.dir, &m.data));
            let run_dir = checkpoint
                .parent()
                .map_or_else(|| args.dir.clone(), std::path::Path::to_path_buf);
            if args.data.is_some() {
                log.line(&format!(
                    "note: --data is not used: {} names the data of the model round {} published",
                    args.dir.join(manifest::MANIFEST_FILE_NAME).display(),
                    m.generation
                ));
            }
            let snapshot =
                Snapshot::load(&checkpoint, &run_dir, &data, None, &log).with_context(|| {
                    format!(
                        "cannot serve the model {} published",
                        args.dir.join(manifest::MANIFEST_FILE_NAME).display()
                    )
                })?;
            (snapshot, (run_dir, data))
        }
        None => {
            let snapshot = Snapshot::load_newest(&args.dir, &source, &log)
                .with_context(|| format!("nothing to serve in {}", args.dir.display()))?;
            (snapshot, (args.dir.clone(), source))
        }
    };
    let intake = if args.intake {
        Some(start_intake(
            &args.dir,
            &recovered,
            Duration::from_millis(args.intake_gather_ms),
            &log,
        )?)
    } else {
        None
    };
    let rounds = if args.intake {
        if let Some(fraction) = args.round_validation {
            if !(0.0..=0.5).contains(&fraction) {
                usage_bail!(
                    "--round-validation {fraction} must be within 0..=0.5 (a fraction of the train ratings)"
                );
            }
        }
        if args.round_after_fraction.is_nan() || args.round_after_fraction <= 0.0 {
            usage_bail!(
                "--round-after-fraction must be above 0 (use --no-auto-rounds to train only on request), not {}",
                args.round_after_fraction
            );
        }
        let settings = round::RoundSettings {
            auto: !args.no_auto_rounds,
            after_ratings: args.round_after_ratings,
            after_fraction: args.round_after_fraction,
            every: (args.round_every > 0).then(|| Duration::from_secs(args.round_every)),
            threads: usize::from(args.round_threads),
            epochs: args.round_epochs,
            validation: args.round_validation,
            early_stop: args.round_early_stop,
            step_delay: (args.round_step_delay_ms > 0)
                .then(|| Duration::from_millis(args.round_step_delay_ms)),
        };
        Some(round::Rounds::new(
            settings,
            &recovered,
            snapshot.written_unix,
        ))
    } else {
        None
    };
    let threads = match args.threads {
        Some(n) => usize::from(n),
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("funkd-serve")
        .enable_all()
        .build()
        .context("cannot start the request threads")?;
    let state = Arc::new(AppState {
        snapshot: ArcSwap::from_pointee(snapshot),
        dir: args.dir.clone(),
        serving: Mutex::new(serving),
        titles,
        isa,
        metrics: Arc::new(metrics::Metrics::new()),
        started: Instant::now(),
        max_body_bytes: args.max_body_bytes as usize,
        max_connections: args.max_connections as usize,
        request_timeout: Duration::from_millis(args.request_timeout_ms),
        reload_lock: tokio::sync::Mutex::new(()),
        refused: Mutex::new(Vec::new()),
        intake,
        rounds,
        scoring: scoring::ScoringPool::new(threads).context("cannot start the scoring threads")?,
        log,
    });
    round::start(&state)?;
    let limits = ConnectionLimits {
        max_connections: args.max_connections as usize,
        header_timeout: Duration::from_millis(args.header_timeout_ms),
        grace: Duration::from_secs(5),
    };
    runtime.block_on(serve_until_stopped(
        state,
        args.listen,
        limits,
        args.poll_ms,
        entered,
    ))
}

/// Opens and replays the ingest log of `dir` (the segments not applied
/// yet) and starts its writer.
fn start_intake(
    dir: &std::path::Path,
    recovered: &manifest::Recovered,
    gather: Duration,
    log: &Log,
) -> Result<state::Intake> {
    let claimed = recovered.pending.as_ref().map_or(0, |p| p.last_segment);
    let opened = segments::open(dir, recovered.applied_through(), claimed)?;
    for (path, bytes, why) in &opened.cuts {
        log.warning(&format!(
            "cut a torn tail of {bytes} bytes off {} ({why}); \
             it held no acknowledged rating",
            path.display()
        ));
    }
    let mut overlay = intake::Overlay::default();
    for (batch, segment) in opened.batches() {
        overlay.apply(batch, segment);
    }
    let pending = opened.pending();
    let ratings: u64 = pending.values().map(|s| s.ratings).sum();
    let segments::OpenedLog {
        lock,
        segments: replayed,
        active,
        ..
    } = opened;
    log.line(&format!(
        "intake on: {} replayed ({ratings} ratings of {} users in {} segment(s) not yet trained on)",
        segments::path(dir, active.0).display(),
        overlay.users(),
        replayed.len()
    ));
    let overlay = Arc::new(std::sync::RwLock::new(overlay));
    let applied = Arc::clone(&overlay);
    let active_replay = replayed
        .iter()
        .find(|(n, _)| *n == active.0)
        .map(|(_, r)| r)
        .context("the active segment was replayed")?;
    let log = ingest_log::LogWriter::start(
        dir.to_path_buf(),
        active,
        active_replay,
        pending,
        gather,
        log.clone(),
        move |batch, segment| {
            applied
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take(batch, segment);
        },
    )?;
    let cut_at_start = replayed
        .iter()
        .filter_map(|(_, r)| r.cut.clone())
        .reduce(|(a, why), (b, _)| (a + b, why));
    Ok(state::Intake {
        log,
        overlay,
        cut_at_start,
        lock,
    })
}

async fn serve_until_stopped(
    state: Arc<AppState>,
    listen: SocketAddr,
    limits: ConnectionLimits,
    poll_ms: u64,
    entered: Instant,
) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let bound = listener
        .local_addr()
        .with_context(|| format!("cannot listen on {listen}"))?;
    let mut hangups = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    let mut interrupts = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminations = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(server::serve(
        listener,
        api::router(Arc::clone(&state)),
        limits,
        Arc::clone(&state.metrics),
        state.log.clone(),
        stop_rx,
    ));
    {
        let s = state.current();
        state.log.line(&format!(
            "serving {} (epoch {}, {} users × {} items, rank {}), ready in {:.3} s",
            s.checkpoint.display(),
            s.epoch,
            s.model.users(),
            s.model.items(),
            s.model.rank,
            entered.elapsed().as_secs_f64()
        ));
    }
    state.log.line(&format!("listening on http://{bound}"));
    if let Err(e) = notify::sd_notify("READY=1") {
        state.log.warning(&format!("cannot notify systemd: {e}"));
    }
    let poller = (poll_ms > 0).then(|| {
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(poll_ms));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                reload::reload(&state, Trigger::Poll).await;
            }
        })
    });
    let why = loop {
        tokio::select! {
            _ = hangups.recv() => {
                let state = Arc::clone(&state);
                tokio::spawn(async move { reload::reload(&state, Trigger::Request).await });
            }
            _ = interrupts.recv() => break "SIGINT",
            _ = terminations.recv() => break "SIGTERM",
        }
    };
    state.log.line(&format!(
        "{why}: finishing the requests in flight, then stopping"
    ));
    let _ = notify::sd_notify("STOPPING=1");
    if let Some(poller) = poller {
        poller.abort();
    }
    let _ = stop_tx.send(true);
    let _ = server.await;
    Ok(())
}
