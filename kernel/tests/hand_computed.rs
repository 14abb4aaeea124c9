//! Loss, gradient, gradient step and objective on a problem small enough to
//! work out by hand: two users, two items, three ratings, with every value
//! a short binary fraction so that each sum is exact in f32 and f64 and the
//! expected numbers can be written down as literals.
//!
//! The property tests elsewhere compare the analytic gradient with the
//! objective's difference quotient; that cannot see a fault shared by both,
//! or one in the returned error sums. These pin the numbers themselves.

use funk_kernel::{
    accumulate_gradient, evaluate_block, gradient_step, objective, Band, BandGrad, BandView,
    FactorRow, HyperParams, Isa, KernelError, LearningRate, LossStats, ModelKind, ParamRef, Rating,
};

const K: usize = 16;

/// A row whose first two dimensions are `a`, `b` (the rest zero).
fn row(a: f32, b: f32) -> FactorRow<K> {
    let mut r = FactorRow::zeroed();
    r.0[0] = a;
    r.0[1] = b;
    r
}

struct Problem {
    p: Vec<FactorRow<K>>,
    q: Vec<FactorRow<K>>,
    bu: Vec<f32>,
    bi: Vec<f32>,
    ratings: Vec<Rating>,
}

const MU: f32 = 3.0;
const LAMBDA: f32 = 0.5;
const LAMBDA_B: f32 = 0.25;

/// p₀ = (1, ½), p₁ = (½, −1); q₀ = (2, 1), q₁ = (−1, ½);
/// b_u = (½, −¼), b_i = (¼, 1), μ = 3; ratings (0,0,5), (0,1,2), (1,1,4).
///
/// Dot products 2.5, −0.75, −1. Plain errors 2.5, 2.75, 5; biased
/// predictions 6.25, 3.75, 2.75, errors −1.25, −1.75, 1.25.
fn problem() -> Problem {
    Problem {
        p: vec![row(1.0, 0.5), row(0.5, -1.0)],
        q: vec![row(2.0, 1.0), row(-1.0, 0.5)],
        bu: vec![0.5, -0.25],
        bi: vec![0.25, 1.0],
        ratings: vec![
            Rating {
                user: 0,
                item: 0,
                value: 5.0,
            },
            Rating {
                user: 0,
                item: 1,
                value: 2.0,
            },
            Rating {
                user: 1,
                item: 1,
                value: 4.0,
            },
        ],
    }
}

impl Problem {
    fn users(&self, model: ModelKind) -> BandView<'_, K> {
        BandView {
            factors: &self.p,
            biases: if model == ModelKind::Biased {
                &self.bu
            } else {
                &[]
            },
        }
    }
    fn items(&self, model: ModelKind) -> BandView<'_, K> {
        BandView {
            factors: &self.q,
            biases: if model == ModelKind::Biased {
                &self.bi
            } else {
                &[]
            },
        }
    }
}

fn params(model: ModelKind) -> HyperParams {
    HyperParams::new(model, 0.01, LAMBDA, LAMBDA_B, LearningRate::Constant).unwrap()
}

const PLAIN_LOSS: LossStats = LossStats {
    sse: 6.25 + 7.5625 + 25.0,
    sae: 2.5 + 2.75 + 5.0,
    count: 3,
};
const BIASED_LOSS: LossStats = LossStats {
    sse: 1.5625 + 3.0625 + 1.5625,
    sae: 1.25 + 1.75 + 1.25,
    count: 3,
};

#[test]
fn merged_loss_sums_add_up_and_give_rmse_and_mae() {
    let mut total = LossStats {
        sse: 8.0,
        sae: 4.0,
        count: 2,
    };
    total.merge(LossStats {
        sse: 10.0,
        sae: 2.0,
        count: 1,
    });
    assert_eq!(
        total,
        LossStats {
            sse: 18.0,
            sae: 6.0,
            count: 3
        }
    );
    assert_eq!(total.rmse(), 6f64.sqrt());
    assert_eq!(total.mae(), 2.0);
    let none = LossStats::default();
    assert!(none.rmse().is_nan() && none.mae().is_nan());
}

