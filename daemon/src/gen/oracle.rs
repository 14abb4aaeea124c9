//! What the best possible predictors reach on generated data: the floors
//! that `funkd gen` reports beside the recorded noise floor.
//!
//! - The **Bayes floor**: a sparse rating is `clamp(round(m + ε), 1, 5)`
//!   with ε ~ N(0, σ²). The predictor with the least squared error, knowing
//!   the true m, is the mean of that rounded, clamped Gaussian, E[R | m] —
//!   not clamp(m), whose error the file records as the noise floor. Near
//!   the ends of the scale they differ (m = 4.8, σ = 0.75: E[R | m] ≈ 4.61).
//! - The **oracle floor**: a predictor that knows μ, every item's bias and
//!   factors and the priors the users were drawn from, and estimates each
//!   user's bias and factors from that user's train ratings alone (the
//!   posterior mean of a Bayesian linear regression, rounding counted as
//!   noise of variance 1/12). No trainer can know the items better, so no
//!   trainer beats this by more than the approximation.

/// Φ, the standard normal distribution function (relative error of the
/// tail below 1.2e-7: Numerical Recipes' Chebyshev fit of erfc).
pub fn normal_cdf(x: f64) -> f64 {
    let z = (x / std::f64::consts::SQRT_2).abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    if x >= 0.0 {
        1.0 - 0.5 * erfc
    } else {
        0.5 * erfc
    }
}

/// E[clamp(round(m + ε), lo, hi)] for ε ~ N(0, sd²), integer `lo` < `hi`:
/// lo + Σ_{k=lo}^{hi−1} P(m + ε > k + ½).
pub fn expected_rating(m: f64, sd: f64, lo: f64, hi: f64) -> f64 {
    if sd <= 0.0 {
        return m.round().clamp(lo, hi);
    }
    let mut e = lo;
    let mut k = lo;
    while k < hi {
        e += 1.0 - normal_cdf((k + 0.5 - m) / sd);
        k += 1.0;
    }
    e
}

/// The posterior of one user's (bias, factors) given ratings of items
/// whose bias and factors are known: precision A = Λ₀ + Σ z zᵀ/σ², and
/// A·x̂ = Σ z·y/σ², where z = (1, q_i) and y = r − μ − b_i.
pub struct UserPosterior {
    dim: usize,
    /// Row-major dim × dim precision; after [`UserPosterior::solve`], its
    /// Cholesky factor L (lower triangle).
    a: Vec<f64>,
    /// Σ z·y/σ², then the posterior mean x̂.
    b: Vec<f64>,
    inv_var: f64,
    prior: Vec<f64>,
}

impl UserPosterior {
    /// A posterior for `prior_sd.len()` unknowns (bias first), each with a
    /// zero-mean Gaussian prior of that standard deviation, and rating
    /// noise of standard deviation `noise_sd` (> 0).
    pub fn new(prior_sd: &[f64], noise_sd: f64) -> UserPosterior {
        let dim = prior_sd.len();
        UserPosterior {
            dim,
            a: vec![0.0; dim * dim],
            b: vec![0.0; dim],
            inv_var: 1.0 / (noise_sd * noise_sd),
            prior: prior_sd.iter().map(|s| 1.0 / (s * s)).collect(),
        }
    }

    /// Starts a new user: the prior alone.
    pub fn reset(&mut self) {
        self.a.iter_mut().for_each(|x| *x = 0.0);
        self.b.iter_mut().for_each(|x| *x = 0.0);
        for (d, p) in self.prior.iter().enumerate() {
            self.a[d * self.dim + d] = *p;
        }
    }

    /// Adds one observation y of z·x (z = (1, q)).
    pub fn observe(&mut self, q: &[f32], y: f64) {
        let dim = self.dim;
        let z = |d: usize| if d == 0 { 1.0 } else { f64::from(q[d - 1]) };
        for r in 0..dim {
            let zr = z(r) * self.inv_var;
            self.b[r] += zr * y;
            for c in 0..=r {
                self.a[r * dim + c] += zr * z(c);
            }
        }
    }

