//! One published model, loaded and checked whole before anyone sees it:
//! the checkpoint's factors and biases, the rating file it was trained on
//! (id maps, what each user rated, the rating range), and what the queries
//! need precomputed (the item factors packed for the kernel's scoring, item
//! norms). Loading also starts a check of every block of a newly opened
//! rating file on a thread of its own, so that no query pays for it.
//!
//! A snapshot never changes once built; the service swaps whole snapshots
//! (see [`super::state`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use anyhow::{Context, Result};
use funk_kernel::{fold_in, FoldIn, FoldInError, Isa, ItemFactors, ItemRating, ScoreError};

use crate::checkpoint::{
    model_epoch, store, to_model, Checkpoint, CheckpointDir, LoadedModel, Position,
};
use crate::commands::context::{check_model_matches, open_data, resolve_data};
use crate::model::{predict_with_fallback, ItemTable, Model, Prediction, Scored};
use crate::ratingfile::{FormatError, RatingFile};
use crate::trained::rows::check_model_shape;
use crate::with_k;

use super::ingest_log::NewRating;
use super::known_ids::{Counted, KnownIds};
use super::log::Log;

/// A model ready to answer queries.
#[derive(Debug)]
pub struct Snapshot {
    /// The rating file the model was trained on (memory-mapped, shared
    /// between snapshots of the same file).
    pub data: Arc<RatingFile>,
    /// Factors and biases.
    pub model: Model,
    /// The checkpoint file it came from.
    pub checkpoint: PathBuf,
    /// The checkpoint's schedule position (from its file name).
    pub position: Position,
    /// Epochs completed when the checkpoint was written.
    pub epoch: u32,
    /// The epoch whose parameters the model holds (the best-validation
    /// epoch when the run kept it apart).
    pub model_epoch: u32,
    /// Train RMSE of the last completed epoch.
    pub train_rmse: Option<f64>,
    /// Test RMSE of the last completed epoch.
    pub test_rmse: Option<f64>,
    /// When the checkpoint file was written (seconds since the Unix epoch).
    pub written_unix: f64,
    /// When this snapshot was loaded (seconds since the Unix epoch).
    pub loaded_unix: f64,
    /// Seconds it took to load and check.
    pub load_seconds: f64,
    /// The data's rating range, for clamping.
    pub range: Option<(f32, f32)>,
    /// Mean train rating (the plain model's fallback).
    pub mean: f32,
    /// The item factors packed for scoring, and their norms.
    items: ItemTable,
    /// The model kind, λ, λ_b, the per-row prior λ₀ and μ, for folding
    /// new users in.
    fold: FoldIn,
    /// The data's user and item ids by number, made on first use.
    known: OnceLock<(KnownIds, KnownIds)>,
}

/// Where the service finds its rating file.
#[derive(Clone, Debug)]
pub enum DataSource {
    /// `--data FILE`.
    Given(PathBuf),
    /// The one `funkd train` recorded in the directory's `status.json`.
    Recorded,
}

impl Snapshot {
    /// Loads the newest readable checkpoint of `dir` (skipping damaged
    /// newer ones, each reported to `log`) with its rating file.
    pub fn load_newest(dir: &Path, source: &DataSource, log: &Log) -> Result<Snapshot> {
        let started = std::time::Instant::now();
        let found = CheckpointDir::new(dir).newest_good()?;
        for (skipped, why) in &found.skipped {
            log.warning(&format!(
                "skipping unreadable checkpoint {}: {why}",
                skipped.display()
            ));
        }
        let loaded = checked(found.checkpoint, found.path)?;
        Snapshot::build(loaded, dir, source, None, started, log)
    }

    /// Loads checkpoint file `path` of directory `dir` and checks it whole:
    /// checksum, shape, finite values, and that it belongs to the rating
    /// file. The rating file of `previous` is reused when it is the same
    /// file; without one, the blocks of the rating file are checked in the
    /// background, a damaged one reported to `log`.
    pub fn load(
        path: &Path,
        dir: &Path,
        source: &DataSource,
        previous: Option<&Snapshot>,
        log: &Log,
    ) -> Result<Snapshot> {
        let started = std::time::Instant::now();
        // The error names the file.
        let checkpoint = store::read(path)?;
        let loaded = checked(checkpoint, path.to_path_buf())?;
        Snapshot::build(loaded, dir, source, previous, started, log)
    }

