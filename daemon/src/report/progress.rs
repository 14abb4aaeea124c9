//! Progress for long jobs: a bar on stderr when stderr is a terminal;
//! otherwise a plain line every few seconds (so logs of long runs show
//! life), or nothing at all when asked to be quiet.
//!
//! ```
//! let p = funkd::report::progress::Progress::new("import", Some(1000), funkd::report::progress::Unit::Bytes, false);
//! p.inc(500);
//! p.finish();
//! ```

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use std::fmt;

use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// What the count measures (decides how it is printed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Bytes (shown as KiB/MiB/GiB).
    Bytes,
    /// Things, named in the plural (`"users"`, `"ratings"`): shown as
    /// counts, the rate as "12,345 users/s".
    Count(&'static str),
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
                Unit::Count(_) => "{human_pos}/{human_len} {unit} ({rate}, {eta})",
            };
            let template = if total.is_some() {
                format!("{{prefix}} [{{bar:30}}] {counts}")
            } else {
                "{prefix} {spinner} {human_pos} {unit} ({rate})".to_string()
            };
            let name = match unit {
                Unit::Bytes => "bytes",
                Unit::Count(name) => name,
            };
            if let Ok(style) = ProgressStyle::with_template(&template) {
                let style = style
                    .with_key("unit", move |_: &ProgressState, w: &mut dyn fmt::Write| {
                        let _ = w.write_str(name);
                    })
                    .with_key("rate", move |s: &ProgressState, w: &mut dyn fmt::Write| {
                        let _ = write!(w, "{}", rate(s.per_sec(), name));
                    });
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
        Progress::new("", None, Unit::Count("items"), true)
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
        let (show, name): (fn(u64) -> String, &str) = match self.unit {
            Unit::Bytes => (|n| format!("{:.1}", n as f64 / (1u64 << 20) as f64), "MiB"),
            Unit::Count(name) => (|n| HumanCount(n).to_string(), name),
        };
        match self.total {
            Some(t) if t > 0 => format!(
                "{}: {} of {} {name} ({:.0}%)",
                self.label,
                show(done),
                show(t),
                100.0 * done as f64 / t as f64
            ),
            _ => format!("{}: {} {name}", self.label, show(done)),
        }
    }
}

/// A rate as a whole number of things per second with thousands
/// separators: "22,046 users/s" (below 10/s, one decimal: "2.5 users/s").
pub fn rate(per_sec: f64, name: &str) -> String {
    if !per_sec.is_finite() || per_sec < 0.0 {
        format!("- {name}/s")
    } else if per_sec < 10.0 {
        format!("{per_sec:.1} {name}/s")
    } else {
        format!("{} {name}/s", HumanCount(per_sec.round() as u64))
    }
}

impl super::Counter for Progress {
    fn inc(&self, n: u64) {
        Progress::inc(self, n);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_have_a_unit_and_no_fraction_digits() {
        assert_eq!(rate(22_046.022_5, "users"), "22,046 users/s");
        assert_eq!(rate(2.54, "ratings"), "2.5 ratings/s");
        assert_eq!(rate(f64::NAN, "users"), "- users/s");
    }
}
