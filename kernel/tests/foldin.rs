//! Fold-in: the folded row is the exact minimiser of the user's part of J
//! (a dense reference solve, and ∂J/∂(p, b_u) from the kernel's own
//! gradient), users folded in predict as well as trained users on an
//! ML-100K-shaped problem, and every bad input is refused.

mod common;

use common::{random_rows, random_values, rng};
use funk_kernel::{
    accumulate_gradient, evaluate_block, fold_in, Band, BandGrad, BandView, BlockRatings,
    BlockTrainer, FactorRow, FoldIn, FoldInError, HyperParams, Isa, ItemFactors, ItemRating,
    LearningRate, ModelKind, Rating,
};
use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_distr::{Distribution, Normal};

const K: usize = 48;

/// A fold-in problem: item rows, biases and one user's ratings.
struct Problem {
    rank: usize,
    items: Vec<FactorRow<K>>,
    biases: Vec<f32>,
    ratings: Vec<ItemRating>,
}

impl Problem {
    fn random(seed: u64, rank: usize, n_items: usize, n_ratings: usize) -> Self {
        let mut rng = rng(seed);
        let items = random_rows::<K>(&mut rng, n_items, rank, 1.0);
        let biases = random_values(&mut rng, n_items, 0.8);
        let ratings = (0..n_ratings)
            .map(|_| ItemRating {
                item: rng.random_range(0..n_items as u32),
                value: rng.random_range(1.0..=5.0),
            })
            .collect();
        Self {
            rank,
            items,
            biases,
            ratings,
        }
    }

    fn view(&self) -> ItemFactors<'_> {
        ItemFactors::from_rows(&self.items, self.rank, &self.biases).unwrap()
    }
}

/// The minimiser of Σ_i [(r − μ − b − b_i − p·q_i)² + λ‖p‖² + λ_b b²] + λ₀‖p‖²,
/// written from the definition: the stacked least-squares problem solved
/// by nalgebra's LU on the dense normal equations.
fn dense_minimiser(problem: &Problem, params: &FoldIn) -> (Vec<f64>, f64) {
    let biased = params.model() == ModelKind::Biased;
    let dim = problem.rank + usize::from(biased);
    let n = problem.ratings.len();
    let mut design = DMatrix::<f64>::zeros(n, dim);
    let mut target = DVector::<f64>::zeros(n);
    for (row, r) in problem.ratings.iter().enumerate() {
        let i = r.item as usize;
        for d in 0..problem.rank {
            design[(row, d)] = f64::from(problem.items[i].0[d]);
        }
        target[row] = f64::from(r.value);
        if biased {
            design[(row, problem.rank)] = 1.0;
            target[row] -= f64::from(params.mu()) + f64::from(problem.biases[i]);
        }
    }
    let per_factor = n as f64 * f64::from(params.reg_factors()) + f64::from(params.reg_row());
    let mut reg = vec![per_factor; problem.rank];
    if biased {
        reg.push(n as f64 * f64::from(params.reg_bias()));
    }
    let normal = design.transpose() * &design + DMatrix::from_diagonal(&DVector::from_vec(reg));
    let rhs = design.transpose() * target;
    let x = normal
        .lu()
        .solve(&rhs)
        .expect("regularised system is regular");
    let bias = if biased { x[problem.rank] } else { 0.0 };
    (x.iter().take(problem.rank).copied().collect(), bias)
}

