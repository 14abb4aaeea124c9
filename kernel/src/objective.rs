//! The objective J in f64, optionally with one parameter replaced.

use crate::validate::{check_ratings, check_side};
use crate::{BandView, FactorRow, HyperParams, KernelError, ModelKind, Rating};

/// One scalar parameter of the model, by band-local position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParamRef {
    /// Dimension `dim` of user row `row`.
    UserFactor {
        /// Row in the user band.
        row: u32,
        /// Dimension, < K.
        dim: u32,
    },
    /// Dimension `dim` of item row `row`.
    ItemFactor {
        /// Row in the item band.
        row: u32,
        /// Dimension, < K.
        dim: u32,
    },
    /// The bias of user row `.0`.
    UserBias(u32),
    /// The bias of item row `.0`.
    ItemBias(u32),
}

/// The value of `param` in the bands (as f32), or an error if it is
/// outside them.
pub(crate) fn param_value<const K: usize>(
    users: BandView<'_, K>,
    items: BandView<'_, K>,
    param: ParamRef,
) -> Result<f32, KernelError> {
    let factor = |band: BandView<'_, K>, row: u32, dim: u32| {
        band.factors
            .get(row as usize)
            .and_then(|r| r.0.get(dim as usize))
            .copied()
    };
    let found = match param {
        ParamRef::UserFactor { row, dim } => factor(users, row, dim),
        ParamRef::ItemFactor { row, dim } => factor(items, row, dim),
        ParamRef::UserBias(row) => users.biases.get(row as usize).copied(),
        ParamRef::ItemBias(row) => items.biases.get(row as usize).copied(),
    };
    found.ok_or(KernelError::ParamOutOfRange(param))
}

/// One row's factors (and bias) in f64, with the perturbed entry replaced.
fn row_f64<const K: usize>(row: &FactorRow<K>, replace: Option<(usize, f64)>) -> [f64; K] {
    let mut out = row.0.map(f64::from);
    if let Some((dim, value)) = replace {
        out[dim] = value;
    }
    out
}

/// J = Σ_(u,i)∈Ω [ e_ui² + λ(‖p_u‖² + ‖q_i‖²) + λ_b(b_u² + b_i²) ] over the
/// block's ratings, in f64 throughout (the plain model has no μ, biases or
/// λ_b term). With `perturb = Some((param, x))`, the parameter `param` is
/// taken to be `x` (an f64, so a difference quotient is not limited by
/// f32) while everything else keeps its value.
///
/// # Examples
///
/// ```
/// use funk_kernel::*;
/// let params = HyperParams::new(ModelKind::Plain, 0.1, 0.5, 0.0, LearningRate::Constant).unwrap();
/// let p = [FactorRow::<16>::zeroed()];
/// let view = |f| BandView { factors: f, biases: &[] };
/// let ratings = [Rating { user: 0, item: 0, value: 3.0 }];
/// let j = objective(&params, 0.0, view(&p), view(&p), &ratings, None).unwrap();
/// assert_eq!(j, 9.0);
/// let moved = Some((ParamRef::UserFactor { row: 0, dim: 0 }, 2.0));
/// assert_eq!(objective(&params, 0.0, view(&p), view(&p), &ratings, moved).unwrap(), 9.0 + 0.5 * 4.0);
/// ```
pub fn objective<const K: usize>(
    params: &HyperParams,
    mu: f32,
    users: BandView<'_, K>,
    items: BandView<'_, K>,
    ratings: &[Rating],
    perturb: Option<(ParamRef, f64)>,
) -> Result<f64, KernelError> {
    let biased = params.model() == ModelKind::Biased;
    for band in [&users, &items] {
        check_side(band.biases.len(), band.len(), biased)?;
    }
    check_ratings(ratings, users.len(), items.len())?;
    if let Some((param, _)) = perturb {
        param_value(users, items, param)?;
    }
    let lambda = f64::from(params.reg_factors());
    let lambda_b = f64::from(params.reg_bias());
    let mut total = 0.0f64;
    for r in ratings {
        let (u, i) = (r.user as usize, r.item as usize);
        let (mut replace_p, mut replace_q) = (None, None);
        let (mut bu, mut bi) = (0.0, 0.0);
        if biased {
            bu = f64::from(users.biases[u]);
            bi = f64::from(items.biases[i]);
        }
        match perturb {
            Some((ParamRef::UserFactor { row, dim }, x)) if row as usize == u => {
                replace_p = Some((dim as usize, x));
            }
            Some((ParamRef::ItemFactor { row, dim }, x)) if row as usize == i => {
                replace_q = Some((dim as usize, x));
            }
            Some((ParamRef::UserBias(row), x)) if biased && row as usize == u => bu = x,
            Some((ParamRef::ItemBias(row), x)) if biased && row as usize == i => bi = x,
            _ => {}
        }
        let p = row_f64(&users.factors[u], replace_p);
        let q = row_f64(&items.factors[i], replace_q);
        let dot: f64 = p.iter().zip(&q).map(|(a, b)| a * b).sum();
        let norms: f64 = p.iter().chain(&q).map(|x| x * x).sum();
        let prediction = if biased {
            f64::from(mu) + bu + bi + dot
        } else {
            dot
        };
        let err = f64::from(r.value) - prediction;
        total += err * err + lambda * norms;
        if biased {
            total += lambda_b * (bu * bu + bi * bi);
        }
    }
    Ok(total)
}
