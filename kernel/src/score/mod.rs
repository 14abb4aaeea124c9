//! Scoring with a trained model: one prediction, and one row scored
//! against every item with the N best kept.
//!
//! One definition of the model's value for a (user, item) pair, used by
//! every caller:
//!
//! score = (prior + b_i) + p·q, prior = [`row_prior`] (μ + b_u for the
//! biased model, 0 for the plain one), p·q summed in f32 over the rank in
//! dimension order.
//!
//! [`predict`] computes it for one pair; [`top_n`] for one row against
//! every item of an [`ItemPanels`] table, in the SIMD width of the
//! [`Isa`](crate::Isa) given but in the same order, so a top-N score and
//! the prediction for the same pair are the same bits on every ISA.
//! [`top_n_cosine`] ranks items by cosine similarity instead.
//!
//! Nothing here allocates: the item table and the result slots are the
//! caller's.

mod compiled;
mod error;
mod panels;
mod select;
#[cfg(test)]
mod tests;

pub use error::ScoreError;
pub use panels::{ItemPanels, PANEL_ITEMS};
pub use select::{Scored, TopN};

use crate::ModelKind;

/// The part of every prediction for a row that does not depend on the
/// item: μ + b_u for the biased model, 0 for the plain one.
///
/// # Examples
///
/// ```
/// use funk_kernel::{row_prior, ModelKind};
/// assert_eq!(row_prior(ModelKind::Biased, 3.5, 0.25), 3.75);
/// assert_eq!(row_prior(ModelKind::Plain, 3.5, 0.25), 0.0);
/// ```
pub fn row_prior(kind: ModelKind, mu: f32, user_bias: f32) -> f32 {
    match kind {
        ModelKind::Biased => mu + user_bias,
        ModelKind::Plain => 0.0,
    }
}

/// The item's part of a prediction beside the dot product: b_i for the
/// biased model, 0 for the plain one.
///
/// # Examples
///
/// ```
/// use funk_kernel::{item_prior, ModelKind};
/// assert_eq!(item_prior(ModelKind::Biased, -0.5), -0.5);
/// assert_eq!(item_prior(ModelKind::Plain, -0.5), 0.0);
/// ```
pub fn item_prior(kind: ModelKind, item_bias: f32) -> f32 {
    match kind {
        ModelKind::Biased => item_bias,
        ModelKind::Plain => 0.0,
    }
}

/// p·q over the shorter of the two slices, summed in f32 in dimension
/// order: the dot product every score here is defined by.
///
/// # Examples
///
/// ```
/// assert_eq!(funk_kernel::dot(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]), 32.0);
/// ```
#[inline]
pub fn dot(p: &[f32], q: &[f32]) -> f32 {
    let mut sum = 0.0f32;
    for (a, b) in p.iter().zip(q) {
        sum += a * b;
    }
    sum
}

/// The model's unclamped value for one pair: (`prior` + `item_bias`) + p·q
/// (`prior` from [`row_prior`], `item_bias` from [`item_prior`]). The same
/// bits as the pair's score in [`top_n`].
///
/// # Examples
///
/// ```
/// use funk_kernel::{item_prior, row_prior, score, ModelKind};
/// let prior = row_prior(ModelKind::Biased, 3.0, 0.5);
/// assert_eq!(score(prior, item_prior(ModelKind::Biased, 0.25), &[1.0, 2.0], &[0.5, 0.25]), 4.75);
/// ```
#[inline]
pub fn score(prior: f32, item_bias: f32, p: &[f32], q: &[f32]) -> f32 {
    (prior + item_bias) + dot(p, q)
}

/// `value` clamped to `range` (lowest, highest) when there is one. Never
/// panics, even on a range read from a damaged file (NaN bounds are
/// ignored); a NaN value stays NaN.
///
/// # Examples
///
/// ```
/// use funk_kernel::clamp;
/// assert_eq!(clamp(5.7, Some((1.0, 5.0))), 5.0);
/// assert_eq!(clamp(0.2, Some((1.0, 5.0))), 1.0);
/// assert_eq!(clamp(5.7, None), 5.7);
/// ```
#[inline]
pub fn clamp(value: f32, range: Option<(f32, f32)>) -> f32 {
    match range {
        Some((lo, hi)) if !value.is_nan() => value.max(lo).min(hi),
        _ => value,
    }
}

/// The model's prediction for one pair, clamped to `range`:
/// μ + b_u + b_i + p·q for the biased model, p·q for the plain one (its
/// biases and μ are ignored).
///
/// # Examples
///
/// ```
/// use funk_kernel::{predict, ModelKind};
/// let (p, q) = ([1.0, 2.0], [0.5, 0.25]);
/// assert_eq!(predict(ModelKind::Biased, 3.0, 0.5, 0.25, &p, &q, None), 4.75);
/// assert_eq!(predict(ModelKind::Biased, 3.0, 0.5, 0.25, &p, &q, Some((1.0, 4.5))), 4.5);
/// assert_eq!(predict(ModelKind::Plain, 3.0, 0.5, 0.25, &p, &q, None), 1.0);
/// ```
pub fn predict(
    kind: ModelKind,
    mu: f32,
    user_bias: f32,
    item_bias: f32,
    p: &[f32],
    q: &[f32],
    range: Option<(f32, f32)>,
) -> f32 {
    let value = score(
        row_prior(kind, mu, user_bias),
        item_prior(kind, item_bias),
        p,
        q,
    );
    clamp(value, range)
}