/// The kernel's ∂J/∂p_u and ∂J/∂b_u for a one-user band holding (p, b),
/// plus the row prior's 2λ₀p, and a scale for them: Σ over ratings of the
/// magnitudes of the terms.
fn user_gradient(
    problem: &Problem,
    params: &FoldIn,
    p: &FactorRow<K>,
    b: f32,
) -> (Vec<f64>, f64, f64) {
    let hyper = HyperParams::new(
        params.model(),
        0.01,
        params.reg_factors(),
        params.reg_bias(),
        LearningRate::Constant,
    )
    .unwrap();
    let users = [*p];
    let user_bias = [b];
    let ratings: Vec<Rating> = problem
        .ratings
        .iter()
        .map(|r| Rating {
            user: 0,
            item: r.item,
            value: r.value,
        })
        .collect();
    let mut gp = [FactorRow::<K>::zeroed()];
    let mut gb = [0.0f32];
    let mut gq = vec![FactorRow::<K>::zeroed(); problem.items.len()];
    let mut gbi = vec![0.0f32; problem.items.len()];
    let biased = params.model() == ModelKind::Biased;
    let side = |v: &[f32]| if biased { v.len() } else { 0 };
    let (nb, nbi) = (side(&gb), side(&gbi));
    accumulate_gradient(
        &hyper,
        params.mu(),
        BandView {
            factors: &users,
            biases: &user_bias[..nb],
        },
        BandView {
            factors: &problem.items,
            biases: &problem.biases[..nbi],
        },
        &ratings,
        BandGrad {
            factors: &mut gp,
            biases: &mut gb[..nb],
        },
        BandGrad {
            factors: &mut gq,
            biases: &mut gbi[..nbi],
        },
    )
    .unwrap();
    // Scale: 2 Σ |q̃| (|r − μ − b_i| + |q̃·x|) + 2nλ|x|, what the terms of
    // the gradient are made of before they cancel.
    let n = problem.ratings.len() as f64;
    let x_max =
        p.0.iter()
            .map(|v| f64::from(v.abs()))
            .fold(f64::from(b.abs()), f64::max);
    let reg_max = params.reg_factors().max(params.reg_bias());
    let mut scale = 2.0 * (n * f64::from(reg_max) + f64::from(params.reg_row())) * x_max;
    for r in &problem.ratings {
        let q = &problem.items[r.item as usize].0;
        let q_max = q.iter().map(|v| f64::from(v.abs())).fold(1.0, f64::max);
        let q_sum: f64 = q.iter().map(|v| f64::from(v.abs())).sum::<f64>() + 1.0;
        scale += 2.0 * q_max * (f64::from(r.value.abs()) + 5.0 + q_sum * x_max);
    }
    let prior = 2.0 * f64::from(params.reg_row());
    let grad = gp[0].0[..problem.rank]
        .iter()
        .zip(&p.0)
        .map(|(&g, &v)| f64::from(g) + prior * f64::from(v))
        .collect();
    (grad, f64::from(gb[0]), scale)
}

fn params(biased: bool, reg_factors: f32, reg_bias: f32) -> FoldIn {
    with_prior(biased, reg_factors, reg_bias, 0.0)
}