    fn build(
        loaded: LoadedModel,
        dir: &Path,
        source: &DataSource,
        previous: Option<&Snapshot>,
        started: std::time::Instant,
        log: &Log,
    ) -> Result<Snapshot> {
        let path = loaded.path.clone();
        let position = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(Position::from_file_name)
            .unwrap_or(Position {
                epoch: loaded.progress.epoch,
                stratum: loaded.progress.stratum,
            });
        let data_path = match source {
            DataSource::Given(path) => path.clone(),
            DataSource::Recorded => resolve_data(dir, None)?,
        };
        let (data, new_data) = match previous {
            Some(prev)
                if prev.data.identity() == loaded.data_identity
                    && prev.data.path() == data_path =>
            {
                (Arc::clone(&prev.data), false)
            }
            _ => (Arc::new(open_data(&data_path)?), true),
        };
        check_model_matches(&loaded, &data)?;
        if new_data {
            match previous {
                // A swap to new data (a round's): checked whole here, on the
                // loading thread, before it is served, so that no query
                // pays for it.
                Some(_) => data.check_all_blocks().with_context(|| {
                    format!("the rating file {} is damaged", data_path.display())
                })?,
                None => check_blocks_in_background(&data, log),
            }
        }
        let written_unix = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0.0, |d| d.as_secs_f64());
        let fold = FoldIn::new(
            loaded.settings.kind,
            loaded.settings.reg,
            loaded.settings.reg_bias,
            loaded.model.mu,
        )
        .and_then(|fold| fold.with_row_prior(loaded.settings.reg_row))
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("{}: unusable parameters", path.display()))?;
        let model = loaded.model;
        let items = ItemTable::new(&model)
            .with_context(|| format!("{}: unusable item factors", path.display()))?;
        let last = |v: &[f64]| v.last().copied().filter(|x| x.is_finite());
        Ok(Snapshot {
            range: data.rating_range(),
            mean: data.mean() as f32,
            data,
            checkpoint: loaded.path,
            position,
            epoch: loaded.epoch,
            model_epoch: loaded.model_epoch,
            train_rmse: last(&loaded.progress.train_rmse),
            test_rmse: last(&loaded.progress.test_rmse),
            written_unix,
            loaded_unix: crate::service::status::unix_now(),
            load_seconds: started.elapsed().as_secs_f64(),
            model,
            items,
            fold,
            known: OnceLock::new(),
        })
    }

    /// The internal id of an original user id.
    pub fn user(&self, id: &str) -> Option<usize> {
        self.data.user_index().get(id)
    }

    /// The internal id of an original item id.
    pub fn item(&self, id: &str) -> Option<usize> {
        self.data.item_index().get(id)
    }

    /// The distinct users and items of `batch`, and how many of each the
    /// model does not know (see [`super::known_ids`]).
    pub fn count_batch_ids(&self, batch: &[NewRating]) -> (Counted, Counted) {
        let (users, items) = self.known.get_or_init(|| {
            (
                KnownIds::new(self.data.user_index()),
                KnownIds::new(self.data.item_index()),
            )
        });
        (
            users.count(
                self.data.user_index(),
                batch.iter().map(|r| r.user.as_str()),
            ),
            items.count(
                self.data.item_index(),
                batch.iter().map(|r| r.item.as_str()),
            ),
        )
    }

    /// The prediction for original ids, with the fallbacks of
    /// `funkd predict` for unknown ones; clamped to the rating range.
    pub fn predict(&self, user: Option<usize>, item: Option<usize>) -> Prediction {
        predict_with_fallback(&self.model, self.mean, user, item, self.range)
    }

    /// A score clamped to the data's rating range.
    pub fn clamp(&self, score: f32) -> f32 {
        funk_kernel::clamp(score, self.range)
    }

    /// Items internal user `user` rated (both splits), as a mask; an error
    /// when a block of the user's band is damaged.
    pub fn rated_by(&self, user: usize) -> Result<Vec<bool>, FormatError> {
        self.data.rated_mask(user)
    }

    /// Internal ids of the items internal user `user` rated (both
    /// splits), ascending; an error when a block of the user's band is
    /// damaged.
    pub fn rated_ids(&self, user: usize) -> Result<Vec<u32>, FormatError> {
        self.data.items_rated_by(user)
    }

    /// Internal user `user`'s train ratings (internal item, value).
    pub fn train_ratings_of(&self, user: usize) -> Vec<(usize, f32)> {
        let data = &self.data;
        let p = data.grid();
        let mut out = Vec::new();
        let Some(ub) = (0..p).find(|&b| data.user_band(b).contains(&user)) else {
            return out;
        };
        let local = (user - data.user_band(ub).start) as u32;
        for ib in 0..p {
            let start = data.item_band(ib).start;
            let block = data.train_block(ub, ib);
            let from = block.partition_point(|r| r.user < local);
            let to = block.partition_point(|r| r.user <= local);
            for r in block.get(from..to).unwrap_or(&[]) {
                out.push((start + r.item as usize, r.value));
            }
        }
        out
    }

    /// The `n` best items for a user row `row` (`rank` values) with user
    /// bias `user_bias`, skipping the items marked in `excluded` (a mask,
    /// possibly shorter than the items); best first.
    pub fn top_for_row(
        &self,
        isa: Isa,
        row: &[f32],
        user_bias: f32,
        excluded: &[bool],
        n: usize,
    ) -> Result<Vec<Scored>, ScoreError> {
        let model = &self.model;
        let prior = funk_kernel::row_prior(model.kind, model.mu, user_bias);
        self.items.top_for_row(
            isa,
            model,
            row,
            prior,
            |i| excluded.get(i).copied().unwrap_or(false),
            n,
        )
    }

    /// The `n` best items for internal user `user`, skipping `rated`
    /// (internal item ids, ascending); best first.
    pub fn recommend(
        &self,
        isa: Isa,
        user: usize,
        rated: &[u32],
        n: usize,
    ) -> Result<Vec<Scored>, ScoreError> {
        self.items.recommend(isa, &self.model, user, rated, n)
    }

    /// The `n` items nearest to internal item `item` by cosine similarity
    /// of their factor rows, the item itself left out. Items whose rows are
    /// all zero have no direction and are never listed (nor is anything
    /// listed for such an item).
    pub fn similar(&self, isa: Isa, item: usize, n: usize) -> Vec<Scored> {
        self.items.similar(isa, &self.model, item, n)
    }

    /// A new user's factor row (`rank` values) and bias from their ratings
    /// of internal items, the items held fixed: the kernel's exact
    /// regularised least-squares fold-in with the λ, λ_b and per-row prior
    /// λ₀ the model was trained with.
    pub fn fold_in(&self, ratings: &[(usize, f32)]) -> Result<(Vec<f32>, f32), FoldInError> {
        let model = &self.model;
        let biases = model.item_biases();
        let items = ItemFactors::new(&model.item_factors, model.k, model.rank, biases)?;
        let ratings: Vec<ItemRating> = ratings
            .iter()
            .map(|&(item, value)| ItemRating {
                item: item as u32,
                value,
            })
            .collect();
        let mut row = vec![0.0f32; model.k];
        let bias = with_k!(model.rank, K => fold_in::<K>(&self.fold, &items, &ratings, &mut row))?;
        row.truncate(model.rank);
        Ok((row, bias))
    }

    /// Number of ratings in the data (train and test).
    pub fn ratings(&self) -> u64 {
        self.data.train_count() + self.data.test_count()
    }
}

