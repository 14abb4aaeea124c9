//! Drawing the ratings: per-user chunks with their own random streams,
//! spread over all cores and joined in chunk order.

use std::sync::atomic::{AtomicUsize, Ordering};

use rand::seq::SliceRandom;
use rand::Rng;
use rand_distr::weighted::WeightedAliasIndex;
use rand_distr::Distribution;
use rand_xoshiro::Xoshiro256PlusPlus;

use super::model::{
    dot, factor_sd, gauss, noise, stream, Side, INTERACTION_VAR, ITEM_BIAS_SD, MU, USER_BIAS_SD,
};
use super::oracle::{expected_rating, UserPosterior};
use super::GenConfig;
use crate::ratingfile::Triple;
use crate::report::{Reporter, Unit};

/// Users per chunk (each chunk has its own random stream).
const CHUNK: usize = 2048;
/// σ of the log-normal user activity (Netflix: mean/median ≈ 2.2).
const USER_ACTIVITY_SIGMA: f64 = 1.25;
/// σ of the log-normal item popularity (Netflix: mean/median ≈ 10).
const ITEM_POPULARITY_SIGMA: f64 = 2.15;
/// Stream numbers (see [`stream`]).
const GLOBAL: u64 = 0;
const USERS: u64 = 1;

/// A generated data set before it is written.
pub struct Generated {
    pub user_ids: Vec<String>,
    pub item_ids: Vec<String>,
    pub train: Vec<Triple>,
    pub test: Vec<Triple>,
    pub rating_range: Option<(f32, f32)>,
    pub noise_floor: f64,
    /// RMSE of E[R | true m] on the test split (all ratings without one).
    pub bayes_floor: Option<f64>,
    /// With `oracle`: RMSE on the test split of the predictor that knows
    /// the items and estimates each user from its train ratings —
    /// (clamped posterior mean, E[R] under the posterior predictive).
    pub oracle: Option<(f64, f64)>,
}

/// What one chunk of users produced.
#[derive(Default)]
struct ChunkOut {
    train: Vec<Triple>,
    test: Vec<Triple>,
    /// Squared error of the true model on the test ratings, and on all.
    test_sse: f64,
    all_sse: f64,
    /// The same for E[R | m], the best predictor of a rounded rating.
    test_bayes_sse: f64,
    all_bayes_sse: f64,
    /// Squared errors of the oracle predictors on the test ratings.
    oracle_linear_sse: f64,
    oracle_bayes_sse: f64,
}

/// Everything the chunks share.
struct Plan<'a> {
    config: &'a GenConfig,
    users: usize,
    items: usize,
    item_side: Side,
    user_factor_sd: f64,
    /// Ratings per user (sparse) — empty for dense.
    counts: Vec<u32>,
    /// Item popularity (sparse).
    popularity: Option<(WeightedAliasIndex<f64>, Vec<f64>)>,
    /// Compute the oracle floor (sparse only).
    oracle: bool,
}