fn with_prior(biased: bool, reg_factors: f32, reg_bias: f32, reg_row: f32) -> FoldIn {
    let model = if biased {
        ModelKind::Biased
    } else {
        ModelKind::Plain
    };
    FoldIn::new(model, reg_factors, reg_bias, 3.6)
        .unwrap()
        .with_row_prior(reg_row)
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// The folded row equals the dense minimiser to f32 precision, and the
    /// kernel's gradient of J with respect to the user vanishes there.
    #[test]
    fn fold_in_is_the_exact_minimiser(
        seed in any::<u64>(),
        rank in 1usize..=K,
        n_ratings in 1usize..240,
        biased in any::<bool>(),
        reg_factors in 0.001f32..0.5,
        reg_bias in 0.001f32..0.5,
        reg_row in prop_oneof![Just(0.0f32), 0.0f32..8.0],
    ) {
        let problem = Problem::random(seed, rank, 60, n_ratings);
        let params = with_prior(biased, reg_factors, reg_bias, reg_row);
        let mut row = FactorRow::<K>::splat(f32::NAN);
        let bias = fold_in::<K>(&params, &problem.view(), &problem.ratings, &mut row.0).unwrap();

        let (p_ref, b_ref) = dense_minimiser(&problem, &params);
        let size = p_ref.iter().fold(b_ref.abs(), |m, v| m.max(v.abs())).max(1.0);
        for (d, (&got, &want)) in row.0.iter().zip(&p_ref).enumerate() {
            prop_assert!((f64::from(got) - want).abs() <= 2e-6 * size,
                "dimension {d}: fold-in {got}, dense {want}");
        }
        prop_assert!((f64::from(bias) - b_ref).abs() <= 2e-6 * size, "bias {bias} vs {b_ref}");
        prop_assert!(row.0[rank..].iter().all(|&v| v == 0.0), "padding not zeroed");
        if !biased {
            prop_assert_eq!(bias, 0.0);
        }

        let (grad, grad_bias, scale) = user_gradient(&problem, &params, &row, bias);
        for (d, g) in grad.iter().enumerate() {
            prop_assert!(g.abs() <= 1e-5 * scale, "∂J/∂p[{d}] = {g} (scale {scale})");
        }
        prop_assert!(grad_bias.abs() <= 1e-5 * scale, "∂J/∂b = {grad_bias} (scale {scale})");
    }

    /// The folded row does not depend on the capacity K or the stride the
    /// item rows are stored with, to the bit.
    #[test]
    fn capacity_and_stride_do_not_change_the_answer(
        seed in any::<u64>(),
        rank in 1usize..=16,
        n_ratings in 1usize..60,
        biased in any::<bool>(),
    ) {
        let problem = Problem::random(seed, rank, 30, n_ratings);
        let params = params(biased, 0.05, 0.01);
        let mut wide = [0.0f32; K];
        let b_wide = fold_in::<K>(&params, &problem.view(), &problem.ratings, &mut wide).unwrap();
        // The same items stored tightly (stride = rank) and solved at K = 16.
        let tight: Vec<f32> = problem.items.iter().flat_map(|r| r.0[..rank].to_vec()).collect();
        let items = ItemFactors::new(&tight, rank, rank, &problem.biases).unwrap();
        let mut narrow = vec![0.0f32; rank];
        let b_narrow = fold_in::<16>(&params, &items, &problem.ratings, &mut narrow).unwrap();
        prop_assert_eq!(&wide[..rank], &narrow[..]);
        prop_assert_eq!(b_wide.to_bits(), b_narrow.to_bits());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any f32 bit patterns (NaN, infinities, subnormals, huge values) as
    /// parameters, factors, biases and ratings, and any item index: an
    /// error or a finite row with zero padding, never a panic.
    #[test]
    fn arbitrary_bits_never_panic(
        biased in any::<bool>(),
        rank in 0usize..=20,
        extra in 0usize..3,
        regs in (any::<u32>(), any::<u32>(), any::<u32>()),
        items in proptest::collection::vec((any::<u32>(), any::<u32>()), 0..8),
        ratings in proptest::collection::vec((0u32..10, any::<u32>()), 0..24),
        huge in any::<bool>(),
    ) {
        let model = if biased { ModelKind::Biased } else { ModelKind::Plain };
        let bits = |b: u32| if huge { f32::from_bits(b) } else { f32::from_bits(b & 0xBFFF_FFFF) };
        let Ok(params) = FoldIn::new(model, bits(regs.0), bits(regs.1), bits(regs.2)) else {
            return Ok(());
        };
        let stride = (rank + extra).max(1);
        let factors: Vec<f32> = items
            .iter()
            .flat_map(|&(seed, _)| (0..stride as u32).map(move |d| bits(seed.rotate_left(d))))
            .collect();
        let biases: Vec<f32> = items.iter().map(|&(_, b)| bits(b)).collect();
        let view = ItemFactors::new(&factors, stride, rank, &biases).unwrap();
        let ratings: Vec<ItemRating> = ratings
            .iter()
            .map(|&(item, v)| ItemRating { item, value: bits(v) })
            .collect();
        let mut row = [f32::NAN; 24];
        match fold_in::<16>(&params, &view, &ratings, &mut row) {
            Ok(bias) => {
                prop_assert!(rank <= 16);
                prop_assert!(row[..rank].iter().all(|v| v.is_finite()));
                prop_assert!(row[rank..].iter().all(|&v| v == 0.0));
                prop_assert!(bias.is_finite());
            }
            Err(_) => prop_assert!(row.iter().all(|v| v.is_nan())),
        }
    }
}

/// Rank 1, plain model, one rating: p = q r / (q² + λ).
#[test]
fn rank_one_closed_form() {
    let factors = [2.0f32];
    let items = ItemFactors::new(&factors, 1, 1, &[]).unwrap();
    let params = FoldIn::new(ModelKind::Plain, 0.5, 0.0, 0.0).unwrap();
    let mut p = [0.0f32];
    let ratings = [ItemRating {
        item: 0,
        value: 3.0,
    }];
    let bias = fold_in::<1>(&params, &items, &ratings, &mut p).unwrap();
    assert_eq!(bias, 0.0);
    assert!((p[0] - 2.0 * 3.0 / (4.0 + 0.5)).abs() < 1e-7, "{}", p[0]);
    // Two ratings of the item: 2λ per rating, λ₀ once.
    let prior = params.with_row_prior(3.0).unwrap();
    let twice = [ratings[0], ratings[0]];
    fold_in::<1>(&prior, &items, &twice, &mut p).unwrap();
    let want = 2.0 * (2.0 * 3.0) / (2.0 * 4.0 + 2.0 * 0.5 + 3.0);
    assert!((p[0] - want).abs() < 1e-7, "{} vs {want}", p[0]);
}

/// Biased model, rank 1, two ratings: the 2×2 system written out.
#[test]
fn biased_two_by_two_written_out() {
    let factors = [1.0f32, -1.0];
    let biases = [0.25f32, -0.25];
    let items = ItemFactors::new(&factors, 1, 1, &biases).unwrap();
    let (lambda, lambda_b, mu) = (0.1f64, 0.2f64, 3.0f64);
    let params = FoldIn::new(ModelKind::Biased, 0.1, 0.2, 3.0).unwrap();
    let ratings = [
        ItemRating {
            item: 0,
            value: 4.0,
        },
        ItemRating {
            item: 1,
            value: 2.0,
        },
    ];
    let mut p = [0.0f32];
    let b = fold_in::<1>(&params, &items, &ratings, &mut p).unwrap();
    // t = r − μ − b_i = (0.75, −0.75); q̃ = (1, 1), (−1, 1); n = 2.
    // [2 + 2λ, 0; 0, 2 + 2λ_b] (p, b) = (1.5, 0).
    let (t0, t1) = (4.0 - mu - 0.25, 2.0 - mu + 0.25);
    let want_p = (t0 - t1) / (2.0 + 2.0 * lambda);
    let want_b = (t0 + t1) / (2.0 + 2.0 * lambda_b);
    assert!(
        (f64::from(p[0]) - want_p).abs() < 1e-6,
        "{} vs {want_p}",
        p[0]
    );
    assert!((f64::from(b) - want_b).abs() < 1e-6, "{b} vs {want_b}");
}

#[test]
fn no_ratings_give_the_zero_row() {
    let problem = Problem::random(1, 8, 10, 0);
    for biased in [false, true] {
        let mut row = [f32::NAN; 16];
        let bias =
            fold_in::<16>(&params(biased, 0.1, 0.1), &problem.view(), &[], &mut row).unwrap();
        assert_eq!(bias, 0.0);
        assert_eq!(row, [0.0; 16]);
    }
}

/// Each refusal, with the row left untouched.
#[test]
fn bad_input_is_refused_and_the_row_untouched() {
    let problem = Problem::random(7, 8, 10, 20);
    let good = params(true, 0.05, 0.05);
    let run =
        |params: &FoldIn, items: &ItemFactors<'_>, ratings: &[ItemRating], row: &mut [f32]| {
            row.fill(-7.0);
            let err = fold_in::<16>(params, items, ratings, row).unwrap_err();
            assert!(row.iter().all(|&v| v == -7.0), "row written on {err:?}");
            assert!(!err.to_string().is_empty());
            err
        };
    let mut row = [0.0f32; 16];

    let mut ratings = problem.ratings.clone();
    ratings[3].item = 10;
    assert_eq!(
        run(&good, &problem.view(), &ratings, &mut row),
        FoldInError::ItemOutOfRange {
            rating: 3,
            item: 10,
            items: 10
        }
    );
    for value in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut ratings = problem.ratings.clone();
        ratings[5].value = value;
        assert!(matches!(
            run(&good, &problem.view(), &ratings, &mut row),
            FoldInError::RatingNotFinite { rating: 5, .. }
        ));
    }

    // A non-finite factor or bias of a rated item is named; an unrated
    // one is not read.
    let rated = problem.ratings[4].item as usize;
    let first = problem
        .ratings
        .iter()
        .position(|r| r.item as usize == rated)
        .unwrap();
    let mut items = problem.items.clone();
    items[rated].0[2] = f32::NAN;
    let view = ItemFactors::from_rows(&items, 8, &problem.biases).unwrap();
    assert_eq!(
        run(&good, &view, &problem.ratings, &mut row),
        FoldInError::ItemNotFinite {
            rating: first,
            item: rated as u32
        }
    );
    let mut biases = problem.biases.clone();
    biases[rated] = f32::INFINITY;
    let view = ItemFactors::from_rows(&problem.items, 8, &biases).unwrap();
    assert!(matches!(
        run(&good, &view, &problem.ratings, &mut row),
        FoldInError::ItemNotFinite { .. }
    ));
    let unrated = (0..10)
        .find(|&i| problem.ratings.iter().all(|r| r.item as usize != i))
        .expect("20 ratings leave an item of 10 unrated for this seed");
    let mut items = problem.items.clone();
    items[unrated].0[0] = f32::NAN;
    let view = ItemFactors::from_rows(&items, 8, &problem.biases).unwrap();
    assert!(fold_in::<16>(&good, &view, &problem.ratings, &mut row).is_ok());

    // Rank above the capacity, output row too short.
    let wide = ItemFactors::from_rows(&problem.items, 17, &problem.biases).unwrap();
    assert_eq!(
        run(&good, &wide, &problem.ratings, &mut [0.0; 32]),
        FoldInError::RankAboveCapacity {
            rank: 17,
            capacity: 16
        }
    );
    assert_eq!(
        run(&good, &problem.view(), &problem.ratings, &mut row[..7]),
        FoldInError::RowTooShort { len: 7, rank: 8 }
    );

    // The biased model without item biases.
    let no_biases = ItemFactors::from_rows(&problem.items, 8, &[]).unwrap();
    assert_eq!(
        run(&good, &no_biases, &problem.ratings, &mut row),
        FoldInError::ItemBiases { len: 0, items: 10 }
    );
    let plain = params(false, 0.05, 0.0);
    assert!(fold_in::<16>(&plain, &no_biases, &problem.ratings, &mut row).is_ok());

    // λ = 0 with fewer ratings than the rank: the row is not determined.
    let unregularised = params(false, 0.0, 0.0);
    assert_eq!(
        run(
            &unregularised,
            &problem.view(),
            &problem.ratings[..5],
            &mut row
        ),
        FoldInError::Singular
    );
    // A solution beyond f32: tiny item rows, no regularisation.
    let tiny = vec![FactorRow::<16>::splat(1e-30); 1];
    let view = ItemFactors::from_rows(&tiny, 1, &[]).unwrap();
    let one = [ItemRating {
        item: 0,
        value: 1e30,
    }];
    assert_eq!(
        run(&unregularised, &view, &one, &mut row),
        FoldInError::SolutionOverflow
    );
}

