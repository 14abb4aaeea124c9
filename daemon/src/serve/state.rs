//! What every request sees: the published snapshot behind an atomic
//! pointer (a query takes its own reference and keeps it to the end, so a
//! swap never changes the model under it), the settings, the metrics.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use funk_kernel::Isa;

use super::ingest_log::LogWriter;
use super::intake::Overlay;
use super::metrics::Metrics;
use super::scoring::ScoringPool;
use super::snapshot::{DataSource, Snapshot};
use crate::input::titles::Titles;

/// A checkpoint that was refused, so that polling does not retry it until
/// it changes.
#[derive(Clone, Debug, PartialEq)]
pub struct Refused {
    /// The file.
    pub path: PathBuf,
    /// Its length and modification time when it was refused.
    pub stamp: Option<(u64, std::time::SystemTime)>,
    /// Why.
    pub error: String,
    /// When (seconds since the Unix epoch).
    pub at_unix: f64,
}

/// The service's shared state.
#[derive(Debug)]
pub struct AppState {
    /// The model being served.
    pub snapshot: ArcSwap<Snapshot>,
    /// The served directory (`--dir`).
    pub dir: PathBuf,
    /// Where newer checkpoints are looked for, and their rating file: `dir`
    /// and the data `funkd train` recorded (or `--data`) until a training
    /// round publishes, then the round's run and data.
    pub serving: Mutex<(PathBuf, DataSource)>,
    /// Item titles, when started with `--titles`.
    pub titles: Option<Titles>,
    /// The instruction set for dot products.
    pub isa: Isa,
    /// Request and model metrics.
    pub metrics: Arc<Metrics>,
    /// When the service started.
    pub started: Instant,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// The most connections served at once.
    pub max_connections: usize,
    /// The longest a request may take, body included.
    pub request_timeout: Duration,
    /// Reloads run one at a time.
    pub reload_lock: tokio::sync::Mutex<()>,
    /// The checkpoints refused and not retried until they change, newest
    /// first.
    pub refused: Mutex<Vec<Refused>>,
    /// Rating intake (`--intake`), if on.
    pub intake: Option<Intake>,
    /// Training rounds (with `--intake`), if on.
    pub rounds: Option<super::round::Rounds>,
    /// Where top-N queries run: off the request threads, one per request
    /// thread at a time.
    pub scoring: ScoringPool,
    /// The service's log.
    pub log: super::Log,
}

/// Rating intake: the ingest log's writer and the ratings taken in.
#[derive(Debug)]
pub struct Intake {
    /// Appends batches durably (group commit).
    pub log: LogWriter,
    /// The ratings taken in, by user.
    pub overlay: Arc<RwLock<Overlay>>,
    /// Torn bytes cut off the log's tail at start, and why.
    pub cut_at_start: Option<(u64, String)>,
    /// The directory's intake lock, held while the service runs.
    pub lock: std::fs::File,
}

impl Intake {
    /// The new ratings of `user`, if any were taken in.
    pub fn ratings_of(&self, user: &str) -> Option<Vec<(String, f32)>> {
        self.overlay
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .ratings_of(user)
    }
}

impl AppState {
    /// Where newer checkpoints are looked for, and their rating file.
    pub fn serving(&self) -> (PathBuf, DataSource) {
        self.serving
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Serves checkpoints of `dir` with `data` from now on.
    pub fn set_serving(&self, dir: &std::path::Path, data: DataSource) {
        *self
            .serving
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = (dir.to_path_buf(), data);
    }

    /// The snapshot being served now.
    pub fn current(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// The newest refused checkpoint, if any.
    pub fn last_refused(&self) -> Option<Refused> {
        self.refused_list().into_iter().next()
    }

    /// Every checkpoint refused and not retried until it changes.
    pub fn refused_list(&self) -> Vec<Refused> {
        self.refused
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Replaces the list of refused checkpoints.
    pub fn set_refused(&self, refused: Vec<Refused>) {
        *self
            .refused
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = refused;
    }
}
