//! A trained model with its rating file, as `funk.Model` queries it: funkd
//! serve's [`Snapshot`] (factors, biases, id maps, what each user rated,
//! the fold-in), addressed by internal ids. The Python half maps original
//! ids to internal ones and back.

use std::path::{Path, PathBuf};

use anyhow::Context;
use funk_kernel::{Isa, ModelKind};
use funkd::checkpoint::{hash_of_model, CheckpointDir};
use funkd::eval::{evaluate, Split};
use funkd::model::{predict_with_fallback, Scored};
use funkd::serve::snapshot::{DataSource, Snapshot};
use funkd::svd::recover::RecoveredSvd;
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1};
use pyo3::prelude::*;

use crate::errors::{usage, IntoPy};
use crate::ids::{id_list, Ids};

/// The name of the rating file that `funk.train` writes into a checkpoint
/// directory for a data set with identity `identity`.
pub fn data_file_name(identity: u64) -> String {
    format!("ratings-{identity:016x}.funk")
}

/// A model and its data file, loaded and checked to belong together.
#[pyclass(module = "funk._funk", frozen)]
pub struct RawModel {
    snap: Snapshot,
    isa: Isa,
}

/// Where the data file of the checkpoint `checkpoint` in `dir` is: `data`
/// when given; else the file `funk.train` keeps beside the checkpoints
/// (named by the data's identity); else the one `funkd train` recorded in
/// the directory's status.json.
fn data_source(dir: &Path, identity: u64, data: Option<PathBuf>) -> DataSource {
    if let Some(path) = data {
        return DataSource::Given(path);
    }
    let beside = dir.join(data_file_name(identity));
    if beside.is_file() {
        DataSource::Given(beside)
    } else {
        DataSource::Recorded
    }
}

/// Loads the model at `path`: a checkpoint directory (its newest good
/// checkpoint) or a checkpoint file.
pub fn load_snapshot(path: &Path, data: Option<PathBuf>) -> anyhow::Result<Snapshot> {
    let (dir, file) = if path.is_dir() {
        let found = CheckpointDir::new(path).newest_good()?;
        (path.to_path_buf(), found.path)
    } else {
        let dir = funkd::commands::context::checkpoint_dir_of(path);
        (dir, path.to_path_buf())
    };
    let checkpoint = funkd::checkpoint::store::read(&file)
        .with_context(|| format!("cannot load a model from {}", file.display()))?;
    let source = data_source(&dir, checkpoint.settings.data_identity, data);
    // A damaged block found by the background check is told on stderr,
    // as `funkd serve` tells it (queries that need the block fail).
    let log = funkd::serve::Log::new(std::sync::Arc::new(funkd::report::Stderr::new(false)));
    Snapshot::load(&file, &dir, &source, None, &log)
}

/// Items (internal ids) and their scores, best first.
type Ranked<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<f32>>);

fn scored_arrays<'py>(py: Python<'py>, found: Vec<Scored>) -> Ranked<'py> {
    let ids: Vec<i64> = found.iter().map(|s| s.item as i64).collect();
    let scores: Vec<f32> = found.iter().map(|s| s.score).collect();
    (ids.into_pyarray(py), scores.into_pyarray(py))
}

/// Rows of `rank` values out of a row-major table of `k` values per row.
fn factor_table<'py>(
    py: Python<'py>,
    table: &[f32],
    rows: usize,
    k: usize,
    rank: usize,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let values: Vec<f32> = (0..rows)
        .flat_map(|r| &table[r * k..r * k + rank])
        .copied()
        .collect();
    let array = Array2::from_shape_vec((rows, rank), values)
        .map_err(|e| usage(format!("internal error: {e}")))?;
    Ok(array.into_pyarray(py))
}

impl RawModel {
    fn check_user(&self, user: usize) -> PyResult<()> {
        if user >= self.snap.model.users() {
            return Err(usage(format!(
                "internal user {user} is beyond the model's {} users",
                self.snap.model.users()
            )));
        }
        Ok(())
    }

