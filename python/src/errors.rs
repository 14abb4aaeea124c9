//! funkd's errors as Python exceptions: a usage error (what `funkd` exits
//! 2 for: a bad value, a conflict with the run in a directory) becomes
//! `funk.UsageError` (a `ValueError`), anything else `funk.FunkError`. The
//! message is the CLI's, one line, causes joined by ": ".

use pyo3::prelude::*;

/// The Python exception for a funkd error.
pub fn to_py(err: anyhow::Error) -> PyErr {
    let message = funkd::error::render(&err);
    let class = if funkd::error::exit_code(&err) == 2 {
        "UsageError"
    } else {
        "FunkError"
    };
    raise(class, message)
}

/// `funk.UsageError(message)`: a bad argument, in the CLI's words.
pub fn usage(message: impl Into<String>) -> PyErr {
    raise("UsageError", message.into())
}

fn raise(class: &str, message: String) -> PyErr {
    Python::attach(|py| {
        let made = py
            .import("funk._errors")
            .and_then(|m| m.getattr(class))
            .and_then(|c| c.call1((message.clone(),)));
        match made {
            Ok(value) => PyErr::from_value(value),
            // The package is always importable when this module is; should
            // it not be, the message still reaches the user.
            Err(_) => pyo3::exceptions::PyRuntimeError::new_err(message),
        }
    })
}

/// Converts a funkd result.
pub trait IntoPy<T> {
    /// The value, or the error as a Python exception.
    fn py_err(self) -> PyResult<T>;
}

impl<T, E: Into<anyhow::Error>> IntoPy<T> for Result<T, E> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(|e| to_py(e.into()))
    }
}