    /// Factors A = L·Lᵀ in place and solves for x̂; false if A is not
    /// positive definite (impossible with positive prior precisions).
    pub fn solve(&mut self) -> bool {
        let dim = self.dim;
        let a = &mut self.a;
        for j in 0..dim {
            let mut d = a[j * dim + j];
            for k in 0..j {
                d -= a[j * dim + k] * a[j * dim + k];
            }
            if d.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                return false;
            }
            let d = d.sqrt();
            a[j * dim + j] = d;
            for i in j + 1..dim {
                let mut s = a[i * dim + j];
                for k in 0..j {
                    s -= a[i * dim + k] * a[j * dim + k];
                }
                a[i * dim + j] = s / d;
            }
        }
        // Forward substitution: L w = b.
        for i in 0..dim {
            let mut s = self.b[i];
            for k in 0..i {
                s -= self.a[i * dim + k] * self.b[k];
            }
            self.b[i] = s / self.a[i * dim + i];
        }
        // Back substitution: Lᵀ x = w.
        for i in (0..dim).rev() {
            let mut s = self.b[i];
            for k in i + 1..dim {
                s -= self.a[k * dim + i] * self.b[k];
            }
            self.b[i] = s / self.a[i * dim + i];
        }
        true
    }

    /// After [`UserPosterior::solve`]: the posterior mean of z·x and its
    /// posterior variance zᵀA⁻¹z = ‖L⁻¹z‖², for z = (1, q). `scratch`
    /// holds `dim` numbers.
    pub fn predict(&mut self, q: &[f32], scratch: &mut [f64]) -> (f64, f64) {
        let mean = self.b[0]
            + q.iter()
                .zip(&self.b[1..])
                .map(|(q, x)| f64::from(*q) * x)
                .sum::<f64>();
        scratch[0] = 1.0;
        for (s, q) in scratch[1..].iter_mut().zip(q) {
            *s = f64::from(*q);
        }
        let dim = self.dim;
        for i in 0..dim {
            let row = &self.a[i * dim..i * dim + i];
            let s = scratch[i]
                - row
                    .iter()
                    .zip(&scratch[..i])
                    .map(|(l, w)| l * w)
                    .sum::<f64>();
            scratch[i] = s / self.a[i * dim + i];
        }
        (mean, scratch.iter().map(|w| w * w).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_cdf_matches_known_values() {
        for (x, p) in [
            (0.0, 0.5),
            (1.0, 0.841_344_746),
            (-1.96, 0.024_997_895),
            (3.0, 0.998_650_102),
        ] {
            assert!((normal_cdf(x) - p).abs() < 1e-7, "Φ({x})");
        }
    }

    #[test]
    fn expected_rating_is_the_mean_of_the_rounded_clamped_gaussian() {
        // Far inside the scale it is m itself; at the ends it is pulled in.
        assert!((expected_rating(3.0, 0.75, 1.0, 5.0) - 3.0).abs() < 1e-6);
        let high = expected_rating(4.8, 0.75, 1.0, 5.0);
        assert!((4.55..4.65).contains(&high), "{high}");
        let low = expected_rating(1.2, 0.75, 1.0, 5.0);
        assert!((1.35..1.45).contains(&low), "{low}");
        // A direct sum over a fine grid of ε agrees.
        let (m, sd) = (4.3, 0.6);
        let (mut sum, mut mass) = (0.0, 0.0);
        let steps = 200_000;
        for i in 0..steps {
            let e = -8.0 * sd + 16.0 * sd * (i as f64 + 0.5) / steps as f64;
            let w = (-0.5 * (e / sd).powi(2)).exp();
            sum += w * (m + e).round().clamp(1.0, 5.0);
            mass += w;
        }
        assert!((expected_rating(m, sd, 1.0, 5.0) - sum / mass).abs() < 1e-5);
        assert_eq!(expected_rating(4.7, 0.0, 1.0, 5.0), 5.0);
    }

    #[test]
    fn the_posterior_mean_is_ridge_regression() {
        // Without noise and with a weak prior, many observations of
        // 0.5 + 2·q recover bias 0.5 and factor 2, with a small variance.
        let mut post = UserPosterior::new(&[100.0, 100.0], 0.01);
        post.reset();
        for q in [-1.0f32, -0.5, 0.0, 0.5, 1.0] {
            post.observe(&[q], 0.5 + 2.0 * f64::from(q));
        }
        assert!(post.solve());
        let mut scratch = [0.0; 2];
        let (mean, var) = post.predict(&[0.25], &mut scratch);
        assert!((mean - 1.0).abs() < 1e-6, "{mean}");
        assert!(var > 0.0 && var < 1e-4);
        // With no observation the prediction is the prior: 0, variance
        // 1 + q² times the prior variance.
        let mut post = UserPosterior::new(&[1.0, 1.0], 1.0);
        post.reset();
        assert!(post.solve());
        let (mean, var) = post.predict(&[2.0], &mut scratch);
        assert_eq!(mean, 0.0);
        assert!((var - 5.0).abs() < 1e-12);
    }
}
