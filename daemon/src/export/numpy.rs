//! `export --format npy`: one `.npy` array per factor matrix and bias
//! vector, rows in internal-id order.

use std::path::Path;

use anyhow::Result;
use funk_kernel::ModelKind;

use super::npy;
use super::write_id_list;
use crate::model::Model;
use crate::ratingfile::RatingFile;

/// Writes the arrays (and the id lists when `data` is given) into `dir`;
/// returns the file names written.
pub fn write(model: &Model, data: Option<&RatingFile>, dir: &Path) -> Result<Vec<String>> {
    let mut files = Vec::new();
    let rank = model.rank;
    let user_rows = (0..model.users()).flat_map(|u| model.user_row(u).iter().copied());
    npy::write_f32(
        &dir.join("user_factors.npy"),
        &[model.users(), rank],
        user_rows,
    )?;
    files.push("user_factors.npy".to_owned());
    let item_rows = (0..model.items()).flat_map(|i| model.item_row(i).iter().copied());
    npy::write_f32(
        &dir.join("item_factors.npy"),
        &[model.items(), rank],
        item_rows,
    )?;
    files.push("item_factors.npy".to_owned());
    if model.kind == ModelKind::Biased {
        npy::write_f32(
            &dir.join("user_bias.npy"),
            &[model.users()],
            model.user_bias.iter().copied(),
        )?;
        npy::write_f32(
            &dir.join("item_bias.npy"),
            &[model.items()],
            model.item_bias.iter().copied(),
        )?;
        files.push("user_bias.npy".to_owned());
        files.push("item_bias.npy".to_owned());
    }
    if let Some(data) = data {
        write_id_list(&dir.join("user_ids.txt"), data.users(), |u| data.user_id(u))?;
        write_id_list(&dir.join("item_ids.txt"), data.items(), |i| data.item_id(i))?;
        files.push("user_ids.txt".to_owned());
        files.push("item_ids.txt".to_owned());
    }
    Ok(files)
}
