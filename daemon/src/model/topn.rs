//! Top-N over a model's items: every item scored by the kernel
//! ([`funk_kernel::top_n`], [`funk_kernel::top_n_cosine`]) against the
//! item factors packed once into the kernel's panel layout.

use funk_kernel::{FactorRow, Isa, ItemPanels, ScoreError, PANEL_ITEMS};

pub use funk_kernel::Scored;

use super::Model;
use crate::courtesy;

/// A model's item factors packed for scoring ([`ItemPanels`]), with each
/// item's norm for cosine similarity. Built once per model (a pass over
/// the item factors: about 1 ms for 17,770 items of rank 32), then shared
/// by every query.
#[derive(Debug)]
pub struct ItemTable {
    lanes: Vec<FactorRow<PANEL_ITEMS>>,
    norms: Vec<f32>,
    items: usize,
    rank: usize,
}

impl ItemTable {
    /// Frees the table; on a background thread a piece of its memory at
    /// a time ([`courtesy::release`]).
    pub fn release(self) {
        courtesy::release(self.lanes);
        courtesy::release(self.norms);
    }

    /// Packs `model`'s item factors.
    ///
    /// # Errors
    ///
    /// When the model's arrays do not fit its `k` and `rank` (a model
    /// checked at load always fits).
    pub fn new(model: &Model) -> Result<ItemTable, ScoreError> {
        let (items, rank) = (model.items(), model.rank);
        let mut lanes = vec![FactorRow::zeroed(); ItemPanels::lanes_needed(items, rank)];
        ItemPanels::pack(&model.item_factors, model.k, rank, &mut lanes)?;
        let norms = (0..items)
            .map(|i| funk_kernel::row_norm(model.item_row(i)))
            .collect();
        Ok(ItemTable {
            lanes,
            norms,
            items,
            rank,
        })
    }

    fn panels(&self) -> ItemPanels<'_> {
        ItemPanels::new(&self.lanes, self.items, self.rank)
            .expect("the lanes were packed for these items and this rank")
    }

    /// The `n` best items for a user row `row` (`rank` values) whose
    /// item-independent part is `prior` ([`funk_kernel::row_prior`]),
    /// leaving out items for which `excluded(i)` is true (asked only about
    /// items good enough to enter the list). Best first, ties to the lower
    /// internal id.
    ///
    /// # Errors
    ///
    /// When `row` is not `rank` long or `model` is not the table's.
    pub fn top_for_row(
        &self,
        isa: Isa,
        model: &Model,
        row: &[f32],
        prior: f32,
        excluded: impl Fn(usize) -> bool,
        n: usize,
    ) -> Result<Vec<Scored>, ScoreError> {
        let mut best = vec![Scored::default(); n.min(self.items)];
        let found = funk_kernel::top_n(
            isa,
            &self.panels(),
            row,
            prior,
            model.item_biases(),
            excluded,
            &mut best,
        )?;
        best.truncate(found);
        Ok(best)
    }

    /// The `n` best items for internal user `user` of `model` that are not
    /// in `rated` (internal item ids, ascending).
    ///
    /// # Errors
    ///
    /// When `model` is not the table's.
    pub fn recommend(
        &self,
        isa: Isa,
        model: &Model,
        user: usize,
        rated: &[u32],
        n: usize,
    ) -> Result<Vec<Scored>, ScoreError> {
        self.top_for_row(
            isa,
            model,
            model.user_row(user),
            model.row_prior(user),
            excluded_by(rated),
            n,
        )
    }

    /// The `n` items nearest to item `item` by cosine similarity of their
    /// factor rows, the item itself left out. Items whose rows are all
    /// zero have no direction and are never listed (nor is anything listed
    /// for such an item).
    pub fn similar(&self, isa: Isa, model: &Model, item: usize, n: usize) -> Vec<Scored> {
        let mut best = vec![Scored::default(); n.min(self.items)];
        let found = funk_kernel::top_n_cosine(
            isa,
            &self.panels(),
            &self.norms,
            model.item_row(item),
            |i| i == item,
            &mut best,
        )
        .expect("an item row has the table's rank and the norms are one per item");
        best.truncate(found);
        best
    }
}

/// The exclusion test of a sorted list of item ids.
pub fn excluded_by(sorted: &[u32]) -> impl Fn(usize) -> bool + '_ {
    move |i| u32::try_from(i).is_ok_and(|i| sorted.binary_search(&i).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use funk_kernel::ModelKind;

    fn model(kind: ModelKind) -> Model {
        let (users, items, rank, k) = (3, 40, 3, 16);
        let mut state = 12345u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        };
        let mut user_factors = vec![0.0; users * k];
        let mut item_factors = vec![0.0; items * k];
        for r in 0..users {
            for d in 0..rank {
                user_factors[r * k + d] = next();
            }
        }
        for r in 0..items {
            for d in 0..rank {
                item_factors[r * k + d] = next();
            }
        }
        item_factors[5 * k..6 * k].iter_mut().for_each(|v| *v = 0.0);
        let biased = kind == ModelKind::Biased;
        Model {
            kind,
            rank,
            k,
            mu: if biased { 3.5 } else { 0.0 },
            user_factors,
            item_factors,
            user_bias: (0..users)
                .map(|_| if biased { next() } else { 0.0 })
                .collect(),
            item_bias: (0..items)
                .map(|_| if biased { next() } else { 0.0 })
                .collect(),
        }
    }

    #[test]
    fn recommend_ranks_by_predict_to_the_bit_and_skips_rated_items() {
        for kind in [ModelKind::Biased, ModelKind::Plain] {
            let m = model(kind);
            let table = ItemTable::new(&m).unwrap();
            let rated = [4, 9, 31];
            let mut want: Vec<Scored> = (0..m.items())
                .filter(|i| !rated.contains(&(*i as u32)))
                .map(|i| Scored {
                    item: i,
                    score: m.predict(1, i),
                })
                .collect();
            want.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.item.cmp(&b.item)));
            for isa in Isa::available() {
                let top = table.recommend(isa, &m, 1, &rated, 7).unwrap();
                assert_eq!(top, want[..7], "{kind:?} {}", isa.name());
                let all = table.recommend(isa, &m, 1, &rated, 1000).unwrap();
                assert_eq!(all, want, "{kind:?} {}", isa.name());
            }
        }
    }

    #[test]
    fn similar_leaves_out_the_item_and_directionless_items() {
        let m = model(ModelKind::Biased);
        let table = ItemTable::new(&m).unwrap();
        let found = table.similar(Isa::detect(), &m, 2, 100);
        assert_eq!(found.len(), m.items() - 2);
        assert!(found.iter().all(|s| s.item != 2 && s.item != 5));
        assert!(found.windows(2).all(|w| w[0].score >= w[1].score));
        assert!(table.similar(Isa::detect(), &m, 5, 10).is_empty());
    }

    #[test]
    fn excluded_by_finds_exactly_the_listed_ids() {
        let rated = [1, 5, 9];
        let test = excluded_by(&rated);
        let hits: Vec<usize> = (0..12).filter(|&i| test(i)).collect();
        assert_eq!(hits, [1, 5, 9]);
        assert!(!test(usize::MAX));
    }
}
