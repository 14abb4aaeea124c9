//! `train_block_skipping`: a block less some positions, trained in the
//! order of `block_visit_order_skipping`, with the left-out ratings never
//! read for an update, and bad skip lists refused before any update.

mod common;

use common::{random_ratings, rng, OwnedBand};
use funk_kernel::arch::scalar;
use funk_kernel::{
    advanced::{self, block_visit_order_skipping},
    BlockRatings, BlockTrainer, HyperParams, Isa, KernelError, LearningRate, ModelKind, Rating,
};

const USERS: usize = 40;
const ITEMS: usize = 30;

fn problem(seed: u64) -> (OwnedBand<32>, OwnedBand<32>, Vec<Rating>) {
    let mut r = rng(seed);
    let users = OwnedBand::<32>::random(&mut r, USERS, 20, 0.3);
    let items = OwnedBand::<32>::random(&mut r, ITEMS, 20, 0.3);
    let ratings = random_ratings(&mut r, USERS, ITEMS, 1_003);
    (users, items, ratings)
}

/// Positions spread over the block: the first, the last, every 37th, and
/// a run of neighbours (so that some streams skip several in a row).
fn skip_list(len: usize) -> Vec<u32> {
    let mut skip: Vec<u32> = (0..len as u32)
        .filter(|&n| n == 0 || n as usize == len - 1 || n % 37 == 5 || (500..506).contains(&n))
        .collect();
    skip.dedup();
    skip
}

fn params(model: ModelKind, schedule: LearningRate) -> HyperParams {
    HyperParams::new(model, 0.02, 0.05, 0.01, schedule).unwrap()
}

#[test]
fn scalar_skipping_is_the_reference_loop_without_the_skipped_positions() {
    let (mut users, mut items, ratings) = problem(3);
    let skip = skip_list(ratings.len());
    let (mut ref_users, mut ref_items) = (users.factors.clone(), items.factors.clone());
    let (eta, lambda) = (0.02, 0.05);
    let mut sse = 0.0f64;
    let order: Vec<usize> = block_visit_order_skipping(
        ratings.len(),
        advanced::block_streams(Isa::Scalar, 32),
        &skip,
    )
    .collect();
    assert_eq!(order.len(), ratings.len() - skip.len());
    assert!(order
        .iter()
        .all(|n| skip.binary_search(&(*n as u32)).is_err()));
    for n in order {
        let r = ratings[n];
        let (p, q) = (
            &mut ref_users[r.user as usize],
            &mut ref_items[r.item as usize],
        );
        let err = r.value - scalar::dot(p, q);
        sse += f64::from(err) * f64::from(err);
        scalar::update(p, q, err, eta, eta, lambda);
    }
    let params =
        HyperParams::new(ModelKind::Plain, eta, lambda, 0.0, LearningRate::Constant).unwrap();
    let stats = BlockTrainer {
        isa: Isa::Scalar,
        params,
        epoch: 0,
        mu: 0.0,
    }
    .train(
        users.band(),
        items.band(),
        BlockRatings::new(&ratings).skipping(&skip),
    )
    .unwrap();
    assert_eq!(stats.count, (ratings.len() - skip.len()) as u64);
    assert_eq!(stats.sse.to_bits(), sse.to_bits());
    assert_eq!(users.factors, ref_users);
    assert_eq!(items.factors, ref_items);
}

#[test]
fn skipped_ratings_are_never_learnt_from_on_any_isa() {
    for isa in Isa::available() {
        for model in [ModelKind::Plain, ModelKind::Biased] {
            for schedule in [LearningRate::Constant, LearningRate::Adaptive] {
                let (users, items, ratings) = problem(11);
                let skip = skip_list(ratings.len());
                let mut poisoned = ratings.clone();
                for &h in &skip {
                    poisoned[h as usize].value = 1.0e6;
                }
                let run = |ratings: &[Rating]| {
                    let (mut u, mut i) = (users.clone(), items.clone());
                    if schedule == LearningRate::Adaptive {
                        u.grad_sq = vec![1.0; USERS];
                        i.grad_sq = vec![1.0; ITEMS];
                    }
                    let p = params(model, schedule);
                    let stats = BlockTrainer {
                        isa,
                        params: p,
                        epoch: 0,
                        mu: 3.0,
                    }
                    .train(
                        u.band(),
                        i.band(),
                        BlockRatings::new(ratings).skipping(&skip),
                    )
                    .unwrap();
                    (stats.sse.to_bits(), stats.count, u, i)
                };
                let (a_sse, a_count, a_users, a_items) = run(&ratings);
                let (b_sse, b_count, b_users, b_items) = run(&poisoned);
                assert_eq!((a_sse, a_count), (b_sse, b_count), "{isa} {model:?}");
                assert!(a_users.factors == b_users.factors && a_items.factors == b_items.factors);
                assert!(a_users.biases == b_users.biases && a_items.grad_sq == b_items.grad_sq);
                // And something was learnt from the rest.
                assert_ne!(a_users.factors, users.factors, "{isa} {model:?}");
            }
        }
    }
}

#[test]
fn an_empty_skip_list_is_train_block_on_every_isa() {
    for isa in Isa::available() {
        let (users, items, ratings) = problem(5);
        let p = params(ModelKind::Biased, LearningRate::Constant);
        let (mut u1, mut i1) = (users.clone(), items.clone());
        let (mut u2, mut i2) = (users.clone(), items.clone());
        let a = BlockTrainer {
            isa,
            params: p,
            epoch: 1,
            mu: 3.0,
        }
        .train(u1.band(), i1.band(), BlockRatings::new(&ratings))
        .unwrap();
        let b = BlockTrainer {
            isa,
            params: p,
            epoch: 1,
            mu: 3.0,
        }
        .train(
            u2.band(),
            i2.band(),
            BlockRatings::new(&ratings).skipping(&[]),
        )
        .unwrap();
        assert_eq!(a.sse.to_bits(), b.sse.to_bits(), "{isa}");
        assert_eq!(a.count, b.count);
        assert!(
            u1.factors == u2.factors && i1.factors == i2.factors,
            "{isa}"
        );
    }
}

#[test]
fn bad_skip_lists_are_refused_and_leave_the_bands_untouched() {
    let (users, items, ratings) = problem(8);
    let len = ratings.len() as u32;
    let p = params(ModelKind::Biased, LearningRate::Constant);
    for (skip, entry) in [
        (vec![3, 2], 1),
        (vec![4, 4], 1),
        (vec![len], 0),
        (vec![0, 1, len + 7], 2),
    ] {
        let (mut u, mut i) = (users.clone(), items.clone());
        let got = BlockTrainer {
            isa: Isa::detect(),
            params: p,
            epoch: 0,
            mu: 3.0,
        }
        .train(
            u.band(),
            i.band(),
            BlockRatings::new(&ratings).skipping(&skip),
        );
        assert_eq!(
            got,
            Err(KernelError::InvalidSkip {
                entry,
                len: ratings.len()
            }),
            "{skip:?}"
        );
        assert!(u == users && i == items, "{skip:?}: nothing may change");
    }
}