    fn check_item(&self, item: usize) -> PyResult<()> {
        if item >= self.snap.model.items() {
            return Err(usage(format!(
                "internal item {item} is beyond the model's {} items",
                self.snap.model.items()
            )));
        }
        Ok(())
    }

    fn internal(id: i64, count: usize) -> Option<usize> {
        usize::try_from(id).ok().filter(|&i| i < count)
    }
}

#[pymethods]
impl RawModel {
    /// Loads the model at `path` (a checkpoint directory or file) with its
    /// data file (`data`, else found beside it or recorded in status.json).
    #[staticmethod]
    #[pyo3(signature = (path, data=None))]
    fn load(py: Python<'_>, path: PathBuf, data: Option<PathBuf>) -> PyResult<RawModel> {
        let snap = py.detach(|| load_snapshot(&path, data)).py_err()?;
        Ok(RawModel {
            snap,
            isa: Isa::detect(),
        })
    }

    /// Internal ids of users (-1: unknown).
    fn lookup_users<'py>(&self, py: Python<'py>, ids: Ids<'_>) -> Bound<'py, PyArray1<i64>> {
        ids.lookup(&self.snap.data.user_index()).into_pyarray(py)
    }

    /// Internal ids of items (-1: unknown).
    fn lookup_items<'py>(&self, py: Python<'py>, ids: Ids<'_>) -> Bound<'py, PyArray1<i64>> {
        ids.lookup(&self.snap.data.item_index()).into_pyarray(py)
    }

