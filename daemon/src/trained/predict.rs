//! Predictions for (user, item) pairs given by their original ids: the
//! ids are looked up in the data file, and an unknown one gets the
//! fallback of [`predict_with_fallback`], never an error.

use serde::Serialize;

use super::ModelWithData;
use crate::input::pairs::Pair;
use crate::model::{predict_with_fallback, Source};

/// The prediction for one pair, by original ids.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PairPrediction<'a> {
    /// The user's original id.
    pub user: &'a str,
    /// The item's original id.
    pub item: &'a str,
    /// The predicted rating (clamped when a range was given).
    pub prediction: f32,
    /// Which rule produced it.
    pub source: Source,
}

/// The predictions of the model of `trained` for `pairs`, in their order,
/// clamped to `clamp` when given.
pub fn predict_pairs<'a>(
    trained: &ModelWithData,
    pairs: &'a [Pair],
    clamp: Option<(f32, f32)>,
) -> Vec<PairPrediction<'a>> {
    let ModelWithData { data, loaded } = trained;
    let (users, items) = (data.user_index(), data.item_index());
    let data_mean = data.mean() as f32;
    pairs
        .iter()
        .map(|pair| {
            let p = predict_with_fallback(
                &loaded.model,
                data_mean,
                users.get(&pair.user),
                items.get(&pair.item),
                clamp,
            );
            PairPrediction {
                user: &pair.user,
                item: &pair.item,
                prediction: p.value,
                source: p.source,
            }
        })
        .collect()
}
