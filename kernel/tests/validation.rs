//! Bad input is an error, never a panic or UB, and leaves the bands as
//! they were; the ISA list and names behave as documented.

mod common;

use common::{random_ratings, rng, OwnedBand};
use funk_kernel::{
    evaluate_block, objective, Band, BandView, BlockRatings, BlockTrainer, CheckedRatings,
    DivergenceMonitor, Health, HyperParams, Isa, KernelError, LearningRate, ModelKind, ParamRef,
    Rating,
};

const K: usize = 32;

fn bands(seed: u64) -> (OwnedBand<K>, OwnedBand<K>, Vec<Rating>) {
    let mut rng = rng(seed);
    (
        OwnedBand::random(&mut rng, 10, K, 0.5),
        OwnedBand::random(&mut rng, 8, K, 0.5),
        random_ratings(&mut rng, 10, 8, 50),
    )
}

#[test]
fn an_out_of_range_index_anywhere_in_the_block_is_an_error_and_nothing_changes() {
    let params =
        HyperParams::new(ModelKind::Biased, 0.1, 0.01, 0.01, LearningRate::Adaptive).unwrap();
    for isa in Isa::available() {
        let (mut users, mut items, mut ratings) = bands(3);
        let (users0, items0) = (users.clone(), items.clone());
        ratings[49].item = 8;
        let err = BlockTrainer {
            isa,
            params,
            epoch: 0,
            mu: 3.0,
        }
        .train(users.band(), items.band(), BlockRatings::new(&ratings));
        assert_eq!(
            err,
            Err(KernelError::ItemOutOfRange {
                rating: 49,
                item: 8,
                band: 8
            })
        );
        ratings[49].item = 0;
        ratings[10].user = u32::MAX;
        let err = BlockTrainer {
            isa,
            params,
            epoch: 0,
            mu: 3.0,
        }
        .train(users.band(), items.band(), BlockRatings::new(&ratings));
        assert_eq!(
            err,
            Err(KernelError::UserOutOfRange {
                rating: 10,
                user: u32::MAX,
                band: 10
            })
        );
        assert_eq!(
            (users, items),
            (users0, items0),
            "{isa}: a refused block was modified"
        );
        let eval = evaluate_block(
            isa,
            ModelKind::Plain,
            0.0,
            bands(3).0.view(),
            bands(3).1.view(),
            &ratings,
            None,
        );
        assert!(matches!(
            eval,
            Err(KernelError::UserOutOfRange { rating: 10, .. })
        ));
    }
}

#[test]
fn missing_biases_or_accumulators_are_band_shape_errors() {
    let (mut users, mut items, ratings) = bands(4);
    let isa = Isa::detect();
    let biased =
        HyperParams::new(ModelKind::Biased, 0.1, 0.0, 0.0, LearningRate::Constant).unwrap();
    let no_biases = Band {
        factors: &mut users.factors,
        biases: &mut [],
        grad_sq: &mut [],
    };
    assert_eq!(
        BlockTrainer {
            isa,
            params: biased,
            epoch: 0,
            mu: 0.0
        }
        .train(no_biases, items.band(), BlockRatings::new(&ratings)),
        Err(KernelError::BandShape)
    );
    let adaptive =
        HyperParams::new(ModelKind::Plain, 0.1, 0.0, 0.0, LearningRate::Adaptive).unwrap();
    let no_acc = Band {
        factors: &mut users.factors,
        biases: &mut [],
        grad_sq: &mut [],
    };
    assert_eq!(
        BlockTrainer {
            isa,
            params: adaptive,
            epoch: 0,
            mu: 0.0
        }
        .train(no_acc, items.band(), BlockRatings::new(&ratings)),
        Err(KernelError::BandShape)
    );
    let short = BandView {
        factors: &users.factors,
        biases: &users.biases[..3],
    };
    assert_eq!(
        evaluate_block(
            isa,
            ModelKind::Biased,
            0.0,
            short,
            items.view(),
            &ratings,
            None
        ),
        Err(KernelError::BandShape)
    );
}

#[test]
fn a_reversed_or_nan_clamp_is_refused() {
    let (users, items, ratings) = bands(5);
    for clamp in [(5.0, 1.0), (f32::NAN, 1.0)] {
        let got = evaluate_block(
            Isa::detect(),
            ModelKind::Plain,
            0.0,
            users.view(),
            items.view(),
            &ratings,
            Some(clamp),
        );
        assert_eq!(got, Err(KernelError::InvalidClamp));
    }
}

