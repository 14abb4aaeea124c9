//! The model's prediction for internal ids that may be unknown, with a
//! documented fallback for each case, and where each prediction came from:
//!
//! | user | item | biased model | plain model | [`Source`] |
//! |---|---|---|---|---|
//! | known | known | μ + b_u + b_i + p·q | p·q | `model` |
//! | unknown | known | μ + b_i | mean train rating | `item_bias` / `global_mean` |
//! | known | unknown | μ + b_u | mean train rating | `user_bias` / `global_mean` |
//! | unknown | unknown | μ | mean train rating | `global_mean` |

use funk_kernel::ModelKind;
use serde::Serialize;

use super::Model;

/// Where a prediction came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Both ids known: the full model.
    Model,
    /// Unknown user, known item (biased model): μ + b_i.
    ItemBias,
    /// Known user, unknown item (biased model): μ + b_u.
    UserBias,
    /// Nothing to go on: μ (biased) or the mean train rating (plain).
    GlobalMean,
    /// A user row folded in from ratings taken in since training (`serve`).
    FoldIn,
}

impl Source {
    /// The name printed in text and JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Source::Model => "model",
            Source::ItemBias => "item_bias",
            Source::UserBias => "user_bias",
            Source::GlobalMean => "global_mean",
            Source::FoldIn => "fold_in",
        }
    }
}

/// A prediction and where it came from.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Prediction {
    /// The predicted rating (clamped when a range was given).
    pub value: f32,
    /// Which rule produced it.
    pub source: Source,
}

/// The prediction for internal ids that may be unknown (`None`), with the
/// fallbacks in the module documentation. `data_mean` is the mean train
/// rating (the plain model's only fallback).
pub fn predict_with_fallback(
    model: &Model,
    data_mean: f32,
    user: Option<usize>,
    item: Option<usize>,
    range: Option<(f32, f32)>,
) -> Prediction {
    let (value, source) = match (model.kind, user, item) {
        (_, Some(u), Some(i)) => (model.predict(u, i), Source::Model),
        (ModelKind::Biased, None, Some(i)) => (model.mu + model.item_bias[i], Source::ItemBias),
        (ModelKind::Biased, Some(u), None) => (model.mu + model.user_bias[u], Source::UserBias),
        (ModelKind::Biased, None, None) => (model.mu, Source::GlobalMean),
        (ModelKind::Plain, _, _) => (data_mean, Source::GlobalMean),
    };
    Prediction {
        value: funk_kernel::clamp(value, range),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(kind: ModelKind) -> Model {
        let k = 16;
        let mut user_factors = vec![0.0; 2 * k];
        let mut item_factors = vec![0.0; 2 * k];
        user_factors[0] = 1.0;
        user_factors[1] = 2.0;
        item_factors[0] = 0.5;
        item_factors[1] = 0.25;
        Model {
            kind,
            rank: 2,
            k,
            mu: 3.0,
            user_factors,
            item_factors,
            user_bias: vec![0.5, -0.5],
            item_bias: vec![0.25, -1.0],
        }
    }

    #[test]
    fn known_pairs_use_the_model() {
        let m = model(ModelKind::Biased);
        let p = predict_with_fallback(&m, 2.0, Some(0), Some(0), None);
        assert_eq!(
            p,
            Prediction {
                value: 3.0 + 0.5 + 0.25 + 1.0,
                source: Source::Model
            }
        );
    }

    #[test]
    fn unknown_ids_fall_back_as_documented() {
        let m = model(ModelKind::Biased);
        let p = predict_with_fallback(&m, 2.0, None, Some(1), None);
        assert_eq!(
            p,
            Prediction {
                value: 2.0,
                source: Source::ItemBias
            }
        );
        let p = predict_with_fallback(&m, 2.0, Some(1), None, None);
        assert_eq!(
            p,
            Prediction {
                value: 2.5,
                source: Source::UserBias
            }
        );
        let p = predict_with_fallback(&m, 2.0, None, None, None);
        assert_eq!(
            p,
            Prediction {
                value: 3.0,
                source: Source::GlobalMean
            }
        );
        let plain = model(ModelKind::Plain);
        let p = predict_with_fallback(&plain, 2.0, None, Some(0), None);
        assert_eq!(
            p,
            Prediction {
                value: 2.0,
                source: Source::GlobalMean
            }
        );
        let p = predict_with_fallback(&plain, 2.0, Some(0), Some(0), None);
        assert_eq!(
            p,
            Prediction {
                value: 1.0,
                source: Source::Model
            }
        );
    }

    #[test]
    fn predictions_and_fallbacks_are_clamped() {
        let m = model(ModelKind::Biased);
        let p = predict_with_fallback(&m, 2.0, Some(0), Some(0), Some((1.0, 4.5)));
        assert_eq!(p.value, 4.5);
        let p = predict_with_fallback(&m, 2.0, None, Some(1), Some((2.5, 5.0)));
        assert_eq!(p.value, 2.5);
    }
}