/// ‖row‖: the Euclidean norm, summed in f32 in dimension order.
///
/// # Examples
///
/// ```
/// assert_eq!(funk_kernel::row_norm(&[3.0, 4.0]), 5.0);
/// ```
pub fn row_norm(row: &[f32]) -> f32 {
    libm::sqrtf(dot(row, row))
}

/// The items with the highest scores for one row, best first, into
/// `best` (the N of top-N is `best.len()`); returns how many were found
/// (fewer than N only when fewer items are eligible).
///
/// Item i scores (`prior` + `item_bias[i]`) + `row`·q_i (`item_bias` may be
/// empty: no item biases), exactly as [`score`]. Items for which
/// `excluded(i)` is true are left out; `excluded` is asked only about
/// items good enough to enter the N best so far, so it may be slow (a
/// binary search) without slowing the scan. Ties go to the lower item id,
/// NaN scores rank last: the answer is deterministic and the same on
/// every ISA. The scan runs in `isa`'s SIMD width, sixty-four items at a
/// time.
///
/// # Errors
///
/// [`ScoreError::RowLength`] when `row` is not `items.rank()` long,
/// [`ScoreError::ItemBiases`] when `item_bias` is neither empty nor one
/// per item.
///
/// # Examples
///
/// ```
/// use funk_kernel::{top_n, FactorRow, Isa, ItemPanels, Scored};
/// // Three items of rank 2, stored row-major.
/// let factors = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
/// let mut lanes = [FactorRow::<16>::zeroed(); 2];
/// let items = ItemPanels::pack(&factors, 2, 2, &mut lanes).unwrap();
/// let mut best = [Scored::default(); 2];
/// // Item 2 scores best but is excluded (say the user rated it).
/// let found = top_n(Isa::detect(), &items, &[2.0, 1.0], 0.5, &[], |i| i == 2, &mut best).unwrap();
/// assert_eq!(found, 2);
/// assert_eq!(best, [Scored { item: 0, score: 2.5 }, Scored { item: 1, score: 1.5 }]);
/// ```
pub fn top_n(
    isa: crate::Isa,
    items: &ItemPanels<'_>,
    row: &[f32],
    prior: f32,
    item_bias: &[f32],
    excluded: impl Fn(usize) -> bool,
    best: &mut [Scored],
) -> Result<usize, ScoreError> {
    items.check_row(row)?;
    if !item_bias.is_empty() && item_bias.len() != items.items() {
        return Err(ScoreError::ItemBiases {
            len: item_bias.len(),
            items: items.items(),
        });
    }
    let mut top = TopN::new(best);
    let scan = compiled::Scan { items, row };
    if item_bias.is_empty() {
        compiled::select(isa, &scan, &mut top, |_, dot| Some(prior + dot), &excluded);
    } else {
        compiled::select(
            isa,
            &scan,
            &mut top,
            |i, dot| Some((prior + item_bias[i]) + dot),
            &excluded,
        );
    }
    Ok(top.finish().len())
}

/// The items nearest to `row` by cosine similarity, row·q_i /
/// (‖row‖ ‖q_i‖), best first, into `best`; returns how many were found.
/// `norms[i]` is ‖q_i‖ ([`row_norm`]). Items with a zero norm (no
/// direction), items whose similarity is not finite, and items for which
/// `excluded(i)` is true are left out; a zero or non-finite `row` finds
/// nothing. Ties go to the lower item id.
///
/// # Errors
///
/// [`ScoreError::RowLength`] when `row` is not `items.rank()` long,
/// [`ScoreError::Norms`] when `norms` is not one per item.
///
/// # Examples
///
/// ```
/// use funk_kernel::{row_norm, top_n_cosine, FactorRow, Isa, ItemPanels, Scored};
/// let factors = [1.0, 0.0, 0.0, 1.0, 2.0, 2.0];
/// let norms: Vec<f32> = factors.chunks(2).map(row_norm).collect();
/// let mut lanes = [FactorRow::<16>::zeroed(); 2];
/// let items = ItemPanels::pack(&factors, 2, 2, &mut lanes).unwrap();
/// let mut best = [Scored::default(); 3];
/// // Items like item 0, item 0 itself left out.
/// let found = top_n_cosine(Isa::detect(), &items, &norms, &factors[..2], |i| i == 0, &mut best).unwrap();
/// assert_eq!(found, 2);
/// assert_eq!((best[0].item, best[1].item), (2, 1));
/// assert!((best[0].score - core::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
/// ```
pub fn top_n_cosine(
    isa: crate::Isa,
    items: &ItemPanels<'_>,
    norms: &[f32],
    row: &[f32],
    excluded: impl Fn(usize) -> bool,
    best: &mut [Scored],
) -> Result<usize, ScoreError> {
    items.check_row(row)?;
    if norms.len() != items.items() {
        return Err(ScoreError::Norms {
            len: norms.len(),
            items: items.items(),
        });
    }
    let norm = row_norm(row);
    if norm == 0.0 || !norm.is_finite() {
        return Ok(0);
    }
    let mut top = TopN::new(best);
    let scan = compiled::Scan { items, row };
    compiled::select(
        isa,
        &scan,
        &mut top,
        |i, dot| {
            let other = norms[i];
            let similarity = dot / (norm * other);
            (other != 0.0 && similarity.is_finite()).then_some(similarity)
        },
        &excluded,
    );
    Ok(top.finish().len())
}