#[test]
fn parameters_and_layout_are_checked() {
    for bad in [f32::NAN, f32::INFINITY, -0.1] {
        assert!(matches!(
            FoldIn::new(ModelKind::Biased, bad, 0.0, 0.0),
            Err(FoldInError::RegFactors(_))
        ));
        assert!(matches!(
            FoldIn::new(ModelKind::Biased, 0.0, bad, 0.0),
            Err(FoldInError::RegBias(_))
        ));
    }
    assert!(matches!(
        FoldIn::new(ModelKind::Plain, 0.0, 0.0, f32::NAN),
        Err(FoldInError::Mean(_))
    ));
    for bad in [f32::NAN, f32::NEG_INFINITY, -1.0] {
        assert_eq!(
            params(true, 0.1, 0.1)
                .with_row_prior(bad)
                .unwrap_err()
                .to_string(),
            FoldInError::RegRow(bad).to_string()
        );
    }
    let hyper =
        HyperParams::new(ModelKind::Biased, 0.01, 0.05, 0.02, LearningRate::Constant).unwrap();
    let from = FoldIn::from_params(&hyper, 3.5).unwrap();
    assert_eq!(
        from,
        FoldIn::new(ModelKind::Biased, 0.05, 0.02, 3.5).unwrap()
    );

    let values = [0.0f32; 12];
    assert_eq!(
        ItemFactors::new(&values, 4, 5, &[]).unwrap_err(),
        FoldInError::Stride { stride: 4, rank: 5 }
    );
    assert_eq!(
        ItemFactors::new(&values, 0, 0, &[]).unwrap_err(),
        FoldInError::Stride { stride: 0, rank: 0 }
    );
    assert_eq!(
        ItemFactors::new(&values, 5, 3, &[]).unwrap_err(),
        FoldInError::RaggedFactors { len: 12, stride: 5 }
    );
    assert_eq!(
        ItemFactors::new(&values, 4, 3, &[0.0; 2]).unwrap_err(),
        FoldInError::ItemBiases { len: 2, items: 3 }
    );
    let ok = ItemFactors::new(&values, 4, 3, &[0.0; 3]).unwrap();
    assert_eq!((ok.items(), ok.rank(), ok.stride()), (3, 3, 4));
}

