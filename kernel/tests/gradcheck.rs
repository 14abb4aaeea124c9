//! The analytic gradient matches the difference quotient of J on random
//! problems, and a deliberately wrong gradient is flagged.

mod common;

use common::{random_ratings, rng, OwnedBand};
use funk_kernel::{
    accumulate_gradient, check_gradient, BandGrad, FactorRow, HyperParams, KernelError,
    LearningRate, ModelKind, ParamRef, Rating,
};
use proptest::prelude::*;

const K: usize = 16;
const RANK: usize = 5;

struct Problem {
    users: OwnedBand<K>,
    items: OwnedBand<K>,
    ratings: Vec<Rating>,
    grad_users: Vec<FactorRow<K>>,
    grad_items: Vec<FactorRow<K>>,
    grad_user_biases: Vec<f32>,
    grad_item_biases: Vec<f32>,
    params: HyperParams,
}

impl Problem {
    fn new(seed: u64, model: ModelKind, lambda: f32, lambda_b: f32) -> Self {
        let mut rng = rng(seed);
        let users = OwnedBand::random(&mut rng, 9, RANK, 0.8);
        let items = OwnedBand::random(&mut rng, 7, RANK, 0.8);
        let ratings = random_ratings(&mut rng, 9, 7, 40);
        let params =
            HyperParams::new(model, 0.01, lambda, lambda_b, LearningRate::Constant).unwrap();
        let mut problem = Self {
            grad_users: vec![FactorRow::zeroed(); 9],
            grad_items: vec![FactorRow::zeroed(); 7],
            grad_user_biases: vec![0.0; 9],
            grad_item_biases: vec![0.0; 7],
            users,
            items,
            ratings,
            params,
        };
        accumulate_gradient(
            &problem.params,
            3.0,
            problem.users.view(),
            problem.items.view(),
            &problem.ratings,
            BandGrad {
                factors: &mut problem.grad_users,
                biases: &mut problem.grad_user_biases,
            },
            BandGrad {
                factors: &mut problem.grad_items,
                biases: &mut problem.grad_item_biases,
            },
        )
        .unwrap();
        problem
    }

    fn probes(&self) -> Vec<ParamRef> {
        let mut probes = Vec::new();
        for row in 0..9 {
            for dim in 0..K as u32 {
                probes.push(ParamRef::UserFactor { row, dim });
            }
            probes.push(ParamRef::UserBias(row));
        }
        for row in 0..7 {
            for dim in 0..K as u32 {
                probes.push(ParamRef::ItemFactor { row, dim });
            }
            probes.push(ParamRef::ItemBias(row));
        }
        probes
    }

    fn check(&self) -> funk_kernel::GradCheckReport {
        self.check_probes(&self.probes())
    }

    fn check_probes(&self, probes: &[ParamRef]) -> funk_kernel::GradCheckReport {
        check_gradient(
            &self.params,
            3.0,
            self.users.view(),
            self.items.view(),
            &self.ratings,
            funk_kernel::BandView {
                factors: &self.grad_users,
                biases: &self.grad_user_biases,
            },
            funk_kernel::BandView {
                factors: &self.grad_items,
                biases: &self.grad_item_biases,
            },
            probes,
        )
        .unwrap()
    }
}

/// The analytic gradient is summed in f32 (the bands' type) from terms of
/// size up to ~4 (2·e·q with e and q of order 1), a handful per row, so its
/// absolute rounding error is up to ~1e-6 however small the sum: where
/// the terms nearly cancel, the relative error against f64's difference
/// quotient is only meaningful above that. The kernel's own floor (1e-4)
/// is right for flagging wrong gradients; this test, checking that a right
/// one passes, measures each probe against a floor of 1e-2 instead.
const F32_SUM_FLOOR: f64 = 1e-2;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn analytic_gradient_matches_difference_quotient_on_random_problems(
        seed in any::<u64>(),
        biased in any::<bool>(),
        lambda in 0.0f32..0.5,
        lambda_b in 0.0f32..0.5,
    ) {
        let model = if biased { ModelKind::Biased } else { ModelKind::Plain };
        let problem = Problem::new(seed, model, lambda, lambda_b);
        prop_assert_eq!(problem.check().checked, problem.probes().len());
        for probe in problem.probes() {
            let r = problem.check_probes(&[probe]);
            let scale = r.analytic.abs().max(r.numeric.abs()).max(F32_SUM_FLOOR);
            // f32 sums, hence 1e-3 rather than f64's 1e-8.
            prop_assert!((r.analytic - r.numeric).abs() / scale < 1e-3, "{:?}", r);
        }
    }
}

#[test]
fn a_wrong_factor_gradient_is_flagged_at_the_right_parameter() {
    let mut problem = Problem::new(11, ModelKind::Biased, 0.1, 0.05);
    assert!(problem.check().worst_relative_error < 1e-3);
    // Off by a little more than its own size in one entry.
    let (row, dim) = (3, 2);
    let g = &mut problem.grad_users[row].0[dim as usize];
    *g += 0.1 + 0.1 * g.abs();
    let report = problem.check();
    assert!(report.worst_relative_error > 1e-2, "{report:?}");
    assert_eq!(
        report.worst,
        Some(ParamRef::UserFactor {
            row: row as u32,
            dim
        })
    );
}

#[test]
fn a_gradient_with_the_wrong_sign_is_flagged() {
    let mut problem = Problem::new(5, ModelKind::Plain, 0.0, 0.0);
    for g in problem.grad_items.iter_mut().flat_map(|r| r.0.iter_mut()) {
        *g = -*g;
    }
    let report = problem.check();
    assert!(report.worst_relative_error > 1.0, "{report:?}");
    assert!(matches!(report.worst, Some(ParamRef::ItemFactor { .. })));
}

#[test]
fn a_wrong_bias_gradient_is_flagged() {
    let mut problem = Problem::new(9, ModelKind::Biased, 0.05, 0.05);
    problem.grad_item_biases[4] *= 1.1;
    let report = problem.check();
    assert!(report.worst_relative_error > 0.05, "{report:?}");
    assert_eq!(report.worst, Some(ParamRef::ItemBias(4)));
}

#[test]
fn probes_outside_the_bands_are_errors_not_panics() {
    let problem = Problem::new(1, ModelKind::Plain, 0.0, 0.0);
    fn view(f: &[FactorRow<K>]) -> funk_kernel::BandView<'_, K> {
        funk_kernel::BandView {
            factors: f,
            biases: &[],
        }
    }
    for probe in [
        ParamRef::UserFactor { row: 9, dim: 0 },
        ParamRef::ItemFactor {
            row: 0,
            dim: K as u32,
        },
        ParamRef::UserBias(0),
    ] {
        let result = check_gradient(
            &problem.params,
            0.0,
            view(&problem.users.factors),
            view(&problem.items.factors),
            &problem.ratings,
            view(&problem.grad_users),
            view(&problem.grad_items),
            &[probe],
        );
        assert_eq!(result, Err(KernelError::ParamOutOfRange(probe)));
    }
}
