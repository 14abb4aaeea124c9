//! `funkd gen`: synthetic rating data with a known answer.
//!
//! Sparse (the default, Netflix-shaped): ratings from a low-rank model
//! with biases, `r = μ + b_u + b_i + p_u·q_i + noise`, rounded and clamped
//! to 1..5; user activity and item popularity are log-normal (skewed like
//! the real data); no (user, item) pair twice; about 1.4% of the ratings
//! held out as the test split. Dense (`--dense ROWSxCOLS`): every entry of
//! `P Qᵀ + noise`, real-valued, unrounded, unclamped, no rating range (for
//! SVD checks); no test split unless `--test-fraction` asks for one.
//!
//! The file records the noise floor (RMSE of the true model's prediction,
//! clamped to the rating range, on the test split — on all ratings when
//! there is no test split) and the RMSE of predicting the train mean. The
//! summary also gives the Bayes floor (E[R | m], the best prediction of a
//! rounded, clamped rating from the true model) and, when asked, the oracle
//! floor (items known, users estimated): see [`oracle`].
//!
//! `--ratings-per-user` sets the density (the Netflix shape's ≈ 209 by
//! default) without changing the number of users and items, so MovieLens-
//! like shapes (20–100 ratings per user) can be generated too.
//!
//! Users are generated in chunks, each with its own seeded random stream,
//! on all cores; the chunks are joined in order, so the same seed gives
//! the same bytes whatever the thread count.

pub mod budget;
mod model;
pub mod oracle;
mod sample;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;

use crate::ratingfile::{self, Meta, RatingSet, WriteOptions};
use crate::report::{Reporter, Silent};
use crate::usage_bail;

/// Everything that decides a generated data set. `Default` is the Netflix
/// shape at full scale.
#[derive(Clone, Debug, PartialEq)]
pub struct GenConfig {
    /// Users at scale 1 (sparse mode).
    pub users: usize,
    /// Items at scale 1 (sparse mode).
    pub items: usize,
    /// Ratings (train + test) at scale 1 (sparse mode).
    pub ratings: u64,
    /// Multiplies users, items and ratings (ratings are then capped at a
    /// density of 30% so the set stays sparse).
    pub scale: f64,
    /// Rank of the true model.
    pub rank: usize,
    /// Standard deviation of the Gaussian noise added to each rating.
    pub noise: f64,
    /// Fraction of ratings held out as the test split.
    pub test_fraction: f64,
    /// Seed of everything random.
    pub seed: u64,
    /// `Some((rows, cols))`: a fully observed real-valued matrix instead.
    pub dense: Option<(usize, usize)>,
    /// Grid P of the file (`None`: the default for the size).
    pub grid: Option<usize>,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            users: 480_189,
            items: 17_770,
            ratings: 100_480_507,
            scale: 1.0,
            rank: 10,
            noise: 0.75,
            test_fraction: 0.014,
            seed: 1,
            dense: None,
            grid: None,
        }
    }
}

/// The largest number of entries `--dense` accepts.
pub const MAX_DENSE_ENTRIES: u64 = 1 << 28;
/// Density cap of scaled sparse sets.
pub const MAX_DENSITY: f64 = 0.3;
/// Mean ratings per user of the default (Netflix) shape, train and test
/// together: 100,480,507 / 480,189 ≈ 209.3.
pub fn netflix_ratings_per_user() -> f64 {
    let d = GenConfig::default();
    d.ratings as f64 / d.users as f64
}

/// The shape a configuration produces: (users, items, ratings).
impl GenConfig {
    /// Users, items and ratings after scaling (sparse) or the dense shape.
    pub fn shape(&self) -> (usize, usize, u64) {
        if let Some((rows, cols)) = self.dense {
            return (rows, cols, rows as u64 * cols as u64);
        }
        let users = ((self.users as f64 * self.scale).round() as usize).max(1);
        let items = ((self.items as f64 * self.scale).round() as usize).max(1);
        let cap = (MAX_DENSITY * users as f64 * items as f64).floor() as u64;
        let ratings = ((self.ratings as f64 * self.scale).round() as u64)
            .min(cap)
            .max(users as u64)
            .min(users as u64 * items as u64);
        (users, items, ratings)
    }

    /// The same configuration with `per_user` ratings per user on average
    /// (train and test together) instead of the Netflix shape's ≈ 209:
    /// users and items stay as they are, the number of ratings changes.
    /// Refused (a usage error) unless 1 ≤ `per_user` and the ratings fit
    /// under the density cap at this scale.
    pub fn with_ratings_per_user(self, per_user: f64) -> anyhow::Result<GenConfig> {
        if self.dense.is_some() {
            usage_bail!("--ratings-per-user applies to sparse data, not --dense");
        }
        if !(per_user.is_finite() && per_user >= 1.0) {
            usage_bail!("--ratings-per-user must be a number ≥ 1, got {per_user}");
        }
        let config = GenConfig {
            ratings: (per_user * self.users as f64).round() as u64,
            ..self
        };
        config.validate()?;
        let (_, items, _) = config.shape();
        let most = (MAX_DENSITY * items as f64).floor();
        if per_user > most {
            usage_bail!(
                "--ratings-per-user {per_user} is more than {:.0}% of the {items} items at --scale {} (at most {most}); raise --scale",
                MAX_DENSITY * 100.0,
                config.scale
            );
        }
        Ok(config)
    }

