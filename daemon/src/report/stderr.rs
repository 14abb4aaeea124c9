//! [`Stderr`]: the command line's reporter.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::progress::Progress;
use super::{Counter, Reporter, Unit};
use crate::runstate::EpochRecord;

/// Notes (`funkd: …`) and warnings (`funkd: warning: …`) on stderr, a
/// line per epoch, and progress bars while stderr is a terminal (a line
/// every few seconds when it is not). Quiet: warnings and notices only.
#[derive(Debug)]
pub struct Stderr {
    quiet: bool,
    /// The strata bar of the epoch in progress.
    bar: Mutex<Option<ProgressBar>>,
}

impl Stderr {
    /// A reporter on stderr; `quiet` (`-q`) keeps only warnings and notices.
    pub fn new(quiet: bool) -> Stderr {
        Stderr {
            quiet,
            bar: Mutex::new(None),
        }
    }

    /// Whether notes are left out.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// Prints `line` on stderr, out of the bar's way.
    fn print(&self, line: &str) {
        match self.bar().as_ref() {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    fn bar(&self) -> MutexGuard<'_, Option<ProgressBar>> {
        self.bar.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Reporter for Stderr {
    fn note(&self, message: &str) {
        if !self.quiet {
            self.print(&format!("funkd: {message}"));
        }
    }

    fn warning(&self, message: &str) {
        self.print(&format!("funkd: warning: {message}"));
    }

    fn notice(&self, message: &str) {
        self.print(&format!("funkd: {message}"));
    }

    fn settings(&self, table: &str) {
        if !self.quiet {
            self.print(table.trim_end_matches('\n'));
        }
    }

    fn epoch_started(&self, epoch: u32, epochs: u32, strata_done: u64, strata: u64) {
        if self.quiet {
            return;
        }
        let mut bar = self.bar();
        let bar = bar.get_or_insert_with(|| strata_bar(strata));
        bar.set_prefix(format!("{}/{epochs}", epoch + 1));
        bar.set_position(strata_done);
        bar.set_message("");
    }

    fn stratum_done(&self, updates_per_sec: f64) {
        if let Some(bar) = self.bar().as_ref() {
            bar.inc(1);
            bar.set_message(format!("{:.1} M updates/s", updates_per_sec / 1e6));
        }
    }

    fn epoch_done(&self, r: &EpochRecord) {
        let mut test = match (r.test_rmse, r.test_mae) {
            (Some(rmse), Some(mae)) => format!("test rmse {rmse:.4} mae {mae:.4}"),
            _ => "no test split".to_string(),
        };
        if let Some(v) = r.validation_rmse {
            test = format!("valid rmse {v:.4}  {test}");
        }
        if !self.quiet {
            self.print(&format!(
                "epoch {:>3}/{}  train rmse {:.4}  {test}  lr {:.4e}  {:.1} M updates/s  {:.1} s  ETA {}",
                r.epoch,
                r.epochs,
                r.train_rmse,
                r.learning_rate,
                r.updates_per_sec / 1e6,
                r.seconds,
                eta(r.eta_seconds)
            ));
        }
    }

    fn training_ended(&self) {
        if let Some(bar) = self.bar().take() {
            bar.finish_and_clear();
        }
    }

    fn progress(&self, label: &str, total: Option<u64>, unit: Unit) -> Box<dyn Counter + '_> {
        Box::new(Progress::new(label, total, unit, self.quiet))
    }
}

/// The bar over an epoch's strata (drawn only on a terminal).
fn strata_bar(strata: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(strata), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("  epoch {prefix} [{bar:30}] {pos}/{len} strata {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Seconds to go, as `12.5s`, `3m05s` or `2h07m`.
fn eta(secs: f64) -> String {
    let d = Duration::from_secs_f64(secs.max(0.0));
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::eta;

    #[test]
    fn eta_reads_in_the_largest_sensible_units() {
        assert_eq!(eta(12.34), "12.3s");
        assert_eq!(eta(185.0), "3m05s");
        assert_eq!(eta(7620.0), "2h07m");
        assert_eq!(eta(-1.0), "0.0s");
    }
}
