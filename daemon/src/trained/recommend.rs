//! The top-N items for one user of a trained model, every item scored by
//! the kernel ([`funk_kernel::top_n`], SIMD over the packed item table),
//! the items the user already rated in the data file (train and test
//! split) left out unless asked for, with the time each step took.

use std::time::Instant;

use anyhow::{Context, Result};
use funk_kernel::Isa;

use super::ModelWithData;
use crate::model::{ItemTable, Scored};

/// What to recommend, checked: the user is an internal id of the data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecommendConfig {
    /// The internal id of the user.
    pub user: usize,
    /// How many items, at least 1.
    pub top: usize,
    /// Also recommend items the user already rated.
    pub include_rated: bool,
    /// The instruction set of the dot products.
    pub isa: Isa,
}

/// The items found, best first, with what it took to find them.
#[derive(Clone, Debug, PartialEq)]
pub struct Recommendations {
    /// The items (internal ids) and their raw scores, best first.
    pub top: Vec<Scored>,
    /// Items scored (all items minus the excluded ones).
    pub items_scored: usize,
    /// Items left out because the user rated them.
    pub excluded: usize,
    /// Seconds spent checking the blocks of the user's band (once per
    /// process and band; a service pays it at load).
    pub check_seconds: f64,
    /// Seconds spent packing the item factors for scoring (once per model).
    pub pack_seconds: f64,
    /// Seconds spent finding the items the user rated.
    pub lookup_seconds: f64,
    /// Seconds spent scoring every item and selecting the top N.
    pub score_seconds: f64,
}

/// The top `config.top` items for `config.user` by the model of `trained`.
pub fn recommend(trained: &ModelWithData, config: &RecommendConfig) -> Result<Recommendations> {
    let ModelWithData { data, loaded } = trained;
    let model = &loaded.model;
    let checking = Instant::now();
    if !config.include_rated {
        data.check_band_of_user(config.user)?;
    }
    let check_seconds = checking.elapsed().as_secs_f64();
    let packing = Instant::now();
    let table = ItemTable::new(model).context("the model's item factors cannot be scored")?;
    let pack_seconds = packing.elapsed().as_secs_f64();
    let lookup = Instant::now();
    let rated = if config.include_rated {
        Vec::new()
    } else {
        data.items_rated_by(config.user)?
    };
    let lookup_seconds = lookup.elapsed().as_secs_f64();
    let scoring = Instant::now();
    let top = table
        .recommend(config.isa, model, config.user, &rated, config.top)
        .context("the model's user row cannot be scored")?;
    let score_seconds = scoring.elapsed().as_secs_f64();
    Ok(Recommendations {
        top,
        items_scored: model.items() - rated.len(),
        excluded: rated.len(),
        check_seconds,
        pack_seconds,
        lookup_seconds,
        score_seconds,
    })
}