/// Checks every block of `data` (checksums and records) on a thread of its
/// own, right after start-up, so that queries find their blocks checked
/// instead of paying for it on the request path (at full scale a user
/// band is about 37 MB to hash). It runs at background priority
/// ([`super::priority`]): before load comes it has the CPU to itself (about
/// a second at full scale). A query that reaches a block before the thread
/// does checks it itself, as without this; a damaged block is reported
/// here and refused to every query that needs it.
fn check_blocks_in_background(data: &Arc<RatingFile>, log: &Log) {
    let data = Arc::clone(data);
    let thread_log = log.clone();
    let spawned = std::thread::Builder::new()
        .name("funkd-check-blocks".into())
        .spawn(move || {
            super::priority::enter_background("checking the rating file", &thread_log);
            if let Err(e) = data.check_all_blocks() {
                thread_log.error(&format!("{e}; queries of that band are refused"));
            }
        });
    if let Err(e) = spawned {
        log.warning(&format!(
            "cannot start the block check thread ({e}); blocks are checked when first used"
        ));
    }
}

/// Frees a snapshot that was just replaced off the request path: on a
/// thread of its own at background priority, once the requests that
/// still hold it let go (they are short; it waits at most
/// [`RETIRE_WAIT`]). Freeing it unmaps its rating file when no snapshot
/// shares it (a round's swap: 300,000 page-table entries for the 1.2 GB
/// full-scale file) and frees the factors (65.7 MB at full scale), a piece
/// at a time ([`Retire::release`]); done by the last request that held it,
/// that request would wait for it.
pub fn retire<T: Retire>(old: Arc<T>, log: &Log) {
    let log = log.clone();
    let spawned = std::thread::Builder::new()
        .name("funkd-retire".into())
        .spawn(move || {
            super::priority::enter_background("freeing a replaced model", &log);
            let since = std::time::Instant::now();
            while Arc::strong_count(&old) > 1 && since.elapsed() < RETIRE_WAIT {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            // A request that still holds it past the wait frees it.
            if let Ok(old) = Arc::try_unwrap(old) {
                old.release();
            }
        });
    // Without a thread of its own, whoever lets go of it last frees it.
    drop(spawned);
}

/// What [`retire`] frees.
pub trait Retire: Send + Sync + 'static {
    /// Frees `self`; on a background thread, its large parts a piece at a
    /// time with pause points between ([`crate::courtesy`]).
    fn release(self);
}

