//! The true model behind generated data, and the seeded random streams.

use rand::SeedableRng;
use rand_distr::{Distribution, Normal, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Global mean of sparse ratings.
pub const MU: f32 = 3.6;
/// Standard deviation of user biases.
pub const USER_BIAS_SD: f64 = 0.45;
/// Standard deviation of item biases.
pub const ITEM_BIAS_SD: f64 = 0.5;
/// Variance of the factor term p·q (the rest of the signal).
pub const INTERACTION_VAR: f64 = 0.3;

/// A random stream for one purpose and one chunk: the same (seed, stream,
/// chunk) always gives the same numbers.
pub fn stream(seed: u64, stream: u64, chunk: u64) -> Xoshiro256PlusPlus {
    let mut key = [0u8; 24];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&stream.to_le_bytes());
    key[16..].copy_from_slice(&chunk.to_le_bytes());
    Xoshiro256PlusPlus::seed_from_u64(xxhash_rust::xxh3::xxh3_64(&key))
}

/// Standard deviation of each factor entry so that p·q has variance
/// `var` at rank `rank` (entries i.i.d. N(0, s²): Var(p·q) = rank·s⁴).
pub fn factor_sd(rank: usize, var: f64) -> f64 {
    (var / rank as f64).powf(0.25)
}

/// One side of the true model: a bias and `rank` factors per row.
#[derive(Clone, Debug)]
pub struct Side {
    /// Row-major `rows × rank` factors.
    pub factors: Vec<f32>,
    /// One bias per row (zeros for the dense model).
    pub bias: Vec<f32>,
}

impl Side {
    /// Draws `rows` rows from `rng`.
    pub fn draw(
        rows: usize,
        rank: usize,
        factor_sd: f64,
        bias_sd: f64,
        rng: &mut Xoshiro256PlusPlus,
    ) -> Side {
        let mut factors = Vec::with_capacity(rows * rank);
        let mut bias = Vec::with_capacity(rows);
        for _ in 0..rows {
            bias.push(gauss(rng, bias_sd));
            for _ in 0..rank {
                factors.push(gauss(rng, factor_sd));
            }
        }
        Side { factors, bias }
    }

    /// Row `r`'s factors.
    pub fn row(&self, r: usize, rank: usize) -> &[f32] {
        &self.factors[r * rank..(r + 1) * rank]
    }
}

/// A draw of N(0, sd²) as f32.
pub fn gauss(rng: &mut Xoshiro256PlusPlus, sd: f64) -> f32 {
    if sd == 0.0 {
        return 0.0;
    }
    let z: f64 = StandardNormal.sample(rng);
    (z * sd) as f32
}

/// Noise of standard deviation `sd` (0 allowed).
pub fn noise(rng: &mut Xoshiro256PlusPlus, sd: f64) -> f64 {
    match Normal::new(0.0, sd) {
        Ok(n) if sd > 0.0 => n.sample(rng),
        _ => 0.0,
    }
}

/// p·q in f64.
pub fn dot(p: &[f32], q: &[f32]) -> f64 {
    p.iter()
        .zip(q)
        .map(|(a, b)| f64::from(*a) * f64::from(*b))
        .sum()
}
