//! The service's log: what `funkd serve` tells while it runs (the model it
//! serves, a swap, a round published or failed, a damaged block, a
//! connection it could not accept), sent to the [`Reporter`] the front end
//! hands in. The command line's [`crate::report::Stderr`] writes it on
//! stderr, one `funkd: …` line each; a test hands in a
//! [`crate::report::Collecting`] and reads it back.
//!
//! Every line is a notice (shown even when notes are not) or a warning; an
//! error the service lives on (a failed write of the ingest log, a damaged
//! band of the rating file) is a notice that begins `error: `.

use std::sync::Arc;

use crate::report::{Reporter, Silent};

/// A handle on the service's log, cheap to clone into the threads that
/// write to it.
#[derive(Clone)]
pub struct Log(Arc<dyn Reporter + Send>);

impl Log {
    /// The log that goes to `reporter`.
    pub fn new(reporter: Arc<dyn Reporter + Send>) -> Log {
        Log(reporter)
    }

    /// A log that drops everything (library use, tests of other things).
    pub fn silent() -> Log {
        Log(Arc::new(Silent))
    }

    /// What the service does: `funkd: {message}` on stderr.
    pub fn line(&self, message: &str) {
        self.0.notice(message);
    }

    /// Something went wrong that the service works around:
    /// `funkd: warning: {message}`.
    pub fn warning(&self, message: &str) {
        self.0.warning(message);
    }

    /// Something failed that the service lives on without:
    /// `funkd: error: {message}`.
    pub fn error(&self, message: &str) {
        self.0.notice(&format!("error: {message}"));
    }
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Log")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Collecting, Event};

    #[test]
    fn lines_warnings_and_errors_reach_the_reporter_in_order() {
        let collected = Arc::new(Collecting::default());
        let log = Log::new(Arc::clone(&collected) as Arc<dyn Reporter + Send>);
        log.line("listening on http://127.0.0.1:8080");
        log.warning("cannot notify systemd: no socket");
        log.clone().error("cannot write the ingest log: disk full");
        assert_eq!(
            collected.events(),
            [
                Event::Notice("listening on http://127.0.0.1:8080".into()),
                Event::Warning("cannot notify systemd: no socket".into()),
                Event::Notice("error: cannot write the ingest log: disk full".into()),
            ]
        );
    }
}
