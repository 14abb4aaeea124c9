//! Time of one `fold_in` call: a new user with 200 ratings against the
//! full-scale Netflix item side (17,770 items), biased model:
//!
//! ```text
//! cargo run --release -p funk-kernel --example foldin_time [-- REPS [RATINGS]]
//! ```
//!
//! For K = 16, 32, 64 and 128 (rank = K) prints the median and best over
//! REPS (default 15) rounds of the mean time per call (each round folds in
//! 200 different users), in µs, beside a peer measured in the same round:
//! predicting the same user's ratings (RATINGS dot products over the
//! rated item rows, default 200), the least work that touches the same
//! item rows. The ratio is what to quote on a noisy host.

use std::hint::black_box;
use std::time::Instant;

use funk_kernel::{fold_in, FactorRow, FoldIn, ItemFactors, ItemRating, ModelKind};

const ITEMS: usize = 17_770;
const USERS_PER_ROUND: usize = 200;

#[path = "support/splitmix.rs"]
mod splitmix;
use splitmix::SplitMix;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn run<const K: usize>(reps: usize, ratings_per_user: usize) {
    let mut rng = SplitMix(K as u64);
    let items: Vec<FactorRow<K>> = (0..ITEMS)
        .map(|_| {
            let mut row = FactorRow::zeroed();
            row.0.iter_mut().for_each(|v| *v = (rng.unit() - 0.5) * 0.6);
            row
        })
        .collect();
    let biases: Vec<f32> = (0..ITEMS).map(|_| rng.unit() - 0.5).collect();
    let users: Vec<Vec<ItemRating>> = (0..USERS_PER_ROUND)
        .map(|_| {
            (0..ratings_per_user)
                .map(|_| ItemRating {
                    item: rng.below(ITEMS),
                    value: (1 + rng.below(5)) as f32,
                })
                .collect()
        })
        .collect();
    let view = ItemFactors::from_rows(&items, K, &biases).expect("valid layout");
    let params = FoldIn::new(ModelKind::Biased, 0.05, 0.01, 3.6).expect("valid parameters");

    let (mut fold, mut peer) = (Vec::new(), Vec::new());
    let mut row = FactorRow::<K>::zeroed();
    for _ in 0..reps {
        let start = Instant::now();
        for user in &users {
            let bias = fold_in::<K>(&params, &view, black_box(user), &mut row.0)
                .expect("fold-in succeeds on bench data");
            black_box((bias, &row));
        }
        fold.push(start.elapsed().as_secs_f64() * 1e6 / USERS_PER_ROUND as f64);

        let start = Instant::now();
        for user in &users {
            let mut sum = 0.0f32;
            for r in black_box(user) {
                let q = &items[r.item as usize].0;
                sum += q.iter().zip(&row.0).map(|(a, b)| a * b).sum::<f32>();
            }
            black_box(sum);
        }
        peer.push(start.elapsed().as_secs_f64() * 1e6 / USERS_PER_ROUND as f64);
    }
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let (fm, pm) = (median(fold.clone()), median(peer.clone()));
    println!(
        "K = {K:3}, {ratings_per_user} ratings: fold_in median {fm:7.2} µs (best {:7.2}); \
         predicting them {pm:6.2} µs; ratio {:5.1}",
        best(&fold),
        fm / pm
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let reps = args
        .next()
        .map_or(15, |a| a.parse().expect("REPS: a count"));
    let ratings = args
        .next()
        .map_or(200, |a| a.parse().expect("RATINGS: a count"));
    run::<16>(reps, ratings);
    run::<32>(reps, ratings);
    run::<64>(reps, ratings);
    run::<128>(reps, ratings);
}
