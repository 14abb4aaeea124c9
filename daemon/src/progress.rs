//! Progress for long jobs: a bar on stderr when stderr is a terminal;
//! otherwise a plain line every few seconds (so logs of long runs show
//! life), or nothing at all when asked to be quiet.
//!
//! ```
//! let p = funkd::progress::Progress::new("import", Some(1000), funkd::progress::Unit::Bytes, false);
//! p.inc(500);
//! p.finish();
//! ```

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What the count measures (decides how it is printed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Bytes (shown as KiB/MiB/GiB).
    Bytes,
    /// Things (ratings, users, blocks).
    Items,
}

/// How often the non-terminal fallback prints a line.
const LINE_EVERY: Duration = Duration::from_secs(10);

/// A progress indicator; cheap to update from several threads.
#[derive(Debug)]
pub struct Progress {
    label: String,
    total: Option<u64>,
    unit: Unit,
    bar: Option<ProgressBar>,
    lines: Option<Mutex<(Instant, u64)>>,
}

impl Progress {
    /// Starts a progress indicator for `label` with an optional `total`.
    /// `quiet` shows nothing at all.
    pub fn new(label: &str, total: Option<u64>, unit: Unit, quiet: bool) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let bar = (!quiet && terminal).then(|| {
            let bar = match total {
                Some(n) => ProgressBar::new(n),
                None => ProgressBar::new_spinner(),
            };
            let counts = match unit {
                Unit::Bytes => "{bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
                Unit::Items => "{human_pos}/{human_len} ({per_sec}, {eta})",
            };
            let template = if total.is_some() {
                format!("{{prefix}} [{{bar:30}}] {counts}")
            } else {
                "{prefix} {spinner} {human_pos} ({per_sec})".to_string()
            };
            if let Ok(style) = ProgressStyle::with_template(&template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(label.to_string());
            bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(4));
            bar
        });
        let lines = (!quiet && !terminal).then(|| Mutex::new((Instant::now(), 0)));
        Progress {
            label: label.to_string(),
            total,
            unit,
            bar,
            lines,
        }
    }

    /// A progress indicator that shows nothing.
    pub fn hidden() -> Progress {
        Progress::new("", None, Unit::Items, true)
    }

    /// Adds `n` to the count.
    pub fn inc(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
        if let Some(lines) = &self.lines {
            if let Ok(mut state) = lines.lock() {
                state.1 += n;
                if state.0.elapsed() >= LINE_EVERY {
                    state.0 = Instant::now();
                    eprintln!("{}", self.line(state.1));
                }
            }
        }
    }

    /// Ends the indicator (removes the bar).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn line(&self, done: u64) -> String {
        let show = |n: u64| match self.unit {
            Unit::Bytes => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
            Unit::Items => n.to_string(),
        };
        match self.total {
            Some(t) if t > 0 => format!(
                "{}: {} of {} ({:.0}%)",
                self.label,
                show(done),
                show(t),
                100.0 * done as f64 / t as f64
            ),
            _ => format!("{}: {}", self.label, show(done)),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