impl Retire for Snapshot {
    fn release(self) {
        let Snapshot {
            data,
            model,
            items,
            known,
            ..
        } = self;
        // Unmapped here only when no other snapshot shares the file.
        if let Ok(data) = Arc::try_unwrap(data) {
            data.release();
        }
        model.release();
        items.release();
        if let Some((users, items)) = known.into_inner() {
            users.release();
            items.release();
        }
    }
}

/// How long [`retire`] waits for the requests that hold a replaced
/// snapshot.
pub const RETIRE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The model of a checkpoint read from `path`, checked for shape and
/// finite values.
fn checked(checkpoint: Checkpoint, path: PathBuf) -> Result<LoadedModel> {
    let model = to_model(&checkpoint);
    check_model_shape(&model).with_context(|| format!("unusable model in {}", path.display()))?;
    Ok(LoadedModel {
        model,
        data_identity: checkpoint.settings.data_identity,
        epoch: checkpoint.progress.epoch,
        model_epoch: model_epoch(&checkpoint),
        path,
        settings: checkpoint.settings,
        progress: checkpoint.progress,
        skipped: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records the name of the thread that drops it.
    struct Witness(Arc<Mutex<Option<String>>>);

    impl Retire for Witness {
        fn release(self) {}
    }

    impl Drop for Witness {
        fn drop(&mut self) {
            *self.0.lock().unwrap() = std::thread::current().name().map(str::to_string);
        }
    }

    #[test]
    fn a_retired_snapshot_is_freed_on_its_own_thread_once_the_last_request_lets_go() {
        let dropped_by = Arc::new(Mutex::new(None));
        let old = Arc::new(Witness(Arc::clone(&dropped_by)));
        let request = Arc::clone(&old);
        retire(old, &Log::silent());
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(
            *dropped_by.lock().unwrap(),
            None,
            "freed while a request held it"
        );
        drop(request);
        let since = std::time::Instant::now();
        while dropped_by.lock().unwrap().is_none() {
            assert!(since.elapsed() < RETIRE_WAIT, "never freed");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(dropped_by.lock().unwrap().as_deref(), Some("funkd-retire"));
    }
}
