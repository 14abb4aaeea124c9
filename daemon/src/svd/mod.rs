//! The truncated SVD A ≈ UΣVᵀ of a model's low-rank part ÛV̂ᵀ (the factor
//! product p_u·q_i; μ and biases are not part of it), recovered from the
//! trained factors without forming A (see [`recover`]): the singular
//! values, and on request `S.npy` (f64), `U.npy` (users × s, f32) and
//! `V.npy` (items × s, f32), s the number of numerically non-zero singular
//! values, rows in internal-id order (and `user_ids.txt` / `item_ids.txt`
//! when the data file is known).

pub mod recover;

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::checkpoint::LoadedModel;
use crate::export::{kind_name, npy, write_id_list};
use crate::ratingfile::RatingFile;
use recover::RecoveredSvd;

/// The singular values of a model, and the files written.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SvdReport {
    /// The checkpoint file.
    pub model: String,
    /// `plain` or `biased`.
    pub kind: &'static str,
    /// The model's rank.
    pub rank: usize,
    /// Users.
    pub users: usize,
    /// Items.
    pub items: usize,
    /// All `rank` singular values, largest first.
    pub singular_values: Vec<f64>,
    /// How many of them are numerically non-zero.
    pub numerical_rank: usize,
    /// ‖P·Qᵀ‖_F, from the singular values.
    pub frobenius_norm: f64,
    /// The files written into `out`, by name (none without `out`).
    pub files: Vec<String>,
}

/// The SVD of the model of `loaded`; with `out`, also written there as
/// `.npy` files (created if missing), with `data`'s original ids beside
/// them when it is given.
pub fn svd(
    loaded: &LoadedModel,
    data: Option<&RatingFile>,
    out: Option<&Path>,
) -> Result<SvdReport> {
    let model = &loaded.model;
    let svd = RecoveredSvd::from_factors(
        (0..model.users()).map(|u| model.user_row(u)),
        (0..model.items()).map(|i| model.item_row(i)),
        model.rank,
    );
    let mut files = Vec::new();
    if let Some(dir) = out {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create directory {}", dir.display()))?;
        let s = svd.numerical_rank();
        npy::write_f64(
            &dir.join("S.npy"),
            &[s],
            svd.singular_values[..s].iter().copied(),
        )?;
        npy::write_f32(
            &dir.join("U.npy"),
            &[model.users(), s],
            (0..model.users()).flat_map(|u| {
                svd.user_vector(model.user_row(u))
                    .into_iter()
                    .map(|v| v as f32)
            }),
        )?;
        npy::write_f32(
            &dir.join("V.npy"),
            &[model.items(), s],
            (0..model.items()).flat_map(|i| {
                svd.item_vector(model.item_row(i))
                    .into_iter()
                    .map(|v| v as f32)
            }),
        )?;
        files.extend(["S.npy", "U.npy", "V.npy"].map(String::from));
        if let Some(data) = data {
            write_id_list(&dir.join("user_ids.txt"), data.users(), |u| data.user_id(u))?;
            write_id_list(&dir.join("item_ids.txt"), data.items(), |i| data.item_id(i))?;
            files.extend(["user_ids.txt", "item_ids.txt"].map(String::from));
        }
    }
    Ok(SvdReport {
        model: loaded.path.display().to_string(),
        kind: kind_name(model.kind),
        rank: model.rank,
        users: model.users(),
        items: model.items(),
        frobenius_norm: svd
            .singular_values
            .iter()
            .map(|s| s * s)
            .sum::<f64>()
            .sqrt(),
        numerical_rank: svd.numerical_rank(),
        singular_values: svd.singular_values,
        files,
    })
}
