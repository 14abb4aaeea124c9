//! A gradient check: the analytic gradient of J (the kernel's
//! [`accumulate_gradient`]) against the central-difference quotient
//! (J(x+h) − J(x−h)) / 2h in f64 ([`check_gradient`]), on a sample of
//! parameters of one block of the data.
//!
//! J decomposes over ratings, so the check runs on one train block (picked
//! by the seed among the non-empty ones), thinned evenly to at most
//! `max_ratings` ratings, with the parameters of a trained model or of a
//! random one ([`random_model`]). Probes are drawn among the factor
//! dimensions (below the rank) and biases of the rows those ratings touch.
//! [`gradcheck`] is the entry point.

use anyhow::{anyhow, bail, Context, Result};
use funk_kernel::{
    accumulate_gradient, check_gradient, objective, BandGrad, FactorRow, GradCheckReport,
    HyperParams, LearningRate, ModelKind, ParamRef, Rating,
};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;

use crate::export::kind_name;
use crate::model::Model;
use crate::rank::padded_k;
use crate::ratingfile::RatingFile;
use crate::trained::rows::{aligned_rows, band_view};
use crate::{usage_bail, with_k};

/// What to check, beside the model and its data: `funkd gradcheck`'s
/// options, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct GradcheckConfig {
    /// What the parameters are: a checkpoint's path, or `random`.
    pub parameters: String,
    /// λ, the factor regularisation.
    pub reg: f32,
    /// λ_b, the bias regularisation.
    pub reg_bias: f32,
    /// Parameters to probe, at least 1.
    pub probes: usize,
    /// At most this many ratings of the chosen block enter J, at least 1.
    pub max_ratings: usize,
    /// Seed of the block choice and the probes.
    pub seed: u64,
    /// The largest relative error that passes, positive.
    pub tolerance: f64,
}

/// Checks the gradient of J at `model`'s parameters on one block of
/// `data`. A failed check is an outcome (`passed` false), not an error;
/// regularisation J cannot have (negative, not finite) is a usage error.
pub fn gradcheck(
    data: &RatingFile,
    model: &Model,
    config: &GradcheckConfig,
) -> Result<GradcheckOutcome> {
    let (reg, reg_bias) = (config.reg, config.reg_bias);
    let params = match HyperParams::new(model.kind, 0.01, reg, reg_bias, LearningRate::Constant) {
        Ok(p) => p,
        Err(e) => usage_bail!("{e}"),
    };
    let (report, j, block, ratings) = check_on_data(
        data,
        model,
        &params,
        config.probes,
        config.max_ratings,
        config.seed,
    )
    .context("gradient check failed to run")?;
    Ok(GradcheckOutcome {
        parameters: config.parameters.clone(),
        kind: kind_name(model.kind),
        rank: model.rank,
        reg,
        reg_bias,
        block,
        ratings,
        objective: j,
        checked: report.checked,
        worst_relative_error: report.worst_relative_error,
        worst: report.worst.map(|p| describe(p, data, block)),
        analytic: report.analytic,
        numeric: report.numeric,
        tolerance: config.tolerance,
        passed: report.worst_relative_error <= config.tolerance,
    })
}

/// What a gradient check on a rating file found.
#[derive(Clone, Debug, Serialize)]
pub struct GradcheckOutcome {
    /// `model` (a checkpoint's) or `random`.
    pub parameters: String,
    /// `plain` or `biased`.
    pub kind: &'static str,
    /// The model's rank.
    pub rank: usize,
    /// λ used.
    pub reg: f32,
    /// λ_b used.
    pub reg_bias: f32,
    /// The block checked (user band, item band).
    pub block: (usize, usize),
    /// Ratings in J.
    pub ratings: usize,
    /// J at the parameters, in f64.
    pub objective: f64,
    /// Probes checked.
    pub checked: usize,
    /// The largest relative error.
    pub worst_relative_error: f64,
    /// The parameter with that error, by original id, e.g.
    /// `factor 3 of user "17"`.
    pub worst: Option<String>,
    /// The analytic derivative there.
    pub analytic: f64,
    /// The difference quotient there.
    pub numeric: f64,
    /// The tolerance.
    pub tolerance: f64,
    /// Whether the worst error is within the tolerance.
    pub passed: bool,
}

/// Names a probe of block `(ub, ib)` by the original id of its row.
fn describe(p: ParamRef, data: &RatingFile, (ub, ib): (usize, usize)) -> String {
    let user = |row: u32| {
        data.user_id(data.user_band(ub).start + row as usize)
            .to_owned()
    };
    let item = |row: u32| {
        data.item_id(data.item_band(ib).start + row as usize)
            .to_owned()
    };
    match p {
        ParamRef::UserFactor { row, dim } => format!("factor {dim} of user {:?}", user(row)),
        ParamRef::ItemFactor { row, dim } => format!("factor {dim} of item {:?}", item(row)),
        ParamRef::UserBias(row) => format!("bias of user {:?}", user(row)),
        ParamRef::ItemBias(row) => format!("bias of item {:?}", item(row)),
    }
}