#[test]
fn evaluate_block_sums_the_errors_of_both_models_on_every_isa() {
    let pr = problem();
    for isa in Isa::available() {
        for (model, expected) in [
            (ModelKind::Plain, PLAIN_LOSS),
            (ModelKind::Biased, BIASED_LOSS),
        ] {
            let loss = evaluate_block(
                isa,
                model,
                MU,
                pr.users(model),
                pr.items(model),
                &pr.ratings,
                None,
            )
            .unwrap();
            assert_eq!(loss, expected, "{} {model:?}", isa.name());
        }
        // Clamped to [3, 4]: biased predictions 4, 3.75, 3; errors 1, 1.75, 1.
        let clamped = evaluate_block(
            isa,
            ModelKind::Biased,
            MU,
            pr.users(ModelKind::Biased),
            pr.items(ModelKind::Biased),
            &pr.ratings,
            Some((3.0, 4.0)),
        )
        .unwrap();
        assert_eq!(clamped.sae, 1.0 + 1.75 + 1.0, "{}", isa.name());
    }
}

/// The gradient of the biased model, worked out term by term (2λ = 1,
/// 2λ_b = ½):
///
/// - ∂p₀ = 2.5 q₀ + 3.5 q₁ + 2 p₀ = (3.5, 5.25); ∂p₁ = −2.5 q₁ + p₁ = (3, −2.25);
/// - ∂q₀ = 2.5 p₀ + q₀ = (4.5, 2.25); ∂q₁ = 3.5 p₀ − 2.5 p₁ + 2 q₁ = (0.25, 5.25);
/// - ∂b_u = (2.5 + ¼ + 3.5 + ¼, −2.5 − ⅛) = (6.5, −2.625);
/// - ∂b_i = (2.5 + ⅛, 3.5 + ½ − 2.5 + ½) = (2.625, 2).
#[test]
fn accumulate_gradient_adds_every_term_of_the_biased_gradient() {
    let pr = problem();
    let model = ModelKind::Biased;
    let (mut gp, mut gq) = (vec![FactorRow::zeroed(); 2], vec![FactorRow::zeroed(); 2]);
    let (mut gbu, mut gbi) = (vec![0.0; 2], vec![0.0; 2]);
    let loss = accumulate_gradient(
        &params(model),
        MU,
        pr.users(model),
        pr.items(model),
        &pr.ratings,
        BandGrad {
            factors: &mut gp,
            biases: &mut gbu,
        },
        BandGrad {
            factors: &mut gq,
            biases: &mut gbi,
        },
    )
    .unwrap();
    assert_eq!(loss, BIASED_LOSS);
    assert_eq!(gp, [row(3.5, 5.25), row(3.0, -2.25)]);
    assert_eq!(gq, [row(4.5, 2.25), row(0.25, 5.25)]);
    assert_eq!(gbu, [6.5, -2.625]);
    assert_eq!(gbi, [2.625, 2.0]);
}

/// Plain model: errors 2.5, 2.75, 5, so
/// ∂p₀ = −5 q₀ − 5.5 q₁ + 2 p₀ = (−2.5, −6.75), ∂p₁ = −10 q₁ + p₁ = (10.5, −6),
/// ∂q₀ = −5 p₀ + q₀ = (−3, −1.5), ∂q₁ = −5.5 p₀ − 10 p₁ + 2 q₁ = (−12.5, 8.25).
/// A second block's terms are added to what the bands already hold.
#[test]
fn accumulate_gradient_of_the_plain_model_adds_to_what_is_there() {
    let pr = problem();
    let model = ModelKind::Plain;
    let (mut gp, mut gq) = (vec![row(1.0, 1.0); 2], vec![row(-1.0, 0.0); 2]);
    let loss = accumulate_gradient(
        &params(model),
        MU,
        pr.users(model),
        pr.items(model),
        &pr.ratings,
        BandGrad {
            factors: &mut gp,
            biases: &mut [],
        },
        BandGrad {
            factors: &mut gq,
            biases: &mut [],
        },
    )
    .unwrap();
    assert_eq!(loss, PLAIN_LOSS);
    assert_eq!(gp, [row(-1.5, -5.75), row(11.5, -5.0)]);
    assert_eq!(gq, [row(-4.0, -1.5), row(-13.5, 8.25)]);
}

#[test]
fn a_gradient_band_of_the_wrong_shape_is_refused() {
    let pr = problem();
    let model = ModelKind::Plain;
    let (mut gp, mut gq) = (vec![FactorRow::zeroed(); 1], vec![FactorRow::zeroed(); 2]);
    let result = accumulate_gradient(
        &params(model),
        MU,
        pr.users(model),
        pr.items(model),
        &pr.ratings,
        BandGrad {
            factors: &mut gp,
            biases: &mut [],
        },
        BandGrad {
            factors: &mut gq,
            biases: &mut [],
        },
    );
    assert_eq!(result, Err(KernelError::GradientShape));
}

