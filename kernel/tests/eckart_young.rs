//! On a small fully observed dense matrix, plain GD with no regularisation
//! reaches the Eckart–Young error: the Frobenius error of the truncated
//! SVD, from a reference SVD computed here with nalgebra.

mod common;

use common::{random_rows, rng};
use funk_kernel::{
    accumulate_gradient, gradient_step, objective, Band, BandGrad, BandView, FactorRow,
    HyperParams, LearningRate, ModelKind, Rating,
};
use nalgebra::DMatrix;
use rand_distr::{Distribution, StandardNormal};

const K: usize = 16;
const RANK: usize = 3;
const ROWS: usize = 12;
const COLS: usize = 9;

/// A = U Σ Vᵀ with random orthonormal U, V and a spectrum with a clear gap
/// after the third value.
fn dense_matrix(seed: u64) -> DMatrix<f64> {
    let mut rng = rng(seed);
    let mut gaussian = |r, c| DMatrix::<f64>::from_fn(r, c, |_, _| StandardNormal.sample(&mut rng));
    let u = gaussian(ROWS, COLS).qr().q();
    let v = gaussian(COLS, COLS).qr().q();
    let sigma = [8.0, 5.0, 3.0, 1.0, 0.6, 0.3, 0.2, 0.1, 0.05];
    u * DMatrix::from_diagonal(&nalgebra::DVector::from_row_slice(&sigma)) * v.transpose()
}

#[test]
fn plain_gradient_descent_reaches_the_truncated_svd_error() {
    let a = dense_matrix(2024);
    // The reference: Σ_{j>ρ} σ_j² of nalgebra's SVD of A, the least
    // squared Frobenius error of any rank-ρ matrix.
    let mut singular: Vec<f64> = a
        .clone()
        .svd(false, false)
        .singular_values
        .iter()
        .copied()
        .collect();
    singular.sort_by(|x, y| y.total_cmp(x));
    let eckart_young: f64 = singular[RANK..].iter().map(|s| s * s).sum();

    let ratings: Vec<Rating> = (0..ROWS)
        .flat_map(|u| (0..COLS).map(move |i| (u, i)))
        .map(|(u, i)| Rating {
            user: u as u32,
            item: i as u32,
            value: a[(u, i)] as f32,
        })
        .collect();
    let params = HyperParams::new(ModelKind::Plain, 1.0, 0.0, 0.0, LearningRate::Constant).unwrap();
    let mut rng = rng(7);
    let mut users = random_rows::<K>(&mut rng, ROWS, RANK, 0.3);
    let mut items = random_rows::<K>(&mut rng, COLS, RANK, 0.3);
    let mut grad_users = vec![FactorRow::<K>::zeroed(); ROWS];
    let mut grad_items = vec![FactorRow::<K>::zeroed(); COLS];
    fn view(rows: &[FactorRow<K>]) -> BandView<'_, K> {
        BandView {
            factors: rows,
            biases: &[],
        }
    }
    fn band(rows: &mut [FactorRow<K>]) -> Band<'_, K> {
        Band {
            factors: rows,
            biases: &mut [],
            grad_sq: &mut [],
        }
    }
    for _ in 0..3000 {
        let mut gu = BandGrad {
            factors: &mut grad_users,
            biases: &mut [],
        };
        let mut gi = BandGrad {
            factors: &mut grad_items,
            biases: &mut [],
        };
        gu.clear();
        gi.clear();
        accumulate_gradient(&params, 0.0, view(&users), view(&items), &ratings, gu, gi).unwrap();
        gradient_step(band(&mut users), view(&grad_users), 0.02);
        gradient_step(band(&mut items), view(&grad_items), 0.02);
    }
    let j = objective(&params, 0.0, view(&users), view(&items), &ratings, None).unwrap();
    let relative = (j - eckart_young).abs() / eckart_young;
    assert!(
        relative < 1e-3,
        "GD error {j} vs Eckart–Young {eckart_young} (relative {relative})"
    );

    // The factors give back the top singular values: ÛV̂ᵀ is the truncated SVD.
    let to_matrix = |rows: &[FactorRow<K>]| {
        DMatrix::<f64>::from_fn(rows.len(), RANK, |r, k| f64::from(rows[r].0[k]))
    };
    let product = to_matrix(&users) * to_matrix(&items).transpose();
    let mut recovered: Vec<f64> = product
        .svd(false, false)
        .singular_values
        .iter()
        .copied()
        .collect();
    recovered.sort_by(|x, y| y.total_cmp(x));
    for k in 0..RANK {
        let relative = (recovered[k] - singular[k]).abs() / singular[k];
        assert!(
            relative < 1e-3,
            "σ_{k}: {} vs {}",
            recovered[k],
            singular[k]
        );
    }
    // Padded dimensions never moved.
    assert!(users
        .iter()
        .chain(&items)
        .all(|r| r.0[RANK..].iter().all(|&v| v == 0.0)));
}