/// Unregularised, with a dimension no rated item has a value in: that
/// factor is not determined, and the zero pivot is refused as singular
/// (not divided by, which would give a NaN row reported as overflow).
#[test]
fn a_dimension_no_rated_item_spans_is_singular() {
    let factors = [1.0f32, 0.0, 2.0, 0.0, 3.0, 0.0];
    let items = ItemFactors::new(&factors, 2, 2, &[]).unwrap();
    let params = FoldIn::new(ModelKind::Plain, 0.0, 0.0, 0.0).unwrap();
    let ratings: Vec<ItemRating> = (0..3).map(|item| ItemRating { item, value: 4.0 }).collect();
    let mut row = [-7.0f32; 2];
    assert_eq!(
        fold_in::<2>(&params, &items, &ratings, &mut row),
        Err(FoldInError::Singular)
    );
    assert_eq!(row, [-7.0; 2]);
    // Any λ > 0 holds that factor at zero.
    let held = FoldIn::new(ModelKind::Plain, 0.01, 0.0, 0.0).unwrap();
    fold_in::<2>(&held, &items, &ratings, &mut row).unwrap();
    assert_eq!(row[1], 0.0);
}

/// The pivot test is relative to the diagonal: item rows scaled by 2⁻²⁰
/// (exactly, in binary) are as well conditioned as before, and the
/// unregularised row comes out scaled by 2²⁰, to the bit, instead of
/// being refused because the pivots are small in absolute terms.
#[test]
fn tiny_but_well_conditioned_item_rows_are_solved_exactly_scaled() {
    let scale = 2.0f32.powi(-20);
    let factors = [1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0, -1.0];
    let biases = [0.5f32, -0.25, 0.0, 0.125];
    let small: Vec<f32> = factors.iter().map(|v| v * scale).collect();
    let ratings =
        [(0, 4.0), (1, 2.5), (2, 3.5), (3, 5.0)].map(|(item, value)| ItemRating { item, value });
    for model in [ModelKind::Plain, ModelKind::Biased] {
        let params = FoldIn::new(model, 0.0, 0.0, 3.0).unwrap();
        let mut p = [0.0f32; 2];
        let b = fold_in::<2>(
            &params,
            &ItemFactors::new(&factors, 2, 2, &biases).unwrap(),
            &ratings,
            &mut p,
        )
        .unwrap();
        let mut p_small = [0.0f32; 2];
        let b_small = fold_in::<2>(
            &params,
            &ItemFactors::new(&small, 2, 2, &biases).unwrap(),
            &ratings,
            &mut p_small,
        )
        .unwrap();
        assert!(p.iter().all(|v| v.abs() > 0.1), "{model:?}: {p:?}");
        assert_eq!(p_small, p.map(|v| v / scale), "{model:?}");
        assert_eq!(b_small.to_bits(), b.to_bits(), "{model:?}");
    }
}

