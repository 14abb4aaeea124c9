//! The gradient check: analytic gradient against the symmetric difference
//! quotient of J, in f64.

use crate::objective::param_value;
use crate::{objective, BandView, HyperParams, KernelError, ParamRef, Rating};

/// The smallest denominator of a relative error: two gradients that are
/// both below it in size are compared on an absolute scale, so that a
/// gradient that is zero up to rounding is not called wrong.
pub const RELATIVE_ERROR_FLOOR: f64 = 1e-4;

/// What a gradient check found.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GradCheckReport {
    /// The largest |analytic − numeric| / max(|analytic|, |numeric|,
    /// [`RELATIVE_ERROR_FLOOR`]) over the probes (0 when none).
    pub worst_relative_error: f64,
    /// The probe with that error (`None` when no probe was checked).
    pub worst: Option<ParamRef>,
    /// The analytic ∂J/∂θ at the worst probe.
    pub analytic: f64,
    /// The difference quotient at the worst probe.
    pub numeric: f64,
    /// Probes checked.
    pub checked: usize,
}

/// Compares the analytic gradient (`grad_users`, `grad_items`, e.g. from
/// [`accumulate_gradient`](crate::accumulate_gradient)) with
/// (J(x + h) − J(x − h)) / 2h at each probe, J from [`objective()`] in f64,
/// h = ∛ε · max(1, |x|) (ε the f64 epsilon: it balances the rounding error
/// of J, ∝ ε/h, against the truncation error, ∝ h²), with x + h − x made
/// exact so the quotient divides by the step actually taken.
///
/// # Examples
///
/// ```
/// use funk_kernel::*;
/// let params = HyperParams::new(ModelKind::Plain, 0.1, 0.1, 0.0, LearningRate::Constant).unwrap();
/// let p = [FactorRow::<16>::splat(0.3)];
/// let q = [FactorRow::<16>::splat(-0.2)];
/// let view = |f| BandView { factors: f, biases: &[] };
/// let ratings = [Rating { user: 0, item: 0, value: 1.0 }];
/// let (mut gp, mut gq) = ([FactorRow::<16>::zeroed()], [FactorRow::<16>::zeroed()]);
/// accumulate_gradient(&params, 0.0, view(&p), view(&q), &ratings,
///     BandGrad { factors: &mut gp, biases: &mut [] },
///     BandGrad { factors: &mut gq, biases: &mut [] }).unwrap();
/// let probes = [ParamRef::UserFactor { row: 0, dim: 2 }, ParamRef::ItemFactor { row: 0, dim: 7 }];
/// let report = check_gradient(&params, 0.0, view(&p), view(&q), &ratings,
///     view(&gp), view(&gq), &probes).unwrap();
/// assert_eq!(report.checked, 2);
/// assert!(report.worst_relative_error < 1e-5);
/// ```
#[allow(clippy::too_many_arguments)] // the contract: bands, gradient bands, probes
pub fn check_gradient<const K: usize>(
    params: &HyperParams,
    mu: f32,
    users: BandView<'_, K>,
    items: BandView<'_, K>,
    ratings: &[Rating],
    grad_users: BandView<'_, K>,
    grad_items: BandView<'_, K>,
    probes: &[ParamRef],
) -> Result<GradCheckReport, KernelError> {
    if grad_users.len() != users.len() || grad_items.len() != items.len() {
        return Err(KernelError::GradientShape);
    }
    let mut report = GradCheckReport::default();
    for &probe in probes {
        let x = f64::from(param_value(users, items, probe)?);
        let analytic = f64::from(
            param_value(grad_users, grad_items, probe).map_err(|_| KernelError::GradientShape)?,
        );
        let h = {
            let h = libm::cbrt(f64::EPSILON) * x.abs().max(1.0);
            // Make the step exactly representable around x.
            (x + h) - x
        };
        let up = objective(params, mu, users, items, ratings, Some((probe, x + h)))?;
        let down = objective(params, mu, users, items, ratings, Some((probe, x - h)))?;
        let numeric = (up - down) / (2.0 * h);
        let scale = analytic.abs().max(numeric.abs()).max(RELATIVE_ERROR_FLOOR);
        let relative = (analytic - numeric).abs() / scale;
        // A NaN error is the worst there is, and stays the worst.
        let worse = !report.worst_relative_error.is_nan()
            && (report.worst.is_none()
                || relative.is_nan()
                || relative > report.worst_relative_error);
        if worse {
            report.worst_relative_error = relative;
            report.worst = Some(probe);
            report.analytic = analytic;
            report.numeric = numeric;
        }
        report.checked += 1;
    }
    Ok(report)
}