/// A model of `rank` with N(0, 0.1) factors (zero beyond the rank) and,
/// for the biased kind, N(0, 0.1) biases and μ = the data's mean.
pub fn random_model(kind: ModelKind, rank: usize, data: &RatingFile, seed: u64) -> Model {
    let k = padded_k(rank);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let normal = Normal::new(0.0f32, 0.1).unwrap_or_else(|_| unreachable!("σ = 0.1 is valid"));
    let mut factors = |rows: usize| -> Vec<f32> {
        (0..rows * k)
            .map(|j| {
                if j % k < rank {
                    normal.sample(&mut rng)
                } else {
                    0.0
                }
            })
            .collect()
    };
    let user_factors = factors(data.users());
    let item_factors = factors(data.items());
    let biased = kind == ModelKind::Biased;
    let mut biases = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| if biased { normal.sample(&mut rng) } else { 0.0 })
            .collect()
    };
    let user_bias = biases(data.users());
    let item_bias = biases(data.items());
    Model {
        kind,
        rank,
        k,
        mu: if biased { data.mean() as f32 } else { 0.0 },
        user_factors,
        item_factors,
        user_bias,
        item_bias,
    }
}

/// Checks the gradient of J at `model`'s parameters on one block of
/// `data` (see the module documentation).
pub fn check_on_data(
    data: &RatingFile,
    model: &Model,
    params: &HyperParams,
    probes: usize,
    max_ratings: usize,
    seed: u64,
) -> Result<(GradCheckReport, f64, (usize, usize), usize)> {
    let p = data.grid();
    let blocks = p * p;
    let start = (seed % blocks.max(1) as u64) as usize;
    let Some((ub, ib)) = (0..blocks)
        .map(|j| ((start + j) % blocks / p, (start + j) % blocks % p))
        .find(|&(ub, ib)| !data.train_block(ub, ib).is_empty())
    else {
        bail!(
            "{} has no train ratings to check a gradient on",
            data.path().display()
        );
    };
    let block = data.checked_train_records(ub, ib)?;
    let stride = block.len().div_ceil(max_ratings.max(1));
    let ratings: Vec<Rating> = block.iter().step_by(stride).copied().collect();
    let (ur, ir) = (data.user_band(ub), data.item_band(ib));
    let biased = model.kind == ModelKind::Biased;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x6a09_e667_f3bc_c908);
    let probes: Vec<ParamRef> = (0..probes)
        .map(|_| {
            let r = ratings[rng.random_range(0..ratings.len())];
            let user_side = rng.random_bool(0.5);
            let dim = rng.random_range(0..model.rank + usize::from(biased)) as u32;
            match (user_side, dim as usize == model.rank) {
                (true, false) => ParamRef::UserFactor { row: r.user, dim },
                (false, false) => ParamRef::ItemFactor { row: r.item, dim },
                (true, true) => ParamRef::UserBias(r.user),
                (false, true) => ParamRef::ItemBias(r.item),
            }
        })
        .collect();
    with_k!(model.rank, K => {
        let user_rows = aligned_rows::<K>(
            model.user_factors.get(ur.start * K..ur.end * K).ok_or_else(|| anyhow!("user band outside the model"))?,
        );
        let item_rows = aligned_rows::<K>(
            model.item_factors.get(ir.start * K..ir.end * K).ok_or_else(|| anyhow!("item band outside the model"))?,
        );
        let users = band_view(&user_rows, &model.user_bias[ur.clone()], 0..user_rows.len(), biased)
            .ok_or_else(|| anyhow!("user band outside the model"))?;
        let items = band_view(&item_rows, &model.item_bias[ir.clone()], 0..item_rows.len(), biased)
            .ok_or_else(|| anyhow!("item band outside the model"))?;
        let mut grad_user_rows = vec![FactorRow::<K>::zeroed(); user_rows.len()];
        let mut grad_item_rows = vec![FactorRow::<K>::zeroed(); item_rows.len()];
        let bias_len = |n: usize| if biased { n } else { 0 };
        let mut grad_user_bias = vec![0.0f32; bias_len(user_rows.len())];
        let mut grad_item_bias = vec![0.0f32; bias_len(item_rows.len())];
        let place = || format!("{}: block ({ub}, {ib})", data.path().display());
        accumulate_gradient(
            params,
            model.mu,
            users,
            items,
            &ratings,
            BandGrad { factors: &mut grad_user_rows, biases: &mut grad_user_bias },
            BandGrad { factors: &mut grad_item_rows, biases: &mut grad_item_bias },
        )
        .map_err(|e| anyhow!("{}: {e}", place()))?;
        let j = objective(params, model.mu, users, items, &ratings, None)
            .map_err(|e| anyhow!("{}: {e}", place()))?;
        let grad_users = band_view(&grad_user_rows, &grad_user_bias, 0..grad_user_rows.len(), biased)
            .ok_or_else(|| anyhow!("gradient shape"))?;
        let grad_items = band_view(&grad_item_rows, &grad_item_bias, 0..grad_item_rows.len(), biased)
            .ok_or_else(|| anyhow!("gradient shape"))?;
        let report = check_gradient(params, model.mu, users, items, &ratings, grad_users, grad_items, &probes)
            .map_err(|e| anyhow!("{}: {e}", place()))?;
        Ok((report, j, (ub, ib), ratings.len()))
    })
}