// ---------------------------------------------------------------------
// Accuracy: held-out users folded in predict like trained users.

const USERS: usize = 943;
const ITEMS: usize = 1682;
const TRUE_RANK: usize = 8;
const KA: usize = 16;
const RANK: usize = 16;

/// An ML-100K-shaped problem: 943 users with 20 to ~700 ratings each
/// (heavy-tailed, about 100k in all), items drawn by a Zipf-like
/// popularity, ratings μ + b_u + b_i + p·q + noise rounded to 1..5 stars.
/// Per user, a fifth of the ratings is held out for test.
struct Stars {
    /// (user, item, value), train part, per user.
    train: Vec<Vec<ItemRating>>,
    test: Vec<Vec<ItemRating>>,
}

impl Stars {
    fn new(seed: u64) -> Self {
        let mut rng = rng(seed);
        let unit = Normal::new(0.0, 1.0).unwrap();
        let scale = 1.0 / (TRUE_RANK as f64).sqrt().sqrt();
        let mut draw = |n: usize| -> Vec<Vec<f64>> {
            (0..n)
                .map(|_| {
                    (0..TRUE_RANK)
                        .map(|_| unit.sample(&mut rng) * scale)
                        .collect()
                })
                .collect()
        };
        let (p, q) = (draw(USERS), draw(ITEMS));
        let bu: Vec<f64> = (0..USERS).map(|_| 0.4 * unit.sample(&mut rng)).collect();
        let bi: Vec<f64> = (0..ITEMS).map(|_| 0.5 * unit.sample(&mut rng)).collect();
        // Popularity ∝ 1/(rank + 10): a long tail like MovieLens.
        let weights: Vec<f64> = (0..ITEMS).map(|i| 1.0 / (i as f64 + 10.0)).collect();
        let popularity = rand_distr::weighted::WeightedIndex::new(&weights).unwrap();
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for u in 0..USERS {
            // 20 + an exponential tail with mean 86: about 100k ratings.
            let count = (20.0 - 86.0 * (1.0 - rng.random::<f64>()).ln()).min(700.0) as usize;
            let mut seen = vec![false; ITEMS];
            let (mut tr, mut te) = (Vec::new(), Vec::new());
            while tr.len() + te.len() < count {
                let i = popularity.sample(&mut rng);
                if std::mem::replace(&mut seen[i], true) {
                    continue;
                }
                let dot: f64 = p[u].iter().zip(&q[i]).map(|(a, b)| a * b).sum();
                let value = (3.5 + bu[u] + bi[i] + dot + 0.5 * unit.sample(&mut rng))
                    .round()
                    .clamp(1.0, 5.0) as f32;
                let rating = ItemRating {
                    item: i as u32,
                    value,
                };
                if rng.random_bool(0.2) {
                    te.push(rating);
                } else {
                    tr.push(rating);
                }
            }
            train.push(tr);
            test.push(te);
        }
        Self { train, test }
    }
}

