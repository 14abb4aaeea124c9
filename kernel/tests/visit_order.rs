//! Every ISA's `train_block` is, bit for bit, that ISA's own dot product and
//! update applied one rating at a time in `block_visit_order` (less the
//! skip list), whatever the loop does to go faster: the fast rounds, the
//! prefetches, and the paired steps (two ratings of neighbouring streams
//! that share no row, computed at once). Blocks with few rows make
//! neighbours share users and items often, so both the paired and the
//! one-at-a-time paths run, and the skip lists leave out ratings on either
//! side of a pair.

mod common;

use common::{random_ratings, rng, OwnedBand};
use funk_kernel::{
    advanced::{self, block_visit_order_skipping},
    BlockRatings, BlockTrainer, HyperParams, Isa, LearningRate, ModelKind, Rating,
};
use proptest::prelude::*;
use rand::Rng;

/// `isa`'s steps one by one, in the visit order, on copies of the bands;
/// returns the bands and Σ e².
fn one_at_a_time<const K: usize>(
    isa: Isa,
    biased: bool,
    (eta, lambda, lambda_b, mu): (f32, f32, f32, f32),
    (users, items): (&OwnedBand<K>, &OwnedBand<K>),
    ratings: &[Rating],
    skip: &[u32],
) -> (OwnedBand<K>, OwnedBand<K>, f64) {
    let (mut users, mut items) = (users.clone(), items.clone());
    let mut sse = 0.0f64;
    for n in block_visit_order_skipping(ratings.len(), advanced::block_streams(isa, K), skip) {
        let r = ratings[n];
        let (u, i) = (r.user as usize, r.item as usize);
        let (p, q) = (&mut users.factors[u], &mut items.factors[i]);
        let dot = isa.dot(p, q);
        let predict = if biased {
            dot + (mu + users.biases[u] + items.biases[i])
        } else {
            dot
        };
        let err = r.value - predict;
        isa.update(p, q, err, eta, eta, lambda);
        if biased {
            // b ← (1 − ηλ_b) b + ηe, the kernel's form of b + η(e − λ_b b).
            let bu = &mut users.biases[u];
            *bu = (1.0 - eta * lambda_b) * *bu + eta * err;
            let bi = &mut items.biases[i];
            *bi = (1.0 - eta * lambda_b) * *bi + eta * err;
        }
        sse += f64::from(err) * f64::from(err);
    }
    (users, items, sse)
}

/// Every `every`-th position of a block of `len`, from `first` on (none
/// when `every` is 0).
fn skip_list(len: usize, first: usize, every: usize) -> Vec<u32> {
    if every == 0 {
        return Vec::new();
    }
    (first..len).step_by(every).map(|n| n as u32).collect()
}

fn check<const K: usize>(seed: u64, users: usize, items: usize, len: usize, every: usize) {
    let mut rng = rng(seed);
    let user_band = OwnedBand::<K>::random(&mut rng, users, K, 0.3);
    let item_band = OwnedBand::<K>::random(&mut rng, items, K, 0.3);
    let ratings = random_ratings(&mut rng, users, items, len);
    let skip = skip_list(len, rng.random_range(0..every.max(1)), every);
    let (eta, lambda, lambda_b, mu) = (0.02f32, 0.05f32, 0.01f32, 3.5f32);
    for isa in Isa::available() {
        for biased in [false, true] {
            let model = if biased {
                ModelKind::Biased
            } else {
                ModelKind::Plain
            };
            let params = HyperParams::new(model, eta, lambda, lambda_b, LearningRate::Constant)
                .expect("valid parameters");
            let (mut got_users, mut got_items) = (user_band.clone(), item_band.clone());
            let stats = BlockTrainer {
                isa,
                params,
                epoch: 0,
                mu,
            }
            .train(
                got_users.band(),
                got_items.band(),
                BlockRatings::new(&ratings).skipping(&skip),
            )
            .expect("a valid block");
            let (want_users, want_items, want_sse) = one_at_a_time(
                isa,
                biased,
                (eta, lambda, lambda_b, mu),
                (&user_band, &item_band),
                &ratings,
                &skip,
            );
            let context = format!("{isa} K={K} biased={biased} {users}×{items} len {len}");
            assert_eq!(
                got_users.factors, want_users.factors,
                "user rows: {context}"
            );
            assert_eq!(
                got_items.factors, want_items.factors,
                "item rows: {context}"
            );
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&got_users.biases),
                bits(&want_users.biases),
                "{context}"
            );
            assert_eq!(
                bits(&got_items.biases),
                bits(&want_items.biases),
                "{context}"
            );
            assert_eq!(stats.sse.to_bits(), want_sse.to_bits(), "sse: {context}");
            assert_eq!(stats.count as usize, len - skip.len(), "{context}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn train_block_is_each_isas_steps_in_visit_order(
        seed in any::<u64>(),
        users in 1usize..40,
        items in 1usize..40,
        len in 0usize..1500,
        every in 0usize..60,
    ) {
        check::<16>(seed, users, items, len, every);
        check::<32>(seed, users, items, len, every);
        check::<64>(seed, users, items, len, every);
        check::<128>(seed, users, items, len, every);
    }
}

/// A block shaped like a full-scale one (many rows, so almost every pair
/// of neighbours is disjoint and paired), with and without a 2% slice
/// left out.
#[test]
fn a_netflix_like_block_is_each_isas_steps_in_visit_order() {
    for every in [0, 50] {
        check::<32>(7, 3_000, 500, 20_000, every);
        check::<64>(8, 3_000, 500, 20_000, every);
    }
}

/// Rows longer than any ISA keeps in registers (K = 512 and 1024: 32 and
/// 64 AVX-512 registers a row) are read again for the update; every ISA
/// trains them, and each gives its own steps in its visit order.
#[test]
fn rows_longer_than_the_register_file_are_each_isas_steps_in_visit_order() {
    check::<512>(11, 9, 7, 400, 13);
    check::<1024>(12, 30, 20, 700, 0);
}
