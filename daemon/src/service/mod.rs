//! funkd as a long-lived service: signals arrive on a channel that the
//! training loop `select!`s over, and the run's state is published in a
//! status file (replaced atomically) and a metrics log (JSON lines).
//!
//! - [`signals`]: SIGINT/SIGTERM → stop, SIGHUP → checkpoint, SIGUSR1 → status line.
//! - [`status`]: `status.json` (with the run's data file) and `metrics.jsonl` in the checkpoint directory.
//! - [`liveness`]: who wrote a status file, and whether that process still runs.

pub mod liveness;
pub mod signals;
pub mod status;

pub use liveness::{Liveness, ProcessIdentity};
pub use signals::{Request, SignalListener};
pub use status::{MetricsLog, RunState, Status, StatusFile, STATUS_FILE_NAME};
