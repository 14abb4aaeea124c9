//! Quick updates/s of `BlockTrainer::train` on one full-scale Netflix block, for
//! tuning the inner loop without building the whole workspace:
//!
//! ```text
//! cargo run --release -p funk-kernel --example block_rate [-- ISA [REPS [FILTER]]]
//! ```
//!
//! The block has the shape of one block of the full-scale grid (P = 32):
//! 15,006 user rows, 555 item rows, 97,000 ratings sorted by user then item;
//! the same with `funkd gen`'s skew (log-normal user activity and item
//! popularity); a stratum of 32 such blocks with their own rows (so that
//! rows and ratings come from memory, as in `funkd train`); one user band
//! over 32 item bands in a row (the band-run schedule's order); the
//! netflix block less a 2% held-out slice, trained with
//! a skip list or run by run; and a 256 × 256 block that stays
//! in L1/L2. Prints the median and best
//! of REPS (default 15) passes, in M updates/s, for K = 32 and K = 128
//! (and K = 16 and 64 for the netflix block and the cache-resident block,
//! K = 64 for the stratum).
//! The model is Funk's biased one; with `BLOCK_RATE_PLAIN` set in the
//! environment, the plain p·q model (no biases to load and store). The
//! schedule is the constant step; with `BLOCK_RATE_ADAPTIVE` set, the
//! adaptive (AdaGrad) one, its accumulators starting where `funkd train`
//! starts them.
//! A measurement program: the criterion suite (`benches/kernel.rs`) is the
//! reference; this one exists because it compiles in seconds.

use std::time::Instant;

use funk_kernel::{
    Band, BlockRatings, BlockTrainer, FactorRow, HyperParams, Isa, LearningRate, ModelKind, Rating,
    ADAPTIVE_INITIAL_ACCUMULATOR,
};

#[path = "support/splitmix.rs"]
mod splitmix;
use splitmix::SplitMix;

fn rows<const K: usize>(n: usize, rng: &mut SplitMix) -> Vec<FactorRow<K>> {
    (0..n)
        .map(|_| {
            let mut row = FactorRow::zeroed();
            row.0.iter_mut().for_each(|v| *v = (rng.unit() - 0.5) * 0.2);
            row
        })
        .collect()
}

/// Whether `BLOCK_RATE_ADAPTIVE` asks for the adaptive schedule.
fn adaptive() -> bool {
    std::env::var_os("BLOCK_RATE_ADAPTIVE").is_some()
}

/// Rows, biases and (adaptive schedule) accumulators of one band.
struct Side<const K: usize> {
    rows: Vec<FactorRow<K>>,
    biases: Vec<f32>,
    grad_sq: Vec<f32>,
}

impl<const K: usize> Side<K> {
    fn random(n: usize, rng: &mut SplitMix) -> Self {
        Side {
            rows: rows(n, rng),
            biases: vec![0.0; n],
            grad_sq: if adaptive() {
                vec![ADAPTIVE_INITIAL_ACCUMULATOR; n]
            } else {
                Vec::new()
            },
        }
    }

    fn band(&mut self) -> Band<'_, K> {
        Band {
            factors: &mut self.rows,
            biases: &mut self.biases,
            grad_sq: &mut self.grad_sq,
        }
    }
}

/// `n` ratings from `draw` (a (user, item) pair each), sorted by user then
/// item as in a rating file's block.
fn block(
    n: usize,
    rng: &mut SplitMix,
    mut draw: impl FnMut(&mut SplitMix) -> (u32, u32),
) -> Vec<Rating> {
    let mut ratings: Vec<Rating> = (0..n)
        .map(|_| {
            let (user, item) = draw(rng);
            Rating {
                user,
                item,
                value: 1.0 + 4.0 * rng.unit(),
            }
        })
        .collect();
    ratings.sort_by_key(|r| (r.user, r.item));
    ratings
}

/// One SGD pass over `ratings`, less the positions in `skip` (biased
/// model unless `BLOCK_RATE_PLAIN` is set, constant step unless
/// `BLOCK_RATE_ADAPTIVE` is set).
fn pass<const K: usize>(
    isa: Isa,
    users: &mut Side<K>,
    items: &mut Side<K>,
    ratings: &[Rating],
    skip: &[u32],
) {
    let model = if std::env::var_os("BLOCK_RATE_PLAIN").is_some() {
        ModelKind::Plain
    } else {
        ModelKind::Biased
    };
    let schedule = if adaptive() {
        LearningRate::Adaptive
    } else {
        LearningRate::Constant
    };
    let params = HyperParams::new(model, 0.005, 0.05, 0.01, schedule).expect("valid parameters");
    let stats = BlockTrainer {
        isa,
        params,
        epoch: 0,
        mu: 3.0,
    }
    .train(
        users.band(),
        items.band(),
        BlockRatings::new(std::hint::black_box(ratings)).skipping(skip),
    )
    .expect("a valid block");
    std::hint::black_box(stats);
}

