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
use super::GenConfig;
use crate::progress::{Progress, Unit};
use crate::ratingfile::Triple;

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
}

/// What one chunk of users produced.
#[derive(Default)]
struct ChunkOut {
    train: Vec<Triple>,
    test: Vec<Triple>,
    /// Squared error of the true model on the test ratings, and on all.
    test_sse: f64,
    all_sse: f64,
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
}

/// Draws the data set `config` describes (already validated).
pub fn sample(config: &GenConfig) -> Generated {
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
        }
    };

    let chunks = users.div_ceil(CHUNK);
    let progress = Progress::new("gen", Some(users as u64), Unit::Items, !config.progress);
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
    progress.finish();
    outputs.sort_by_key(|(c, _)| *c);

    let train_len: usize = outputs.iter().map(|(_, o)| o.train.len()).sum();
    let test_len: usize = outputs.iter().map(|(_, o)| o.test.len()).sum();
    let mut train = Vec::with_capacity(train_len);
    let mut test = Vec::with_capacity(test_len);
    let (mut test_sse, mut all_sse) = (0.0, 0.0);
    for (_, out) in outputs {
        train.extend_from_slice(&out.train);
        test.extend_from_slice(&out.test);
        test_sse += out.test_sse;
        all_sse += out.all_sse;
    }
    let noise_floor = if test.is_empty() {
        (all_sse / (train.len().max(1)) as f64).sqrt()
    } else {
        (test_sse / test.len() as f64).sqrt()
    };
    let base = usize::from(!dense);
    Generated {
        user_ids: (0..users).map(|u| (u + base).to_string()).collect(),
        item_ids: (0..items).map(|i| (i + base).to_string()).collect(),
        train,
        test,
        rating_range: (!dense).then_some((1.0, 5.0)),
        noise_floor,
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
        for u in self.chunk_users(c) {
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
                let (value, truth) = if self.popularity.is_some() {
                    let pred = f64::from(MU)
                        + f64::from(bias)
                        + f64::from(self.item_side.bias[i as usize])
                        + dot(&p, q);
                    let r = (pred + noise(&mut rng, cfg.noise)).round().clamp(1.0, 5.0);
                    (r, pred.clamp(1.0, 5.0))
                } else {
                    let pred = dot(&p, q);
                    (pred + noise(&mut rng, cfg.noise), pred)
                };
                let t = Triple {
                    user: u as u32,
                    item: i,
                    value: value as f32,
                };
                let err = (f64::from(t.value) - truth).powi(2);
                out.all_sse += err;
                if cfg.test_fraction > 0.0 && rng.random::<f64>() < cfg.test_fraction {
                    out.test_sse += err;
                    out.test.push(t);
                } else {
                    out.train.push(t);
                }
            }
        }
        out
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