fn as_ratings(per_user: &[Vec<ItemRating>], users: impl Iterator<Item = usize>) -> Vec<Rating> {
    users
        .flat_map(|u| {
            per_user[u].iter().map(move |r| Rating {
                user: u as u32,
                item: r.item,
                value: r.value,
            })
        })
        .collect()
}

/// Users held out of training entirely and folded in from their training
/// ratings reach a test RMSE within 5% of the trained users' (and well
/// below the item-mean baseline, so a fold-in that ignored the ratings
/// would fail).
#[test]
fn folded_in_users_predict_like_trained_users() {
    let stars = Stars::new(2024);
    let held: Vec<usize> = (0..USERS).filter(|u| u % 10 == 3).collect();
    let trained: Vec<usize> = (0..USERS).filter(|u| u % 10 != 3).collect();
    let total: usize = stars.train.iter().chain(&stars.test).map(Vec::len).sum();
    assert!((80_000..120_000).contains(&total), "{total} ratings");

    let mut train = as_ratings(&stars.train, trained.iter().copied());
    train.shuffle(&mut rng(5));
    let mu = (train.iter().map(|r| f64::from(r.value)).sum::<f64>() / train.len() as f64) as f32;
    let (reg_factors, reg_bias) = (0.04, 0.01);
    let hyper = HyperParams::new(
        ModelKind::Biased,
        0.01,
        reg_factors,
        reg_bias,
        LearningRate::Constant,
    )
    .unwrap();
    let mut init = rng(9);
    let mut users = random_rows::<KA>(&mut init, USERS, RANK, 0.1);
    let mut items = random_rows::<KA>(&mut init, ITEMS, RANK, 0.1);
    let (mut user_bias, mut item_bias) = (vec![0.0f32; USERS], vec![0.0f32; ITEMS]);
    let isa = Isa::detect();
    for epoch in 0..40 {
        BlockTrainer {
            isa,
            params: hyper,
            epoch,
            mu,
        }
        .train(
            Band {
                factors: &mut users,
                biases: &mut user_bias,
                grad_sq: &mut [],
            },
            Band {
                factors: &mut items,
                biases: &mut item_bias,
                grad_sq: &mut [],
            },
            BlockRatings::new(&train),
        )
        .unwrap();
    }

    // Fold the held-out users in, in place of their (untrained) rows.
    let params = FoldIn::from_params(&hyper, mu).unwrap();
    let view = ItemFactors::from_rows(&items, RANK, &item_bias).unwrap();
    for &u in &held {
        user_bias[u] = fold_in::<KA>(&params, &view, &stars.train[u], &mut users[u].0).unwrap();
    }

    let rmse = |who: &[usize]| {
        let test = as_ratings(&stars.test, who.iter().copied());
        let stats = evaluate_block(
            isa,
            ModelKind::Biased,
            mu,
            BandView {
                factors: &users,
                biases: &user_bias,
            },
            BandView {
                factors: &items,
                biases: &item_bias,
            },
            &test,
            Some((1.0, 5.0)),
        )
        .unwrap();
        stats.rmse()
    };
    let (trained_rmse, folded_rmse) = (rmse(&trained), rmse(&held));
    // Baseline for the held-out users: μ + b_i only.
    let zero_users = vec![FactorRow::<KA>::zeroed(); USERS];
    let zero_bias = vec![0.0f32; USERS];
    let baseline = evaluate_block(
        isa,
        ModelKind::Biased,
        mu,
        BandView {
            factors: &zero_users,
            biases: &zero_bias,
        },
        BandView {
            factors: &items,
            biases: &item_bias,
        },
        &as_ratings(&stars.test, held.iter().copied()),
        Some((1.0, 5.0)),
    )
    .unwrap()
    .rmse();
    eprintln!(
        "test RMSE: trained users {trained_rmse:.4}, folded-in users {folded_rmse:.4}, \
         item-mean baseline {baseline:.4}"
    );
    assert!(
        folded_rmse <= 1.05 * trained_rmse,
        "folded-in users {folded_rmse:.4} vs trained {trained_rmse:.4}"
    );
    assert!(
        folded_rmse <= 0.9 * baseline,
        "folded-in users {folded_rmse:.4} barely beat the baseline {baseline:.4}"
    );
}
