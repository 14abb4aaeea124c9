//! A [`Model`]'s flat factor arrays in the kernel's aligned row layout,
//! and the shape checks that make the conversion safe to rely on.

use std::ops::Range;

use anyhow::{bail, ensure, Result};
use funk_kernel::{BandView, FactorRow};

use crate::courtesy;
use crate::model::Model;
use crate::rank::{padded_k, MAX_RANK};

/// Checks that a model's arrays agree with its rank, padding and counts,
/// and that every value is finite, so that the commands can index it
/// without panicking.
pub fn check_model_shape(model: &Model) -> Result<()> {
    ensure!(
        (1..=MAX_RANK).contains(&model.rank),
        "model rank {} is outside 1..={MAX_RANK}",
        model.rank
    );
    ensure!(
        model.k == padded_k(model.rank),
        "model rows hold {} values, expected {} for rank {}",
        model.k,
        padded_k(model.rank),
        model.rank
    );
    ensure!(
        model.user_factors.len() == model.users() * model.k,
        "model has {} user factor values for {} users of {} values",
        model.user_factors.len(),
        model.users(),
        model.k
    );
    ensure!(
        model.item_factors.len() == model.items() * model.k,
        "model has {} item factor values for {} items of {} values",
        model.item_factors.len(),
        model.items(),
        model.k
    );
    let all_finite = model.mu.is_finite()
        && [
            &model.user_factors,
            &model.item_factors,
            &model.user_bias,
            &model.item_bias,
        ]
        .iter()
        .all(|values| courtesy::all(values, |v| v.is_finite()));
    if !all_finite {
        bail!("model holds non-finite values (a diverged run?)");
    }
    Ok(())
}

/// Copies row-major values with `K` values per row into aligned rows.
/// `flat.len()` must be a multiple of `K` (see [`check_model_shape`]).
pub fn aligned_rows<const K: usize>(flat: &[f32]) -> Vec<FactorRow<K>> {
    flat.chunks_exact(K)
        .map(|chunk| {
            let mut row = FactorRow::<K>::zeroed();
            row.0.copy_from_slice(chunk);
            row
        })
        .collect()
}

/// The kernel's view of one band of a model: rows `range` of `rows`, and
/// of `biases` for the biased model (empty for the plain one); `None` when
/// the range is outside the arrays.
pub fn band_view<'a, const K: usize>(
    rows: &'a [FactorRow<K>],
    biases: &'a [f32],
    range: Range<usize>,
    biased: bool,
) -> Option<BandView<'a, K>> {
    Some(BandView {
        factors: rows.get(range.clone())?,
        biases: if biased { biases.get(range)? } else { &[] },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use funk_kernel::ModelKind;

    fn tiny_model() -> Model {
        Model {
            kind: ModelKind::Biased,
            rank: 2,
            k: 16,
            mu: 3.0,
            user_factors: vec![0.0; 3 * 16],
            item_factors: vec![0.0; 2 * 16],
            user_bias: vec![0.0; 3],
            item_bias: vec![0.0; 2],
        }
    }

    #[test]
    fn a_consistent_model_passes() {
        check_model_shape(&tiny_model()).unwrap();
    }

    #[test]
    fn wrong_padding_short_arrays_and_nan_are_refused() {
        let mut m = tiny_model();
        m.k = 32;
        assert!(check_model_shape(&m).is_err());
        let mut m = tiny_model();
        m.item_factors.pop();
        assert!(check_model_shape(&m).is_err());
        let mut m = tiny_model();
        m.user_bias[1] = f32::NAN;
        assert!(check_model_shape(&m).is_err());
    }

    #[test]
    fn rows_are_copied_in_order() {
        let flat: Vec<f32> = (0..32).map(|v| v as f32).collect();
        let rows = aligned_rows::<16>(&flat);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].0[0], 16.0);
        assert_eq!(rows[1].0[15], 31.0);
    }
}