/// Draws the data set `config` describes (already validated); with
/// `oracle`, also measures the oracle floor (the ratings drawn are the same).
pub fn sample(config: &GenConfig, oracle: bool, reporter: &dyn Reporter) -> Generated {
    let (users, items, ratings) = config.shape();
    let dense = config.dense.is_some();
    let mut rng = stream(config.seed, GLOBAL, 0);
    let rank = config.rank;
    let plan = if dense {
        let sd = factor_sd(rank, 1.0);
        Plan {
            config,
            users,
            items,
            item_side: Side::draw(items, rank, sd, 0.0, &mut rng),
            user_factor_sd: sd,
            counts: Vec::new(),
            popularity: None,
            oracle: false,
        }
    } else {
        let sd = factor_sd(rank, INTERACTION_VAR);
        let item_side = Side::draw(items, rank, sd, ITEM_BIAS_SD, &mut rng);
        let weights: Vec<f64> = (0..items)
            .map(|_| (f64::from(gauss(&mut rng, ITEM_POPULARITY_SIGMA))).exp())
            .collect();
        let counts = user_counts(users, items, ratings, &mut rng);
        let alias = WeightedAliasIndex::new(weights.clone()).ok();
        Plan {
            config,
            users,
            items,
            item_side,
            user_factor_sd: sd,
            counts,
            popularity: alias.map(|a| (a, weights)),
            oracle,
        }
    };

    let chunks = users.div_ceil(CHUNK);
    let progress = reporter.progress("gen", Some(users as u64), Unit::Count("users"));
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(chunks)
        .max(1);
    let mut outputs: Vec<(usize, ChunkOut)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let c = next.fetch_add(1, Ordering::Relaxed);
                        if c >= chunks {
                            break mine;
                        }
                        let out = plan.chunk(c);
                        progress.inc(plan.chunk_users(c).len() as u64);
                        mine.push((c, out));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    });
    drop(progress);
    outputs.sort_by_key(|(c, _)| *c);

    let train_len: usize = outputs.iter().map(|(_, o)| o.train.len()).sum();
    let test_len: usize = outputs.iter().map(|(_, o)| o.test.len()).sum();
    let mut train = Vec::with_capacity(train_len);
    let mut test = Vec::with_capacity(test_len);
    let (mut test_sse, mut all_sse) = (0.0, 0.0);
    let (mut test_bayes_sse, mut all_bayes_sse) = (0.0, 0.0);
    let (mut oracle_linear_sse, mut oracle_bayes_sse) = (0.0, 0.0);
    for (_, out) in outputs {
        train.extend_from_slice(&out.train);
        test.extend_from_slice(&out.test);
        test_sse += out.test_sse;
        all_sse += out.all_sse;
        test_bayes_sse += out.test_bayes_sse;
        all_bayes_sse += out.all_bayes_sse;
        oracle_linear_sse += out.oracle_linear_sse;
        oracle_bayes_sse += out.oracle_bayes_sse;
    }
    let rmse = |test_sse: f64, all_sse: f64| {
        if test.is_empty() {
            (all_sse / (train.len().max(1)) as f64).sqrt()
        } else {
            (test_sse / test.len() as f64).sqrt()
        }
    };
    let noise_floor = rmse(test_sse, all_sse);
    // Not measured when a test split was asked for but none drawn.
    let bayes_floor = (!test.is_empty() || config.test_fraction == 0.0)
        .then(|| rmse(test_bayes_sse, all_bayes_sse));
    let oracle = (plan.oracle && !test.is_empty()).then(|| {
        let n = test.len() as f64;
        (
            (oracle_linear_sse / n).sqrt(),
            (oracle_bayes_sse / n).sqrt(),
        )
    });
    let base = usize::from(!dense);
    Generated {
        user_ids: (0..users).map(|u| (u + base).to_string()).collect(),
        item_ids: (0..items).map(|i| (i + base).to_string()).collect(),
        train,
        test,
        rating_range: (!dense).then_some((1.0, 5.0)),
        noise_floor,
        bayes_floor,
        oracle,
    }
}

