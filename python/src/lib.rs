//! `funk._funk`: the native half of the `funk` Python package.
//!
//! The Python half (`funk/`) turns whatever the user has (NumPy arrays, a
//! pandas DataFrame, ids of any kind) into dense codes and strings; this
//! half does the work with funkd's own code, without the GIL:
//!
//! - [`numbering`]: integer ids numbered in order of first appearance,
//!   as `funkd import` numbers them;
//! - [`data`]: a rating file from coded ratings, built exactly as
//!   `funkd import` builds one;
//! - [`training`]: `funkd train`'s options, defaults, checks and training
//!   loop, with Ctrl-C and a progress callback;
//! - [`model`]: a trained model and its data file (funkd serve's
//!   snapshot), queried by internal ids;
//! - [`errors`]: funkd's errors as the package's Python exceptions.
#![deny(unsafe_op_in_unsafe_fn)]

mod data;
mod errors;
mod ids;
mod model;
mod numbering;
mod training;

use pyo3::prelude::*;

/// The native module. Its names are private to the package: the public API
/// is `funk.train`, `funk.Model` and the exceptions of `funk`.
#[pymodule]
fn _funk(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(numbering::number_ints, m)?)?;
    m.add_function(wrap_pyfunction!(data::write_rating_file, m)?)?;
    m.add_function(wrap_pyfunction!(training::train, m)?)?;
    m.add_function(wrap_pyfunction!(training::defaults, m)?)?;
    m.add_function(wrap_pyfunction!(training::move_aside, m)?)?;
    m.add_class::<model::RawModel>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