#[test]
fn gradient_step_moves_factors_and_biases_against_the_gradient() {
    let mut rows = vec![row(1.0, -2.0), row(0.5, 0.0)];
    let mut biases = vec![1.0, -1.0];
    let grad = [row(4.0, -8.0), row(2.0, 1.0)];
    let grad_biases = [2.0, 4.0];
    gradient_step(
        Band {
            factors: &mut rows,
            biases: &mut biases,
            grad_sq: &mut [],
        },
        BandView {
            factors: &grad,
            biases: &grad_biases,
        },
        0.25,
    );
    assert_eq!(rows, [row(0.0, 0.0), row(0.0, -0.25)]);
    assert_eq!(biases, [0.5, -2.0]);

    // A gradient without biases leaves the biases alone.
    gradient_step(
        Band {
            factors: &mut rows,
            biases: &mut biases,
            grad_sq: &mut [],
        },
        BandView {
            factors: &grad,
            biases: &[],
        },
        0.5,
    );
    assert_eq!(rows, [row(-2.0, 4.0), row(-1.0, -0.75)]);
    assert_eq!(biases, [0.5, -2.0]);
}

/// J: e² terms as in the loss, λ‖p‖² + λ‖q‖² (‖p₀‖² = ‖p₁‖² = ‖q₁‖² = 1.25,
/// ‖q₀‖² = 5) and, biased, λ_b(b_u² + b_i²).
#[test]
fn the_objective_adds_errors_and_both_penalties() {
    let pr = problem();
    let penalties = LAMBDA as f64 * (6.25 + 2.5 + 2.5);
    let plain = objective(
        &params(ModelKind::Plain),
        MU,
        pr.users(ModelKind::Plain),
        pr.items(ModelKind::Plain),
        &pr.ratings,
        None,
    )
    .unwrap();
    assert_eq!(plain, PLAIN_LOSS.sse + penalties);
    let biased = objective(
        &params(ModelKind::Biased),
        MU,
        pr.users(ModelKind::Biased),
        pr.items(ModelKind::Biased),
        &pr.ratings,
        None,
    )
    .unwrap();
    let bias_penalty = LAMBDA_B as f64 * ((0.25 + 0.0625) + (0.25 + 1.0) + (0.0625 + 1.0));
    assert_eq!(biased, BIASED_LOSS.sse + penalties + bias_penalty);
}

/// Every parameter, moved through `perturb`, gives the objective of the
/// bands with that one value changed, and nothing else.
#[test]
fn a_perturbed_parameter_is_that_parameter_changed_and_no_other() {
    let base = problem();
    let model = ModelKind::Biased;
    let mut probes = Vec::new();
    for r in 0..2 {
        for dim in [0, 1, 5] {
            probes.push(ParamRef::UserFactor { row: r, dim });
            probes.push(ParamRef::ItemFactor { row: r, dim });
        }
        probes.push(ParamRef::UserBias(r));
        probes.push(ParamRef::ItemBias(r));
    }
    for param in probes {
        let mut moved = problem();
        let value = match param {
            ParamRef::UserFactor { row, dim } => &mut moved.p[row as usize].0[dim as usize],
            ParamRef::ItemFactor { row, dim } => &mut moved.q[row as usize].0[dim as usize],
            ParamRef::UserBias(row) => &mut moved.bu[row as usize],
            ParamRef::ItemBias(row) => &mut moved.bi[row as usize],
        };
        *value += 0.5;
        let x = f64::from(*value);
        let j = |pr: &Problem, perturb| {
            objective(
                &params(model),
                MU,
                pr.users(model),
                pr.items(model),
                &pr.ratings,
                perturb,
            )
            .unwrap()
        };
        let through_perturb = j(&base, Some((param, x)));
        assert_eq!(through_perturb, j(&moved, None), "{param:?}");
        assert_ne!(through_perturb, j(&base, None), "{param:?}");
    }
}

#[test]
fn perturbing_a_parameter_outside_the_bands_is_an_error() {
    let pr = problem();
    for (model, param) in [
        (ModelKind::Biased, ParamRef::UserFactor { row: 2, dim: 0 }),
        (
            ModelKind::Biased,
            ParamRef::ItemFactor {
                row: 0,
                dim: K as u32,
            },
        ),
        (ModelKind::Biased, ParamRef::ItemBias(2)),
        (ModelKind::Plain, ParamRef::UserBias(0)),
    ] {
        let result = objective(
            &params(model),
            MU,
            pr.users(model),
            pr.items(model),
            &pr.ratings,
            Some((param, 1.0)),
        );
        assert_eq!(result, Err(KernelError::ParamOutOfRange(param)));
    }
}