    /// Checks the configuration; a bad value is a usage error.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(self.scale > 0.0 && self.scale <= 1.0e3) {
            usage_bail!("--scale must be in (0, 1000], got {}", self.scale);
        }
        if self.rank == 0 || self.rank > 1024 {
            usage_bail!("--rank must be in 1..=1024, got {}", self.rank);
        }
        if !(self.noise.is_finite() && self.noise >= 0.0) {
            usage_bail!("--noise must be a finite number ≥ 0, got {}", self.noise);
        }
        if !(0.0..1.0).contains(&self.test_fraction) {
            usage_bail!(
                "--test-fraction must be in [0, 1), got {}",
                self.test_fraction
            );
        }
        if let Some((rows, cols)) = self.dense {
            if rows == 0 || cols == 0 || rows as u64 * cols as u64 > MAX_DENSE_ENTRIES {
                usage_bail!("--dense {rows}x{cols}: both sides must be ≥ 1 and the matrix at most 2^28 entries");
            }
        } else if self.users == 0 || self.items == 0 || self.ratings == 0 {
            usage_bail!("users, items and ratings must be ≥ 1");
        }
        let (users, items, _) = self.shape();
        if users > u32::MAX as usize / 2 || items > u32::MAX as usize / 2 {
            usage_bail!(
                "--scale {} makes more users or items than a rating file holds",
                self.scale
            );
        }
        Ok(())
    }
}

/// What `generate` made.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GenSummary {
    /// The file written.
    pub path: PathBuf,
    /// Users.
    pub users: usize,
    /// Items.
    pub items: usize,
    /// Train ratings.
    pub train: u64,
    /// Test ratings.
    pub test: u64,
    /// P.
    pub grid: usize,
    /// Mean train rating.
    pub mean: f64,
    /// RMSE of the true model (test split, or all ratings without one).
    pub noise_floor: f64,
    /// RMSE of predicting the train mean on the test split.
    pub mean_rmse: Option<f64>,
    /// RMSE of the Bayes-optimal prediction from the true model, E[R | m]
    /// for a rounded, clamped rating (test split, or all ratings): below
    /// `noise_floor`, which predicts clamp(m). Not stored in the file;
    /// `None` when a test split was asked for and none was drawn.
    pub bayes_floor: Option<f64>,
    /// `--oracle`: the test RMSE of a predictor that knows μ, the items'
    /// biases and factors and the priors, and estimates each user from its
    /// train ratings ([`oracle`]). Not stored in the file.
    pub oracle: Option<OracleFloor>,
    /// File size.
    pub bytes: u64,
    /// Content identity of the file, hex.
    pub identity: String,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// The test RMSE of the oracle predictor (see [`oracle`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct OracleFloor {
    /// Predicting the clamped posterior mean of the rating's m.
    pub linear: f64,
    /// Predicting E\[R\] under the posterior predictive. On `gen` data it
    /// is within 0.1% of `linear`, either way: the Gaussian posterior
    /// ignores that the ratings it learns from were clamped.
    pub bayes: f64,
}

/// Generates the data set `config` describes and writes it to `out`
/// (atomically), without a word. Same config ⇒ same bytes.
pub fn generate(config: &GenConfig, out: &Path) -> anyhow::Result<GenSummary> {
    generate_with(config, out, false, &Silent)
}