#[test]
fn clamping_never_hides_a_nan_prediction() {
    let (mut users, items, ratings) = bands(6);
    users.factors[ratings[0].user as usize].0[0] = f32::NAN;
    for isa in Isa::available() {
        let got = evaluate_block(
            isa,
            ModelKind::Plain,
            0.0,
            users.view(),
            items.view(),
            &ratings,
            Some((1.0, 5.0)),
        )
        .unwrap();
        assert!(got.sse.is_nan(), "{isa}");
    }
}

#[test]
fn objective_refuses_a_perturbation_outside_the_bands() {
    let (users, items, ratings) = bands(7);
    let params = HyperParams::new(ModelKind::Plain, 0.1, 0.0, 0.0, LearningRate::Constant).unwrap();
    let probe = ParamRef::ItemFactor { row: 8, dim: 0 };
    assert_eq!(
        objective(
            &params,
            0.0,
            users.view(),
            items.view(),
            &ratings,
            Some((probe, 1.0))
        ),
        Err(KernelError::ParamOutOfRange(probe))
    );
}

#[test]
fn isa_names_round_trip_and_detect_is_the_best_available() {
    let available = Isa::available();
    assert_eq!(available.first(), Some(&Isa::Scalar));
    assert_eq!(available.last(), Some(&Isa::detect()));
    for isa in &available {
        assert_eq!(Isa::from_name(isa.name()), Some(*isa));
    }
    assert_eq!(Isa::from_name("sse9"), None);
    let names: Vec<&str> = available.iter().map(Isa::name).collect();
    if cfg!(target_arch = "aarch64") {
        assert!(names.contains(&"neon"));
    } else {
        assert_eq!(Isa::from_name("neon"), None);
    }
    if !cfg!(target_arch = "x86_64") {
        assert!(!names.contains(&"avx2") && !names.contains(&"avx512"));
    }
}

#[test]
fn divergence_monitor_flags_non_finite_and_growing_losses() {
    let mut monitor = DivergenceMonitor::<3>::new().with_tolerance(0.01);
    for loss in [10.0, 8.0, 7.0, 7.5, 7.05] {
        assert_eq!(monitor.observe(loss), Health::Ok, "{loss}");
    }
    assert_eq!(monitor.observe(f64::INFINITY), Health::NonFinite);
    assert_eq!(monitor.observe(7.55), Health::Ok); // within 1% of 7.5
    assert_eq!(monitor.observe(7.8), Health::Growing);
    monitor.reset();
    assert_eq!(monitor.observe(100.0), Health::Ok);
}

#[test]
fn checked_ratings_train_exactly_as_the_plain_call_and_refuse_smaller_bands() {
    let params =
        HyperParams::new(ModelKind::Biased, 0.05, 0.02, 0.01, LearningRate::Constant).unwrap();
    for isa in Isa::available() {
        let (mut users, mut items, ratings) = bands(5);
        let (mut users2, mut items2) = (users.clone(), items.clone());
        let checked = CheckedRatings::new(&ratings, 10, 8).unwrap();
        assert_eq!((checked.users(), checked.items()), (10, 8));
        for epoch in 0..3 {
            let a = BlockTrainer {
                isa,
                params,
                epoch,
                mu: 3.0,
            }
            .train(
                users.band(),
                items.band(),
                BlockRatings::new(&ratings).skipping(&[1, 7]),
            );
            let b = BlockTrainer {
                isa,
                params,
                epoch,
                mu: 3.0,
            }
            .train(
                users2.band(),
                items2.band(),
                BlockRatings::checked(checked).skipping(&[1, 7]),
            );
            assert_eq!(a, b, "{isa}");
        }
        assert_eq!(
            (&users, &items),
            (&users2, &items2),
            "{isa}: not the same bits"
        );

        // Checked against more rows than the bands have: refused, untouched.
        let wide = CheckedRatings::new(&ratings, 11, 8).unwrap();
        let before = (users.clone(), items.clone());
        let err = BlockTrainer {
            isa,
            params,
            epoch: 0,
            mu: 3.0,
        }
        .train(users.band(), items.band(), BlockRatings::checked(wide));
        assert_eq!(
            err,
            Err(KernelError::BandSmallerThanChecked {
                users: 10,
                items: 8,
                checked_users: 11,
                checked_items: 8
            })
        );
        assert_eq!(
            (users, items),
            before,
            "{isa}: a refused block was modified"
        );
    }
    let mut bad = bands(5).2;
    bad[3].item = 8;
    assert_eq!(
        CheckedRatings::new(&bad, 10, 8).map(|_| ()),
        Err(KernelError::ItemOutOfRange {
            rating: 3,
            item: 8,
            band: 8
        })
    );
}
