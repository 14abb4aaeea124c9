//! Original ids across the boundary. A rating file stores ids as strings;
//! Python hands them in as an integer array (formatted in decimal, as a
//! text file would hold them) or as strings, and gets them back as an
//! `int64` array when every id of the axis is an integer written the
//! canonical way (`42`, `-7`; not `007` or `+1`), else as strings.

use std::fmt::Write;

use funkd::ratingfile::IdIndex;
use numpy::{IntoPyArray, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyList;

/// Ids to look up.
#[derive(FromPyObject)]
pub enum Ids<'py> {
    /// Integer ids.
    Ints(PyReadonlyArray1<'py, i64>),
    /// Ids already turned into strings.
    Strings(Vec<String>),
}

impl Ids<'_> {
    /// The internal id of every id, -1 where `index` does not hold it.
    pub fn lookup(&self, index: &IdIndex<'_>) -> Vec<i64> {
        let find = |id: &str| index.get(id).map_or(-1, |i| i as i64);
        match self {
            Ids::Ints(ints) => {
                let mut text = String::new();
                ints.as_array()
                    .iter()
                    .map(|n| {
                        text.clear();
                        // Writing to a String cannot fail.
                        let _ = write!(text, "{n}");
                        find(&text)
                    })
                    .collect()
            }
            Ids::Strings(strings) => strings.iter().map(|s| find(s)).collect(),
        }
    }
}

/// Whether `id` is an integer in canonical decimal form.
fn canonical_int(id: &str) -> Option<i64> {
    let n: i64 = id.parse().ok()?;
    (n.to_string() == id).then_some(n)
}

/// The `count` ids `id(0..count)` in internal order: an `int64` array when
/// every one is a canonical integer, else a list of strings.
pub fn id_list<'py, 'a>(
    py: Python<'py>,
    count: usize,
    id: impl Fn(usize) -> &'a str,
) -> PyResult<Bound<'py, PyAny>> {
    let ints: Option<Vec<i64>> = (0..count).map(|i| canonical_int(id(i))).collect();
    match ints {
        Some(ints) => Ok(ints.into_pyarray(py).into_any()),
        None => Ok(PyList::new(py, (0..count).map(&id))?.into_any()),
    }
}
