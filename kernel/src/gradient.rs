//! Full-batch gradients of J and the gradient-descent step.
//!
//! J = Σ_(u,i)∈Ω [ e_ui² + λ(‖p_u‖² + ‖q_i‖²) + λ_b(b_u² + b_i²) ], the
//! regularisation counted once per rating (exactly what the per-rating SGD
//! step descends). Its gradient:
//!
//! - ∂J/∂p_u = Σ_i (−2 e_ui q_i + 2λ p_u), ∂J/∂q_i = Σ_u (−2 e_ui p_u + 2λ q_i);
//! - ∂J/∂b_u = Σ_i (−2 e_ui + 2λ_b b_u), ∂J/∂b_i likewise (biased model).
//!
//! Gradient descent is for small problems and for checking, so it runs the
//! scalar reference with each rating's terms formed in f64.

use crate::validate::{check_ratings, check_side};
use crate::{Band, BandGrad, BandView, HyperParams, KernelError, LossStats, ModelKind, Rating};

/// Adds this block's ∂J/∂θ (data and per-rating regularisation terms) into
/// `grad_users` and `grad_items`, and returns the block's prediction errors
/// (before any step). Clear the gradient bands before the first block of a
/// full gradient ([`BandGrad::clear`]).
///
/// Every index and shape is validated first; on error nothing is added.
///
/// # Examples
///
/// ```
/// use funk_kernel::*;
/// let params = HyperParams::new(ModelKind::Plain, 0.1, 0.0, 0.0, LearningRate::Constant).unwrap();
/// let p = [FactorRow::<16>::splat(0.5)];
/// let q = [FactorRow::<16>::splat(0.25)];
/// let (mut gp, mut gq) = ([FactorRow::<16>::zeroed()], [FactorRow::<16>::zeroed()]);
/// let view = |f| BandView { factors: f, biases: &[] };
/// let ratings = [Rating { user: 0, item: 0, value: 3.0 }]; // r̂ = 2, e = 1
/// let loss = accumulate_gradient(&params, 0.0, view(&p), view(&q), &ratings,
///     BandGrad { factors: &mut gp, biases: &mut [] },
///     BandGrad { factors: &mut gq, biases: &mut [] }).unwrap();
/// assert_eq!(loss.sse, 1.0);
/// assert_eq!(gp[0].0[0], -0.5); // −2 e q
/// assert_eq!(gq[0].0[0], -1.0); // −2 e p
/// ```
pub fn accumulate_gradient<const K: usize>(
    params: &HyperParams,
    mu: f32,
    users: BandView<'_, K>,
    items: BandView<'_, K>,
    ratings: &[Rating],
    grad_users: BandGrad<'_, K>,
    grad_items: BandGrad<'_, K>,
) -> Result<LossStats, KernelError> {
    let biased = params.model() == ModelKind::Biased;
    for (band, grad) in [(&users, &grad_users), (&items, &grad_items)] {
        check_side(band.biases.len(), band.len(), biased)?;
        if grad.factors.len() != band.len() {
            return Err(KernelError::GradientShape);
        }
        check_side(grad.biases.len(), band.len(), biased)
            .map_err(|_| KernelError::GradientShape)?;
    }
    check_ratings(ratings, users.len(), items.len())?;

    let lambda = f64::from(params.reg_factors());
    let lambda_b = f64::from(params.reg_bias());
    let mut stats = LossStats {
        count: ratings.len() as u64,
        ..LossStats::default()
    };
    for r in ratings {
        let (u, i) = (r.user as usize, r.item as usize);
        let (p, q) = (&users.factors[u].0, &items.factors[i].0);
        let mut prediction: f64 = p
            .iter()
            .zip(q)
            .map(|(&a, &b)| f64::from(a) * f64::from(b))
            .sum();
        if biased {
            prediction += f64::from(mu) + f64::from(users.biases[u]) + f64::from(items.biases[i]);
        }
        let err = f64::from(r.value) - prediction;
        stats.sse += err * err;
        stats.sae += err.abs();
        let (gp, gq) = (&mut grad_users.factors[u].0, &mut grad_items.factors[i].0);
        for k in 0..K {
            let (pk, qk) = (f64::from(p[k]), f64::from(q[k]));
            gp[k] += (-2.0 * err * qk + 2.0 * lambda * pk) as f32;
            gq[k] += (-2.0 * err * pk + 2.0 * lambda * qk) as f32;
        }
        if biased {
            let (bu, bi) = (f64::from(users.biases[u]), f64::from(items.biases[i]));
            grad_users.biases[u] += (-2.0 * err + 2.0 * lambda_b * bu) as f32;
            grad_items.biases[i] += (-2.0 * err + 2.0 * lambda_b * bi) as f32;
        }
    }
    Ok(stats)
}

/// One gradient-descent step on one band: θ −= η·g for every factor and,
/// when the gradient has biases, every bias. (`grad_sq` is not used.)
///
/// # Panics
///
/// If `grad` does not have the band's shape (like `copy_from_slice`, a
/// programming error: [`accumulate_gradient`] builds gradients of the right
/// shape).
///
/// # Examples
///
/// ```
/// use funk_kernel::*;
/// let mut rows = [FactorRow::<16>::splat(1.0)];
/// let grad = [FactorRow::<16>::splat(4.0)];
/// gradient_step(Band { factors: &mut rows, biases: &mut [], grad_sq: &mut [] },
///     BandView { factors: &grad, biases: &[] }, 0.25);
/// assert_eq!(rows[0].0[3], 0.0);
/// ```
pub fn gradient_step<const K: usize>(band: Band<'_, K>, grad: BandView<'_, K>, eta: f32) {
    assert_eq!(
        band.factors.len(),
        grad.factors.len(),
        "gradient rows differ from band rows"
    );
    for (row, g) in band.factors.iter_mut().zip(grad.factors) {
        for (x, &gx) in row.0.iter_mut().zip(&g.0) {
            *x -= eta * gx;
        }
    }
    if !grad.biases.is_empty() {
        assert_eq!(
            band.biases.len(),
            grad.biases.len(),
            "gradient biases differ from band biases"
        );
        for (b, &gb) in band.biases.iter_mut().zip(grad.biases) {
            *b -= eta * gb;
        }
    }
}
