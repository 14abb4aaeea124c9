//! A warm start's new rows initialised by fold-in: each new user's row
//! and bias is the kernel's regularised least-squares solution
//! ([`funk_kernel::fold_in`]) of the user's train ratings of *known*
//! items against those items' kept rows and biases; each new item's,
//! symmetrically, of its train ratings by known users against their rows.
//!
//! - The solve uses the run's λ, λ_b and per-row prior λ₀ and the kept μ,
//!   so a folded-in row is the minimiser of the run's own objective J over
//!   that row with every known row held fixed: where training would pull
//!   it, reached in one step instead of from a random start.
//! - Ratings the run holds out for validation are left out (the run must
//!   not have seen them), and so are ratings between two new rows (neither
//!   side has a row to solve against yet).
//! - A row with no usable rating, or whose solve is refused, keeps the
//!   initialisation it had (a fresh run's random draw).
//! - The ratings are gathered in one pass over the train blocks whose
//!   user band holds a new user or whose item band holds a new item, in
//!   block order; each row's solve depends only on its own ratings, so the
//!   rows are solved on several threads with the same bits for any count.

use std::ops::Range;

use anyhow::Context;
use funk_kernel::{fold_in, FoldIn, ItemFactors, ItemRating, ModelKind};

use super::validation::HeldOutPairs;
use crate::checkpoint::Parameters;
use crate::courtesy::{self, Pacer};
use crate::ratingfile::RatingFile;
use crate::runstate::Settings;

/// How many new rows fold-in initialised.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Folded {
    /// New users whose rows came from fold-in.
    pub users: usize,
    /// New items whose rows came from fold-in.
    pub items: usize,
}

/// The internal ids of one side's new rows and, per row of that side, its
/// slot among them.
struct NewRows {
    ids: Vec<usize>,
    slot: Vec<Option<u32>>,
}

impl NewRows {
    fn of(known: &[bool]) -> NewRows {
        let mut ids = Vec::new();
        let mut pacer = Pacer::new();
        let slot = known
            .iter()
            .enumerate()
            .map(|(id, &k)| {
                pacer.step();
                (!k).then(|| {
                    ids.push(id);
                    (ids.len() - 1) as u32
                })
            })
            .collect();
        NewRows { ids, slot }
    }

    /// Whether any row of `band` is new.
    fn any_in(&self, band: Range<usize>) -> bool {
        self.slot
            .get(band)
            .is_some_and(|s| s.iter().any(Option::is_some))
    }
}

/// Initialises the rows of `p` that `known_users` / `known_items` mark as
/// new (false) by fold-in against the known ones (see the module
/// documentation); `p` holds the kept rows and the fresh draws of the new
/// ones. `threads` solve the rows.
pub fn fold_in_new_rows(
    p: &mut Parameters,
    data: &RatingFile,
    known_users: &[bool],
    known_items: &[bool],
    settings: &Settings,
    threads: usize,
) -> anyhow::Result<Folded> {
    let users = NewRows::of(known_users);
    let items = NewRows::of(known_items);
    if users.ids.is_empty() && items.ids.is_empty() {
        return Ok(Folded::default());
    }
    let (by_user, by_item) = gather(data, &users, &items, settings.validation)?;
    let fold = FoldIn::new(settings.kind, settings.reg, settings.reg_bias, p.mu)
        .and_then(|f| f.with_row_prior(settings.reg_row))
        .map_err(|e| anyhow::anyhow!("cannot fold in the new rows of a warm start: {e}"))?;
    let (k, rank) = (settings.k as usize, settings.rank as usize);
    let biased = settings.kind == ModelKind::Biased;
    let user_rows = crate::with_k!(rank, K => solve_all::<K>(
        &fold, &p.item_factors, &p.item_bias, k, rank, &by_user, threads,
    ));
    let item_rows = crate::with_k!(rank, K => solve_all::<K>(
        &fold, &p.user_factors, &p.user_bias, k, rank, &by_item, threads,
    ));
    let mut folded = Folded::default();
    let mut pacer = Pacer::new();
    for (&id, solved) in users.ids.iter().zip(user_rows) {
        pacer.step();
        if let Some((row, bias)) = solved {
            p.user_factors[id * k..(id + 1) * k].copy_from_slice(&row);
            if biased {
                p.user_bias[id] = bias;
            }
            folded.users += 1;
        }
    }
    for (&id, solved) in items.ids.iter().zip(item_rows) {
        pacer.step();
        if let Some((row, bias)) = solved {
            p.item_factors[id * k..(id + 1) * k].copy_from_slice(&row);
            if biased {
                p.item_bias[id] = bias;
            }
            folded.items += 1;
        }
    }
    Ok(folded)
}