/// Times `reps` runs of `run`, each `updates` updates, and prints the
/// median and best rate.
fn report<const K: usize>(
    isa: Isa,
    name: &str,
    reps: usize,
    updates: usize,
    mut run: impl FnMut(),
) {
    let mut rates: Vec<f64> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            run();
            updates as f64 / start.elapsed().as_secs_f64() / 1e6
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    println!(
        "{isa} K={K:<3} {name:<14} median {:6.1}  best {:6.1} M updates/s",
        rates[reps / 2],
        rates[reps - 1]
    );
}

/// One block of `users` × `items` with `n` uniformly drawn ratings.
fn measure<const K: usize>(
    isa: Isa,
    name: &str,
    users: usize,
    items: usize,
    n: usize,
    reps: usize,
) {
    let mut rng = SplitMix(42);
    let (mut u, mut i) = (
        Side::<K>::random(users, &mut rng),
        Side::<K>::random(items, &mut rng),
    );
    let ratings = block(n, &mut rng, |r| (r.below(users), r.below(items)));
    report::<K>(isa, name, reps, n, || {
        pass(isa, &mut u, &mut i, &ratings, &[])
    });
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut SplitMix) -> f64 {
    let (a, b) = (f64::from(rng.unit()).max(1e-9), f64::from(rng.unit()));
    (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
}

/// A sampler of `n` indices with log-normal(σ) weights (as `funkd gen`
/// draws user activity, σ 1.25, and item popularity, σ 2.15).
fn skewed(n: usize, sigma: f64, rng: &mut SplitMix) -> Vec<f64> {
    let mut total = 0.0;
    (0..n)
        .map(|_| {
            total += (sigma * normal(rng)).exp();
            total
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|c| c / total)
        .collect()
}

fn pick(cumulative: &[f64], rng: &mut SplitMix) -> u32 {
    let x = f64::from(rng.unit());
    cumulative
        .partition_point(|&c| c < x)
        .min(cumulative.len() - 1) as u32
}

/// The netflix-block shape with `funkd gen`'s skew: log-normal user
/// activity and item popularity, so that a few items take much of the
/// block and consecutive updates often share an item row.
fn skewed_block<const K: usize>(isa: Isa, reps: usize) {
    let (users, items, n) = (15_006, 555, 97_000);
    let mut rng = SplitMix(11);
    let (mut u, mut i) = (
        Side::<K>::random(users, &mut rng),
        Side::<K>::random(items, &mut rng),
    );
    let user_w = skewed(users, 1.25, &mut rng);
    let item_w = skewed(items, 2.15, &mut rng);
    let ratings = block(n, &mut rng, |r| (pick(&user_w, r), pick(&item_w, r)));
    report::<K>(isa, "skewed-block", reps, n, || {
        pass(isa, &mut u, &mut i, &ratings, &[])
    });
}

/// One stratum of the full-scale grid: `bands` blocks of the netflix-block
/// shape, each with its own user band, item band and ratings, trained one
/// after another, so that (as in `funkd train`) every block's rows and
/// ratings come from memory rather than from the cache.
fn stratum<const K: usize>(isa: Isa, bands: usize, reps: usize) {
    let (users, items, n) = (15_006, 555, 97_000);
    let mut rng = SplitMix(7);
    let mut blocks: Vec<_> = (0..bands)
        .map(|_| {
            let ratings = block(n, &mut rng, |r| (r.below(users), r.below(items)));
            (
                Side::<K>::random(users, &mut rng),
                Side::<K>::random(items, &mut rng),
                ratings,
            )
        })
        .collect();
    report::<K>(isa, "stratum", reps, bands * n, || {
        for (u, i, ratings) in &mut blocks {
            pass(isa, u, i, ratings, &[]);
        }
    });
}

/// One user band walking `bands` item bands in a row (each block with its
/// own item rows and ratings, the user rows shared): the visiting order of
/// the band-run schedule, which keeps a user band's rows in the cache from
/// one block to the next.
fn band_run<const K: usize>(isa: Isa, bands: usize, reps: usize) {
    let (users, items, n) = (15_006, 555, 97_000);
    let mut rng = SplitMix(7);
    let mut u = Side::<K>::random(users, &mut rng);
    let mut blocks: Vec<_> = (0..bands)
        .map(|_| {
            let ratings = block(n, &mut rng, |r| (r.below(users), r.below(items)));
            (Side::<K>::random(items, &mut rng), ratings)
        })
        .collect();
    report::<K>(isa, "band-run", reps, bands * n, || {
        for (i, ratings) in &mut blocks {
            pass(isa, &mut u, i, ratings, &[]);
        }
    });
}

/// The netflix-block shape less a 2% held-out slice (every position whose
/// hash falls under 2%), trained either as one `BlockTrainer::train` call
/// with a skip list or as one call per run between held-out positions.
fn held_out<const K: usize>(isa: Isa, reps: usize) {
    let (users, items, n) = (15_006, 555, 97_000);
    let mut rng = SplitMix(9);
    let (mut u, mut i) = (
        Side::<K>::random(users, &mut rng),
        Side::<K>::random(items, &mut rng),
    );
    let ratings = block(n, &mut rng, |r| (r.below(users), r.below(items)));
    let skip: Vec<u32> = (0..n as u32).filter(|_| rng.unit() < 0.02).collect();
    let trained = n - skip.len();
    report::<K>(isa, "2% held, skip", reps, trained, || {
        pass(isa, &mut u, &mut i, &ratings, &skip)
    });
    report::<K>(isa, "2% held, runs", reps, trained, || {
        let mut from = 0;
        for &h in skip.iter().chain([n as u32].iter()) {
            if h as usize > from {
                pass(isa, &mut u, &mut i, &ratings[from..h as usize], &[]);
            }
            from = h as usize + 1;
        }
    });
}

fn main() {
    let mut args = std::env::args().skip(1);
    let isa = args
        .next()
        .map(|name| Isa::from_name(&name).expect("an ISA this CPU has"))
        .unwrap_or_else(Isa::detect);
    let reps = args.next().map_or(15, |r| r.parse().expect("a count"));
    // Optional third argument: run only the cases whose "K/shape" label
    // contains it (e.g. `128/netflix`), for `perf stat`.
    let only = args.next().unwrap_or_default();
    let wanted = |label: &str| label.contains(only.as_str());
    if wanted("32/netflix-block") {
        measure::<32>(isa, "netflix-block", 15_006, 555, 97_000, reps);
    }
    if wanted("16/netflix-block") {
        measure::<16>(isa, "netflix-block", 15_006, 555, 97_000, reps);
    }
    if wanted("64/netflix-block") {
        measure::<64>(isa, "netflix-block", 15_006, 555, 97_000, reps);
    }
    if wanted("128/netflix-block") {
        measure::<128>(isa, "netflix-block", 15_006, 555, 97_000, reps);
    }
    if wanted("32/stratum") {
        stratum::<32>(isa, 32, reps.div_ceil(3));
    }
    if wanted("64/stratum") {
        stratum::<64>(isa, 32, reps.div_ceil(3));
    }
    if wanted("128/stratum") {
        stratum::<128>(isa, 32, reps.div_ceil(3));
    }
    if wanted("32/skewed-block") {
        skewed_block::<32>(isa, reps);
    }
    if wanted("128/skewed-block") {
        skewed_block::<128>(isa, reps);
    }
    if wanted("32/band-run") {
        band_run::<32>(isa, 32, reps.div_ceil(3));
    }
    if wanted("128/band-run") {
        band_run::<128>(isa, 32, reps.div_ceil(3));
    }
    if wanted("32/held-out") {
        held_out::<32>(isa, reps);
    }
    if wanted("128/held-out") {
        held_out::<128>(isa, reps);
    }
    if wanted("32/cache-resident") {
        measure::<32>(isa, "cache-resident", 256, 256, 65_536, reps);
    }
    if wanted("16/cache-resident") {
        measure::<16>(isa, "cache-resident", 256, 256, 65_536, reps);
    }
    if wanted("64/cache-resident") {
        measure::<64>(isa, "cache-resident", 256, 256, 65_536, reps);
    }
    if wanted("128/cache-resident") {
        measure::<128>(isa, "cache-resident", 256, 256, 65_536, reps);
    }
}
