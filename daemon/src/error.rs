//! Errors that decide the exit code.

use std::fmt;

/// A mistake in how the program was called (a flag value that parses but
/// makes no sense, a missing combination of flags): exit code 2, like the
/// errors clap reports itself. Everything else is a runtime error (exit 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Returns early with a [`UsageError`] built from a format string.
#[macro_export]
macro_rules! usage_bail {
    ($($arg:tt)*) => {
        return Err(anyhow::Error::new($crate::error::UsageError(format!($($arg)*))))
    };
}

/// The exit code for an error chain: 2 when any cause is a [`UsageError`],
/// otherwise 1.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err
        .chain()
        .any(|c| c.downcast_ref::<UsageError>().is_some())
    {
        2
    } else {
        1
    }
}

/// The error chain as one line, causes joined by ": " like `{:#}` does, but
/// saying each thing once: a cause whose text the message already ends
/// with (an error that quotes its source and also returns it from
/// `source()`) is not repeated.
pub fn render(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.is_empty() || line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that quotes its source in its message and also returns it.
    #[derive(Debug, thiserror::Error)]
    #[error("data.csv: {source}")]
    struct Quoting {
        source: std::io::Error,
    }

    fn not_found() -> std::io::Error {
        std::io::Error::from(std::io::ErrorKind::NotFound)
    }

    #[test]
    fn render_says_a_quoted_source_once() {
        let err = anyhow::Error::new(Quoting {
            source: not_found(),
        })
        .context("cannot import");
        let os = not_found().to_string();
        let line = render(&err);
        assert_eq!(line, format!("cannot import: data.csv: {os}"));
        // `{:#}` alone would say it twice.
        assert_eq!(format!("{err:#}").matches(&os).count(), 2);
    }

    #[test]
    fn render_keeps_distinct_causes() {
        let err = anyhow::Error::new(not_found()).context("cannot read x");
        assert_eq!(render(&err), format!("cannot read x: {}", not_found()));
        assert_eq!(exit_code(&err), 1);
    }
}