    /// The original user ids in internal order.
    fn user_ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let data = &self.snap.data;
        id_list(py, data.users(), |u| data.user_id(u))
    }

    /// The original item ids in internal order.
    fn item_ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let data = &self.snap.data;
        id_list(py, data.items(), |i| data.item_id(i))
    }

    /// Predictions for pairs of internal ids, -1 for an unknown one (with
    /// `funkd predict`'s fallbacks), clamped to the rating range if `clamp`.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        users: PyReadonlyArray1<'_, i64>,
        items: PyReadonlyArray1<'_, i64>,
        clamp: bool,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let (users, items) = (users.as_array(), items.as_array());
        if users.len() != items.len() {
            return Err(usage(format!(
                "users and items differ in length ({} and {})",
                users.len(),
                items.len()
            )));
        }
        let model = &self.snap.model;
        let range = if clamp { self.snap.range } else { None };
        let out: Vec<f32> = users
            .iter()
            .zip(items.iter())
            .map(|(&u, &i)| {
                predict_with_fallback(
                    model,
                    self.snap.mean,
                    Self::internal(u, model.users()),
                    Self::internal(i, model.items()),
                    range,
                )
                .value
            })
            .collect();
        Ok(out.into_pyarray(py))
    }

    /// Scores of internal items for a user row (folded in): μ + b + b_i +
    /// p·q_i for the biased model, clamped if `clamp`.
    fn predict_row<'py>(
        &self,
        py: Python<'py>,
        row: PyReadonlyArray1<'_, f32>,
        bias: f32,
        items: PyReadonlyArray1<'_, i64>,
        clamp: bool,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let model = &self.snap.model;
        let row = row.as_array().to_vec();
        if row.len() != model.rank {
            return Err(usage(format!(
                "a user row has {} values, the model's rank is {}",
                row.len(),
                model.rank
            )));
        }
        let range = if clamp { self.snap.range } else { None };
        let out: Vec<f32> = items
            .as_array()
            .iter()
            .map(|&i| {
                let value = match Self::internal(i, model.items()) {
                    Some(i) => {
                        let dot: f32 = row.iter().zip(model.item_row(i)).map(|(p, q)| p * q).sum();
                        match model.kind {
                            ModelKind::Plain => dot,
                            ModelKind::Biased => model.mu + bias + model.item_bias[i] + dot,
                        }
                    }
                    None => match model.kind {
                        ModelKind::Plain => self.snap.mean,
                        ModelKind::Biased => model.mu + bias,
                    },
                };
                funk_kernel::clamp(value, range)
            })
            .collect();
        Ok(out.into_pyarray(py))
    }

    /// The `n` best internal items for internal user `user` (raw scores,
    /// best first; ties to the lower id), leaving out the items the user
    /// rated in the data (both splits) if `exclude_rated`: `funkd
    /// recommend`'s answer.
    fn recommend<'py>(
        &self,
        py: Python<'py>,
        user: usize,
        n: usize,
        exclude_rated: bool,
    ) -> PyResult<Ranked<'py>> {
        self.check_user(user)?;
        let rated = if exclude_rated {
            self.snap.rated_ids(user).py_err()?
        } else {
            Vec::new()
        };
        let found = py
            .detach(|| self.snap.recommend(self.isa, user, &rated, n))
            .map_err(|e| usage(format!("cannot score the items: {e}")))?;
        Ok(scored_arrays(py, found))
    }

    /// The `n` best internal items for a user row (folded in), leaving out
    /// the internal items `exclude`.
    fn recommend_row<'py>(
        &self,
        py: Python<'py>,
        row: PyReadonlyArray1<'_, f32>,
        bias: f32,
        n: usize,
        exclude: PyReadonlyArray1<'_, i64>,
    ) -> PyResult<Ranked<'py>> {
        let model = &self.snap.model;
        let row = row.as_array().to_vec();
        if row.len() != model.rank {
            return Err(usage(format!(
                "a user row has {} values, the model's rank is {}",
                row.len(),
                model.rank
            )));
        }
        let mut excluded = vec![false; model.items()];
        for &i in exclude.as_array() {
            if let Some(i) = Self::internal(i, model.items()) {
                excluded[i] = true;
            }
        }
        let found = py
            .detach(|| self.snap.top_for_row(self.isa, &row, bias, &excluded, n))
            .map_err(|e| usage(format!("cannot score the items: {e}")))?;
        Ok(scored_arrays(py, found))
    }

    /// The `n` internal items nearest to internal item `item` by the cosine
    /// of their factor rows (funkd serve's similar items).
    fn similar_items<'py>(&self, py: Python<'py>, item: usize, n: usize) -> PyResult<Ranked<'py>> {
        self.check_item(item)?;
        let found = py.detach(|| self.snap.similar(self.isa, item, n));
        Ok(scored_arrays(py, found))
    }

    /// A new user's factor row and bias from ratings of internal items,
    /// the items held fixed (the kernel's exact fold-in, with the λ, λ_b
    /// and λ₀ the model was trained with).
    fn fold_in<'py>(
        &self,
        py: Python<'py>,
        items: PyReadonlyArray1<'_, i64>,
        ratings: PyReadonlyArray1<'_, f32>,
    ) -> PyResult<(Bound<'py, PyArray1<f32>>, f32)> {
        let (items, ratings) = (items.as_array(), ratings.as_array());
        if items.len() != ratings.len() {
            return Err(usage(format!(
                "items and ratings differ in length ({} and {})",
                items.len(),
                ratings.len()
            )));
        }
        let mut pairs = Vec::with_capacity(items.len());
        for (&i, &r) in items.iter().zip(ratings.iter()) {
            let Some(item) = Self::internal(i, self.snap.model.items()) else {
                return Err(usage(format!("internal item {i} is not in the model")));
            };
            pairs.push((item, r));
        }
        let (row, bias) = self
            .snap
            .fold_in(&pairs)
            .map_err(|e| usage(format!("cannot fold the user in: {e}")))?;
        Ok((row.into_pyarray(py), bias))
    }

    /// RMSE, MAE and count of the model on a split ("test" or "train") of
    /// its data, clamped to the rating range if `clamp`: `funkd eval`'s
    /// numbers.
    fn evaluate(
        &self,
        py: Python<'_>,
        split: &str,
        clamp: bool,
        threads: usize,
    ) -> PyResult<(f64, f64, u64)> {
        let split = match split {
            "test" => Split::Test,
            "train" => Split::Train,
            other => {
                return Err(usage(format!(
                    "split={other:?}: expected \"test\" or \"train\""
                )))
            }
        };
        let range = if clamp { self.snap.range } else { None };
        let loss = py
            .detach(|| {
                evaluate(
                    &self.snap.data,
                    &self.snap.model,
                    &[split],
                    range,
                    self.isa,
                    threads.max(1),
                )
            })
            .py_err()?;
        let loss = loss[0];
        Ok((loss.rmse(), loss.mae(), loss.count))
    }

    /// The truncated SVD of the factor product P·Qᵀ: (S, U, V), as `funkd svd -o`.
    #[allow(clippy::type_complexity)] // three arrays, named in the docs
    fn svd<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray2<f32>>,
        Bound<'py, PyArray2<f32>>,
    )> {
        let model = &self.snap.model;
        let (s, u, v) = py.detach(|| {
            let svd = RecoveredSvd::from_factors(
                (0..model.users()).map(|u| model.user_row(u)),
                (0..model.items()).map(|i| model.item_row(i)),
                model.rank,
            );
            let s = svd.numerical_rank();
            let u: Vec<f32> = (0..model.users())
                .flat_map(|u| {
                    svd.user_vector(model.user_row(u))
                        .into_iter()
                        .map(|v| v as f32)
                })
                .collect();
            let v: Vec<f32> = (0..model.items())
                .flat_map(|i| {
                    svd.item_vector(model.item_row(i))
                        .into_iter()
                        .map(|v| v as f32)
                })
                .collect();
            (svd.singular_values[..s].to_vec(), u, v)
        });
        let rank = s.len();
        let shape = |rows: usize, values: Vec<f32>| {
            Array2::from_shape_vec((rows, rank), values)
                .map_err(|e| usage(format!("internal error: {e}")))
        };
        let u = shape(model.users(), u)?;
        let v = shape(model.items(), v)?;
        Ok((s.into_pyarray(py), u.into_pyarray(py), v.into_pyarray(py)))
    }

    /// Users × rank factors, internal order.
    #[getter]
    fn user_factors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let m = &self.snap.model;
        factor_table(py, &m.user_factors, m.users(), m.k, m.rank)
    }

    /// Items × rank factors, internal order.
    #[getter]
    fn item_factors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let m = &self.snap.model;
        factor_table(py, &m.item_factors, m.items(), m.k, m.rank)
    }

    /// User biases, internal order.
    #[getter]
    fn user_biases<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        PyArray1::from_slice(py, &self.snap.model.user_bias)
    }

    /// Item biases, internal order.
    #[getter]
    fn item_biases<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        PyArray1::from_slice(py, &self.snap.model.item_bias)
    }

    /// μ (0 for the plain model).
    #[getter]
    fn mu(&self) -> f32 {
        self.snap.model.mu
    }

    /// The mean train rating.
    #[getter]
    fn mean(&self) -> f32 {
        self.snap.mean
    }

    /// The rank.
    #[getter]
    fn rank(&self) -> usize {
        self.snap.model.rank
    }

    /// "biased" or "plain".
    #[getter]
    fn kind(&self) -> &'static str {
        funkd::export::kind_name(self.snap.model.kind)
    }

    /// The data's rating range, if it has one.
    #[getter]
    fn rating_range(&self) -> Option<(f32, f32)> {
        self.snap.range
    }

    /// The checkpoint file the model came from.
    #[getter]
    fn checkpoint(&self) -> PathBuf {
        self.snap.checkpoint.clone()
    }

    /// The rating file the model was trained on.
    #[getter]
    fn data_path(&self) -> PathBuf {
        self.snap.data.path().to_path_buf()
    }

    /// The identity of the rating file (`funkd inspect`'s).
    #[getter]
    fn data_identity(&self) -> u64 {
        self.snap.data.identity()
    }

    /// Epochs trained when the checkpoint was written.
    #[getter]
    fn epoch(&self) -> u32 {
        self.snap.epoch
    }

    /// The epoch whose parameters the model holds.
    #[getter]
    fn model_epoch(&self) -> u32 {
        self.snap.model_epoch
    }

    /// The model's hash (`funkd train`'s "model hash").
    #[getter]
    fn model_hash(&self) -> String {
        hash_of_model(&self.snap.model)
    }

    /// The number of users.
    #[getter]
    fn users(&self) -> usize {
        self.snap.model.users()
    }

    /// The number of items.
    #[getter]
    fn items(&self) -> usize {
        self.snap.model.items()
    }
}
