//! A rating file from coded ratings: what `funk.train` writes when it is
//! given arrays or a DataFrame, built exactly as `funkd import` builds one
//! from a text file with the same ratings in the same order (same id
//! numbering, duplicate policy, test split and renumbering seed), so that
//! training on it gives the same bits as `funkd import` + `funkd train`.

use std::path::PathBuf;

use anyhow::Context;
use clap::ValueEnum;
use funkd::import::{Builder, DuplicatePolicy, Split};
use funkd::ratingfile::{self, WriteOptions};
use numpy::PyReadonlyArray1;
use pyo3::prelude::*;

use crate::errors::{usage, IntoPy};

/// Ratings as three equally long columns: user code, item code (indices
/// into the id lists) and value.
type Columns<'py> = (
    PyReadonlyArray1<'py, u32>,
    PyReadonlyArray1<'py, u32>,
    PyReadonlyArray1<'py, f32>,
);

/// One split's ratings, copied out of the arrays.
struct Coded {
    users: Vec<u32>,
    items: Vec<u32>,
    values: Vec<f32>,
}

impl Coded {
    fn from_columns(columns: &Columns<'_>, which: &str) -> PyResult<Coded> {
        let (u, i, v) = columns;
        let coded = Coded {
            users: u.as_array().to_vec(),
            items: i.as_array().to_vec(),
            values: v.as_array().to_vec(),
        };
        if coded.users.len() != coded.items.len() || coded.users.len() != coded.values.len() {
            return Err(usage(format!(
                "the {which} users, items and ratings differ in length ({}, {} and {})",
                coded.users.len(),
                coded.items.len(),
                coded.values.len()
            )));
        }
        Ok(coded)
    }
}

/// Writes the rating file `path` from `train` (and `test`) ratings whose
/// users and items are codes into `user_names` / `item_names`. The names
/// are numbered in list order, as `funkd import` numbers ids in order of
/// first appearance; `duplicates`, `test_fraction`, `seed`, `rating_range`
/// and `grid` are `funkd import`'s `--duplicates`, `--test-fraction`,
/// `--seed`, `--rating-range` and `--grid`. `source` is recorded in the
/// file. `durable`: written as `funkd import` writes (a temporary file,
/// fsynced and renamed, so that a crash leaves the whole file or none);
/// else written plainly, for a run in a temporary directory that nothing
/// resumes. Returns the write summary as JSON.
#[pyfunction]
#[pyo3(signature = (path, user_names, item_names, train, test, *, rating_range, duplicates, test_fraction, seed, grid, source, durable))]
#[allow(clippy::too_many_arguments)] // one caller: the package's Python half
pub fn write_rating_file(
    py: Python<'_>,
    path: PathBuf,
    user_names: Vec<String>,
    item_names: Vec<String>,
    train: Columns<'_>,
    test: Option<Columns<'_>>,
    rating_range: Option<(f32, f32)>,
    duplicates: &str,
    test_fraction: f64,
    seed: u64,
    grid: Option<usize>,
    source: String,
    durable: bool,
) -> PyResult<String> {
    let policy = DuplicatePolicy::from_str(duplicates, false).map_err(|_| {
        usage(format!(
            "duplicates={duplicates:?}: expected one of \"keep-last\", \"keep-first\", \"mean\", \"error\""
        ))
    })?;
    if !(0.0..1.0).contains(&test_fraction) {
        return Err(usage(format!(
            "test_fraction must be in [0, 1), got {test_fraction}"
        )));
    }
    if let Some((lo, hi)) = rating_range {
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            return Err(usage(format!(
                "rating_range ({lo}, {hi}) is not a finite range with min ≤ max"
            )));
        }
    }
    let train = Coded::from_columns(&train, "train")?;
    let test = match &test {
        Some(columns) => Some(Coded::from_columns(columns, "test")?),
        None => None,
    };
    py.detach(|| {
        let mut b = Builder::new(rating_range);
        if policy == DuplicatePolicy::Error {
            b.refuse_duplicates();
        }
        for name in &user_names {
            b.user(name);
        }
        for name in &item_names {
            b.item(name);
        }
        for (coded, split, which) in [
            (Some(&train), Split::Train, "train"),
            (test.as_ref(), Split::Test, "test"),
        ] {
            let Some(coded) = coded else { continue };
            for (n, ((&u, &i), &v)) in coded
                .users
                .iter()
                .zip(&coded.items)
                .zip(&coded.values)
                .enumerate()
            {
                let (Some(user), Some(item)) =
                    (user_names.get(u as usize), item_names.get(i as usize))
                else {
                    funkd::usage_bail!(
                        "{which} rating #{n} has user code {u} / item code {i}, beyond the {} users and {} items named",
                        user_names.len(),
                        item_names.len()
                    );
                };
                if !v.is_finite() {
                    funkd::usage_bail!(
                        "{which} rating #{n} (user {user:?}, item {item:?}) is not a finite number ({v})"
                    );
                }
                b.at_line(n as u64 + 1);
                if let Err(why) = b.add_interned(split, u, i, v) {
                    funkd::usage_bail!("{which} rating #{n} (user {user:?}, item {item:?}): {why}");
                }
            }
        }
        let (set, _) = b
            .finish(policy, test_fraction, seed, source)
            .map_err(|e| anyhow::Error::new(funkd::error::UsageError(e)))
            .context("cannot build the rating file")?;
        if set.train.is_empty() {
            funkd::usage_bail!("no training ratings left (all input went to the test split)");
        }
        let options = WriteOptions { grid, seed };
        let written = if durable {
            ratingfile::write(&path, &set, &options)?
        } else {
            let (bytes, written) = ratingfile::encode(&set, &options)?;
            std::fs::write(&path, bytes)
                .with_context(|| format!("cannot write the rating file {}", path.display()))?;
            written
        };
        Ok(serde_json::to_string(&written)?)
    })
    .py_err()
}