/// Splits `ratings` over `users` in proportion to log-normal activity
/// weights, at least 1 and at most `items` each, summing exactly.
fn user_counts(users: usize, items: usize, ratings: u64, rng: &mut Xoshiro256PlusPlus) -> Vec<u32> {
    let weights: Vec<f64> = (0..users)
        .map(|_| f64::from(gauss(rng, USER_ACTIVITY_SIGMA)).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let cap = items as u64;
    let mut counts: Vec<u64> = weights
        .iter()
        .map(|w| ((ratings as f64 * w / total).floor() as u64).clamp(1, cap))
        .collect();
    let mut order: Vec<usize> = (0..users).collect();
    order.shuffle(rng);
    let mut sum: u64 = counts.iter().sum();
    while sum != ratings {
        for &u in &order {
            if sum < ratings && counts[u] < cap {
                counts[u] += 1;
                sum += 1;
            } else if sum > ratings && counts[u] > 1 {
                counts[u] -= 1;
                sum -= 1;
            }
            if sum == ratings {
                break;
            }
        }
    }
    counts.into_iter().map(|c| c as u32).collect()
}

impl Plan<'_> {
    fn chunk_users(&self, c: usize) -> std::ops::Range<usize> {
        c * CHUNK..((c + 1) * CHUNK).min(self.users)
    }

    fn chunk(&self, c: usize) -> ChunkOut {
        let cfg = self.config;
        let rank = cfg.rank;
        let mut rng = stream(cfg.seed, USERS, c as u64);
        let mut out = ChunkOut::default();
        let mut chosen = Vec::new();
        let mut taken = vec![0u64; self.items.div_ceil(64)];
        let mut p = vec![0f32; rank];
        let mut mine: Vec<(u32, f64, bool)> = Vec::new();
        for u in self.chunk_users(c) {
            mine.clear();
            let bias = if self.popularity.is_some() {
                gauss(&mut rng, USER_BIAS_SD)
            } else {
                0.0
            };
            for x in p.iter_mut() {
                *x = gauss(&mut rng, self.user_factor_sd);
            }
            chosen.clear();
            match &self.popularity {
                Some((alias, weights)) => pick_items(
                    self.counts[u] as usize,
                    alias,
                    weights,
                    &mut taken,
                    &mut chosen,
                    &mut rng,
                ),
                None => chosen.extend(0..self.items as u32),
            }
            for &i in &chosen {
                let q = self.item_side.row(i as usize, rank);
                let sparse = self.popularity.is_some();
                let (value, truth, m) = if sparse {
                    let pred = f64::from(MU)
                        + f64::from(bias)
                        + f64::from(self.item_side.bias[i as usize])
                        + dot(&p, q);
                    let r = (pred + noise(&mut rng, cfg.noise)).round().clamp(1.0, 5.0);
                    (r, pred.clamp(1.0, 5.0), pred)
                } else {
                    let pred = dot(&p, q);
                    (pred + noise(&mut rng, cfg.noise), pred, pred)
                };
                // E[R | m]: m itself for unrounded data.
                let bayes_err = |value: f64| {
                    let best = if sparse {
                        expected_rating(m, cfg.noise, 1.0, 5.0)
                    } else {
                        m
                    };
                    (value - best).powi(2)
                };
                let t = Triple {
                    user: u as u32,
                    item: i,
                    value: value as f32,
                };
                let err = (f64::from(t.value) - truth).powi(2);
                out.all_sse += err;
                let is_test = cfg.test_fraction > 0.0 && rng.random::<f64>() < cfg.test_fraction;
                // The Bayes floor is measured where the noise floor is: on
                // the test split, or on all ratings without one (so full-
                // scale generation pays for it on 1.4% of the ratings).
                if cfg.test_fraction == 0.0 {
                    out.all_bayes_sse += bayes_err(f64::from(t.value));
                }
                if is_test {
                    out.test_sse += err;
                    out.test_bayes_sse += bayes_err(f64::from(t.value));
                    out.test.push(t);
                } else {
                    out.train.push(t);
                }
                if self.oracle {
                    mine.push((i, f64::from(t.value), is_test));
                }
            }
            if self.oracle {
                let (linear, bayes) = self.oracle_user(&mine);
                out.oracle_linear_sse += linear;
                out.oracle_bayes_sse += bayes;
            }
        }
        out
    }

    /// The oracle's squared errors on one user's test ratings: the item
    /// side and the priors known, the user estimated from its train
    /// ratings (`ratings`: item, value, is a test rating).
    fn oracle_user(&self, ratings: &[(u32, f64, bool)]) -> (f64, f64) {
        let rank = self.config.rank;
        let noise = self.config.noise;
        let mut prior = vec![self.user_factor_sd; rank + 1];
        prior[0] = USER_BIAS_SD;
        // Rounding to integers adds variance 1/12 (uniform on ±½).
        let mut post = UserPosterior::new(&prior, (noise * noise + 1.0 / 12.0).sqrt());
        post.reset();
        let base = |i: u32| f64::from(MU) + f64::from(self.item_side.bias[i as usize]);
        for &(i, value, _) in ratings.iter().filter(|r| !r.2) {
            post.observe(self.item_side.row(i as usize, rank), value - base(i));
        }
        if !post.solve() {
            return (0.0, 0.0);
        }
        let mut scratch = vec![0.0; rank + 1];
        let (mut linear, mut bayes) = (0.0, 0.0);
        for &(i, value, _) in ratings.iter().filter(|r| r.2) {
            let (mean, var) = post.predict(self.item_side.row(i as usize, rank), &mut scratch);
            let m = base(i) + mean;
            linear += (value - m.clamp(1.0, 5.0)).powi(2);
            let best = expected_rating(m, (noise * noise + var).sqrt(), 1.0, 5.0);
            bayes += (value - best).powi(2);
        }
        (linear, bayes)
    }
}

/// Picks `n` distinct items, each draw in proportion to popularity among
/// the items not yet picked: by rejection when `n` is small against the
/// catalogue, else by Efraimidis–Spirakis keys over all items.
fn pick_items(
    n: usize,
    alias: &WeightedAliasIndex<f64>,
    weights: &[f64],
    taken: &mut [u64],
    chosen: &mut Vec<u32>,
    rng: &mut Xoshiro256PlusPlus,
) {
    let items = weights.len();
    if n * 16 <= items {
        let mut attempts = 0usize;
        while chosen.len() < n && attempts < 64 * n + 256 {
            attempts += 1;
            let i = alias.sample(rng);
            let (word, bit) = (i / 64, 1u64 << (i % 64));
            if taken[word] & bit == 0 {
                taken[word] |= bit;
                chosen.push(i as u32);
            }
        }
        for &i in chosen.iter() {
            taken[i as usize / 64] = 0;
        }
        if chosen.len() == n {
            return;
        }
        chosen.clear();
    }
    let mut keys: Vec<(f64, u32)> = weights
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
            (u.ln() / w, i as u32)
        })
        .collect();
    let by_key_desc = |a: &(f64, u32), b: &(f64, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    if n < items {
        keys.select_nth_unstable_by(n, by_key_desc);
    }
    chosen.extend(keys[..n.min(items)].iter().map(|k| k.1));
}