/// [`generate`], telling `reporter` how far it got (users sampled, then
/// the writing); with `oracle` it also measures the oracle floor (the file
/// is the same byte for byte; sparse data only). The library call of
/// `funkd gen` ([`crate::commands::gen`]).
pub fn generate_with(
    config: &GenConfig,
    out: &Path,
    oracle: bool,
    reporter: &dyn Reporter,
) -> anyhow::Result<GenSummary> {
    config.validate()?;
    crate::output::check_file(out, "output file", "-o")?;
    budget::check_fits(config, budget::room_for(out), out)?;
    let start = Instant::now();
    let generated = sample::sample(config, oracle, reporter);
    let set = RatingSet {
        user_ids: generated.user_ids,
        item_ids: generated.item_ids,
        train: generated.train,
        test: generated.test,
        meta: Meta {
            rating_range: generated.rating_range,
            noise_floor: Some(generated.noise_floor),
            mean_rmse: None,
            source: describe(config),
        },
    }
    .with_mean_rmse();
    reporter.note(&format!(
        "writing {} ratings to {}",
        set.train.len() + set.test.len(),
        out.display()
    ));
    let summary = ratingfile::write(
        out,
        &set,
        &WriteOptions {
            grid: config.grid,
            seed: config.seed,
        },
    )
    .with_context(|| format!("cannot write the generated data to {}", out.display()))?;
    Ok(GenSummary {
        path: out.to_path_buf(),
        users: summary.users,
        items: summary.items,
        train: summary.train,
        test: summary.test,
        grid: summary.grid,
        mean: summary.mean,
        noise_floor: generated.noise_floor,
        mean_rmse: set.meta.mean_rmse,
        bayes_floor: generated.bayes_floor,
        oracle: generated
            .oracle
            .map(|(linear, bayes)| OracleFloor { linear, bayes }),
        bytes: summary.bytes,
        identity: format!("{:016x}", summary.identity),
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn describe(c: &GenConfig) -> String {
    match c.dense {
        Some((r, k)) => format!(
            "funkd gen --dense {r}x{k} --rank {} --noise {} --test-fraction {} --seed {}",
            c.rank, c.noise, c.test_fraction, c.seed
        ),
        None => {
            // The Netflix shape's density is implied; any other is recorded
            // (so files made before `--ratings-per-user` keep their bytes).
            let density = if c.ratings == GenConfig::default().ratings {
                String::new()
            } else {
                let per_user = c.ratings as f64 / c.users.max(1) as f64;
                format!(" --ratings-per-user {}", (per_user * 1e3).round() / 1e3)
            };
            format!(
                "funkd gen --scale {} --rank {} --noise {} --test-fraction {} --seed {}{density}",
                c.scale, c.rank, c.noise, c.test_fraction, c.seed
            )
        }
    }
}

/// Options of `funkd gen`.
#[derive(Debug, Clone, clap::Args)]
pub struct GenArgs {
    /// Output rating file.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: PathBuf,
    /// Shrink (or grow) users, items and ratings of the Netflix shape by F.
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    pub scale: f64,
    /// Mean ratings per user, train and test together [default: the
    /// Netflix shape's, ≈ 209]; e.g. 20–100 for MovieLens-like densities.
    /// Users and items are as `--scale` makes them.
    #[arg(long, value_name = "N")]
    pub ratings_per_user: Option<f64>,
    /// Rank of the true model.
    #[arg(long, default_value_t = 10)]
    pub rank: usize,
    /// Standard deviation of the noise [default: 0.75 sparse, 0.1 dense].
    #[arg(long)]
    pub noise: Option<f64>,
    /// Seed (same seed ⇒ same bytes).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Fraction held out as the test split [default: 0.014 sparse, 0 dense].
    #[arg(long, value_name = "F")]
    pub test_fraction: Option<f64>,
    /// A fully observed real-valued ROWSxCOLS matrix (for SVD checks).
    #[arg(long, value_name = "ROWSxCOLS", value_parser = parse_dims)]
    pub dense: Option<(usize, usize)>,
    /// Grid P (P × P blocks) [default: 32 for large sets, smaller for small].
    #[arg(long)]
    pub grid: Option<usize>,
    /// Also measure the oracle floor: the test RMSE of a predictor that
    /// knows the items and estimates each user from its train ratings.
    #[arg(long)]
    pub oracle: bool,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress output.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

fn parse_dims(s: &str) -> Result<(usize, usize), String> {
    let (r, c) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("expected ROWSxCOLS, e.g. 200x100, got {s:?}"))?;
    let parse = |t: &str| {
        t.trim()
            .parse::<usize>()
            .map_err(|e| format!("{t:?} in {s:?}: {e}"))
    };
    Ok((parse(r)?, parse(c)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_netflix_density_asked_for_explicitly_is_the_default_config() {
        // Same configuration ⇒ same bytes: files made before
        // `--ratings-per-user` (the full-scale one included) are unchanged.
        for scale in [1.0, 0.05] {
            let plain = GenConfig {
                scale,
                ..GenConfig::default()
            };
            let explicit = plain
                .clone()
                .with_ratings_per_user(netflix_ratings_per_user())
                .unwrap();
            assert_eq!(explicit, plain);
            assert_eq!(describe(&explicit), describe(&plain));
        }
        // Another density changes only the number of ratings, and says so.
        let sparse = GenConfig::default().with_ratings_per_user(20.0).unwrap();
        let (users, items, ratings) = sparse.shape();
        let (netflix_users, netflix_items, _) = GenConfig::default().shape();
        assert_eq!((users, items), (netflix_users, netflix_items));
        assert_eq!(ratings, 20 * users as u64);
        assert!(describe(&sparse).ends_with("--ratings-per-user 20"));
    }

    #[test]
    fn ratings_per_user_is_refused_outside_its_range() {
        let at = |scale: f64, n: f64| {
            GenConfig {
                scale,
                ..GenConfig::default()
            }
            .with_ratings_per_user(n)
        };
        assert!(at(0.05, 266.0).is_ok());
        assert!(at(0.05, 267.0).is_err(), "over 30% of 889 items");
        assert!(at(1.0, 0.99).is_err());
        assert!(at(1.0, f64::INFINITY).is_err());
        let dense = GenConfig {
            dense: Some((10, 10)),
            ..GenConfig::default()
        };
        assert!(dense.with_ratings_per_user(5.0).is_err());
    }
}