/// Per new user (by slot), their train ratings of known items; per new
/// item, its train ratings by known users (the user in
/// [`ItemRating::item`]). Held-out validation pairs are left out. One pass
/// over the blocks that hold a new row, in block order.
type Gathered = (Vec<Vec<ItemRating>>, Vec<Vec<ItemRating>>);

fn gather(
    data: &RatingFile,
    users: &NewRows,
    items: &NewRows,
    validation: f32,
) -> anyhow::Result<Gathered> {
    let held = HeldOutPairs::of(data, validation);
    let mut by_user = vec![Vec::new(); users.ids.len()];
    let mut by_item = vec![Vec::new(); items.ids.len()];
    let p = data.grid();
    let user_bands: Vec<bool> = (0..p).map(|b| users.any_in(data.user_band(b))).collect();
    let item_bands: Vec<bool> = (0..p).map(|b| items.any_in(data.item_band(b))).collect();
    let mut pacer = Pacer::new();
    for (ub, &user_band_new) in user_bands.iter().enumerate() {
        let user_start = data.user_band(ub).start;
        for (ib, &item_band_new) in item_bands.iter().enumerate() {
            if !(user_band_new || item_band_new) {
                continue;
            }
            data.check_block(ub, ib).with_context(|| {
                format!(
                    "cannot fold in the new rows of a warm start from {}",
                    data.path().display()
                )
            })?;
            let item_start = data.item_band(ib).start;
            for r in data.train_block(ub, ib) {
                pacer.step();
                let (u, i) = (user_start + r.user as usize, item_start + r.item as usize);
                let (new_user, new_item) = (users.slot[u], items.slot[i]);
                if new_user.is_some() == new_item.is_some() {
                    continue;
                }
                if held.as_ref().is_some_and(|h| h.contains(u, i)) {
                    continue;
                }
                if let Some(s) = new_user {
                    by_user[s as usize].push(ItemRating {
                        item: i as u32,
                        value: r.value,
                    });
                } else if let Some(s) = new_item {
                    by_item[s as usize].push(ItemRating {
                        item: u as u32,
                        value: r.value,
                    });
                }
            }
        }
    }
    Ok((by_user, by_item))
}

/// A folded-in row (`k` values, padding zero) and bias.
type Solved = Option<(Vec<f32>, f32)>;

/// Each list of `ratings` folded in against the rows `factors` (`k`
/// apart, `rank` used) and `biases`, on up to `threads` threads; `None`
/// for an empty list or a refused solve.
fn solve_all<const K: usize>(
    fold: &FoldIn,
    factors: &[f32],
    biases: &[f32],
    k: usize,
    rank: usize,
    ratings: &[Vec<ItemRating>],
    threads: usize,
) -> Vec<Solved> {
    let Ok(fixed) = ItemFactors::new(factors, k, rank, biases) else {
        return vec![None; ratings.len()];
    };
    // A solve is microseconds of work: a pause point after each.
    let solve = |list: &Vec<ItemRating>| -> Solved {
        if list.is_empty() {
            return None;
        }
        courtesy::pause_point();
        let mut row = vec![0.0f32; k];
        let bias = fold_in::<K>(fold, &fixed, list, &mut row).ok()?;
        Some((row, bias))
    };
    let threads = threads.clamp(1, ratings.len().max(1));
    if threads == 1 {
        return ratings.iter().map(solve).collect();
    }
    let chunk = ratings.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = ratings
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(solve).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a fold-in thread panicked"))
            .collect()
    })
}
