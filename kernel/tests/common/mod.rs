//! Fixtures shared by the kernel's integration tests: seeded random bands,
//! blocks and low-rank problems. Everything is generated here; no test
//! reads a file.
#![allow(dead_code)] // each test binary uses a different part

use funk_kernel::{FactorRow, Rating, ADAPTIVE_INITIAL_ACCUMULATOR};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The tests' random generator.
pub fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// `n` rows whose first `rank` dimensions are uniform in ±`scale` (the
/// rest zero, as padded dimensions are).
pub fn random_rows<const K: usize>(
    rng: &mut impl Rng,
    n: usize,
    rank: usize,
    scale: f32,
) -> Vec<FactorRow<K>> {
    (0..n)
        .map(|_| {
            let mut row = FactorRow::<K>::zeroed();
            for v in row.0.iter_mut().take(rank) {
                *v = rng.random_range(-scale..=scale);
            }
            row
        })
        .collect()
}

/// `n` values uniform in ±`scale`.
pub fn random_values(rng: &mut impl Rng, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-scale..=scale)).collect()
}

/// `count` ratings with random indices and values in [1, 5], sorted by
/// user then item as the rating file stores a block.
pub fn random_ratings(rng: &mut impl Rng, users: usize, items: usize, count: usize) -> Vec<Rating> {
    let mut ratings: Vec<Rating> = (0..count)
        .map(|_| Rating {
            user: rng.random_range(0..users as u32),
            item: rng.random_range(0..items as u32),
            value: rng.random_range(1.0..=5.0),
        })
        .collect();
    ratings.sort_by_key(|r| (r.user, r.item));
    ratings
}

/// One band's owned state: rows, biases, AdaGrad accumulators.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedBand<const K: usize> {
    pub factors: Vec<FactorRow<K>>,
    pub biases: Vec<f32>,
    pub grad_sq: Vec<f32>,
}

impl<const K: usize> OwnedBand<K> {
    /// A random band of `n` rows.
    pub fn random(rng: &mut impl Rng, n: usize, rank: usize, scale: f32) -> Self {
        Self {
            factors: random_rows(rng, n, rank, scale),
            biases: random_values(rng, n, 0.5),
            grad_sq: vec![ADAPTIVE_INITIAL_ACCUMULATOR; n],
        }
    }

    /// The band lent to the kernel.
    pub fn band(&mut self) -> funk_kernel::Band<'_, K> {
        funk_kernel::Band {
            factors: &mut self.factors,
            biases: &mut self.biases,
            grad_sq: &mut self.grad_sq,
        }
    }

    /// The band as a read-only view.
    pub fn view(&self) -> funk_kernel::BandView<'_, K> {
        funk_kernel::BandView {
            factors: &self.factors,
            biases: &self.biases,
        }
    }

    /// Every value, for bitwise or tolerance comparisons.
    pub fn values(&self) -> impl Iterator<Item = f32> + '_ {
        self.factors
            .iter()
            .flat_map(|r| r.0.iter().copied())
            .chain(self.biases.iter().copied())
            .chain(self.grad_sq.iter().copied())
    }
}

/// A synthetic low-rank problem: r_ui = μ + b_u + b_i + p_u·q_i + noise,
/// observed on a random fraction of cells, split into train and test.
pub struct LowRankProblem {
    pub users: usize,
    pub items: usize,
    pub train: Vec<Rating>,
    pub test: Vec<Rating>,
    /// The noise standard deviation: the RMSE of the true model.
    pub noise: f64,
    pub mu: f32,
}

impl LowRankProblem {
    /// A problem with true rank `rank`, `density` of the cells observed
    /// and a tenth of those held out for test. `biased` adds μ and biases.
    pub fn new(
        seed: u64,
        users: usize,
        items: usize,
        rank: usize,
        density: f64,
        noise: f64,
        biased: bool,
    ) -> Self {
        let mut rng = rng(seed);
        let unit = Normal::new(0.0, 1.0).expect("valid normal");
        let factor_scale = 1.0 / (rank as f64).sqrt().sqrt();
        let mut draw = |n: usize| -> Vec<Vec<f64>> {
            (0..n)
                .map(|_| {
                    (0..rank)
                        .map(|_| unit.sample(&mut rng) * factor_scale)
                        .collect()
                })
                .collect()
        };
        let (p, q) = (draw(users), draw(items));
        let mut rng = rng_after(seed);
        let mu = if biased { 3.5 } else { 0.0 };
        let bu: Vec<f64> = (0..users)
            .map(|_| {
                if biased {
                    0.5 * unit.sample(&mut rng)
                } else {
                    0.0
                }
            })
            .collect();
        let bi: Vec<f64> = (0..items)
            .map(|_| {
                if biased {
                    0.5 * unit.sample(&mut rng)
                } else {
                    0.0
                }
            })
            .collect();
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for u in 0..users {
            for i in 0..items {
                if !rng.random_bool(density) {
                    continue;
                }
                let dot: f64 = p[u].iter().zip(&q[i]).map(|(a, b)| a * b).sum();
                let value = mu + bu[u] + bi[i] + dot + noise * unit.sample(&mut rng);
                let rating = Rating {
                    user: u as u32,
                    item: i as u32,
                    value: value as f32,
                };
                if rng.random_bool(0.1) {
                    test.push(rating);
                } else {
                    train.push(rating);
                }
            }
        }
        Self {
            users,
            items,
            train,
            test,
            noise,
            mu: mu as f32,
        }
    }
}

fn rng_after(seed: u64) -> Xoshiro256PlusPlus {
    rng(seed ^ 0x9E37_79B9_7F4A_7C15)
}

/// The mean of the ratings' values.
pub fn mean(ratings: &[Rating]) -> f32 {
    (ratings.iter().map(|r| f64::from(r.value)).sum::<f64>() / ratings.len() as f64) as f32
}
