//! Every ISA against the reference: `score` for each item, fully sorted.

use std::vec;
use std::vec::Vec;

use super::*;
use crate::{FactorRow, Isa};

/// xorshift values in [-0.5, 0.5).
struct Values(u64);

impl Values {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }
    fn take(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.next()).collect()
    }
}

fn packed(factors: &[f32], stride: usize, rank: usize) -> Vec<FactorRow<PANEL_ITEMS>> {
    let items = factors.len() / stride;
    let mut lanes = vec![FactorRow::zeroed(); ItemPanels::lanes_needed(items, rank)];
    ItemPanels::pack(factors, stride, rank, &mut lanes).unwrap();
    lanes
}

/// Every item's score by `score`, sorted best first (ties to the lower id).
fn reference(
    factors: &[f32],
    stride: usize,
    row: &[f32],
    prior: f32,
    bias: &[f32],
    excluded: &dyn Fn(usize) -> bool,
) -> Vec<Scored> {
    let mut all: Vec<Scored> = factors
        .chunks_exact(stride)
        .enumerate()
        .filter(|&(i, _)| !excluded(i))
        .map(|(i, q)| Scored {
            item: i,
            score: score(
                prior,
                bias.get(i).copied().unwrap_or(0.0),
                row,
                &q[..row.len()],
            ),
        })
        .collect();
    all.sort_by(|a, b| {
        let key = |s: &Scored| {
            if s.score.is_nan() {
                f32::NEG_INFINITY
            } else {
                s.score
            }
        };
        key(b).total_cmp(&key(a)).then(a.item.cmp(&b.item))
    });
    all
}

#[test]
fn top_n_is_the_reference_prefix_to_the_bit_on_every_isa() {
    let mut values = Values(0x9e37_79b9_7f4a_7c15);
    for &(items, rank, stride) in &[
        (0, 4, 16),
        (1, 1, 16),
        (15, 3, 16),
        (63, 16, 16),
        (64, 17, 32),
        (65, 32, 32),
        (300, 40, 48),
        (1000, 32, 32),
    ] {
        let mut factors = values.take(items * stride);
        // Padding past the rank must not count.
        for row in factors.chunks_exact_mut(stride) {
            row[rank..].iter_mut().for_each(|v| *v = 9.0);
        }
        let bias = values.take(items);
        let row = values.take(rank);
        let lanes = packed(&factors, stride, rank);
        let panels = ItemPanels::new(&lanes, items, rank).unwrap();
        let excluded = |i: usize| i % 7 == 3;
        let want = reference(&factors, stride, &row, 3.25, &bias, &excluded);
        for isa in Isa::available() {
            for n in [1, 10, items + 5] {
                let mut best = vec![Scored::default(); n];
                let found = top_n(isa, &panels, &row, 3.25, &bias, excluded, &mut best).unwrap();
                assert_eq!(
                    found,
                    n.min(want.len()),
                    "{} items, n {n}, {}",
                    items,
                    isa.name()
                );
                for (got, want) in best[..found].iter().zip(&want) {
                    assert_eq!(got.item, want.item, "{items} items, n {n}, {}", isa.name());
                    assert_eq!(got.score.to_bits(), want.score.to_bits(), "{}", isa.name());
                }
            }
        }
    }
}

#[test]
fn excluded_items_never_appear_and_are_asked_about_only_when_good_enough() {
    let mut values = Values(7);
    let (items, rank) = (2000, 32);
    let factors = values.take(items * rank);
    let row = values.take(rank);
    let lanes = packed(&factors, rank, rank);
    let panels = ItemPanels::new(&lanes, items, rank).unwrap();
    let rated: Vec<usize> = (0..items).step_by(3).collect();
    let asked = core::cell::Cell::new(0usize);
    let excluded = |i: usize| {
        asked.set(asked.get() + 1);
        rated.binary_search(&i).is_ok()
    };
    let mut best = [Scored::default(); 10];
    let found = top_n(Isa::detect(), &panels, &row, 0.0, &[], excluded, &mut best).unwrap();
    assert_eq!(found, 10);
    assert!(best.iter().all(|s| s.item % 3 != 0));
    let want = reference(&factors, rank, &row, 0.0, &[], &|i| i % 3 == 0);
    assert_eq!(
        best.iter().map(|s| s.item).collect::<Vec<_>>(),
        want[..10].iter().map(|s| s.item).collect::<Vec<_>>()
    );
    // Random order: the 10th best so far changes O(10 log items) times.
    assert!(asked.get() < items / 4, "asked {} times", asked.get());
}

#[test]
fn ties_go_to_the_lower_item_and_nan_scores_rank_last() {
    // Rank 1: item scores are bias + q (row [1]).
    let factors = [1.0, 2.0, 2.0, 0.5, 2.0];
    let bias = [0.0, 0.0, 0.0, f32::NAN, 0.0];
    let lanes = packed(&factors, 1, 1);
    let panels = ItemPanels::new(&lanes, 5, 1).unwrap();
    for isa in Isa::available() {
        let mut best = [Scored::default(); 5];
        let found = top_n(isa, &panels, &[1.0], 0.0, &bias, |_| false, &mut best).unwrap();
        assert_eq!(found, 5);
        let ids: Vec<usize> = best.iter().map(|s| s.item).collect();
        assert_eq!(ids, [1, 2, 4, 0, 3], "{}", isa.name());
        assert!(best[4].score.is_nan());
    }
}

#[test]
fn zero_slots_find_nothing() {
    let lanes = packed(&[1.0; 16], 16, 16);
    let panels = ItemPanels::new(&lanes, 1, 16).unwrap();
    let found = top_n(
        Isa::detect(),
        &panels,
        &[1.0; 16],
        0.0,
        &[],
        |_| false,
        &mut [],
    )
    .unwrap();
    assert_eq!(found, 0);
}

#[test]
fn cosine_matches_the_reference_and_skips_directionless_items() {
    let mut values = Values(99);
    let (items, rank) = (130, 5);
    let mut factors = values.take(items * rank);
    factors[7 * rank..8 * rank]
        .iter_mut()
        .for_each(|v| *v = 0.0);
    let norms: Vec<f32> = factors.chunks(rank).map(row_norm).collect();
    let lanes = packed(&factors, rank, rank);
    let panels = ItemPanels::new(&lanes, items, rank).unwrap();
    let query = &factors[..rank];
    let mut want: Vec<Scored> = (1..items)
        .filter(|&i| i != 7)
        .map(|i| Scored {
            item: i,
            score: dot(query, &factors[i * rank..(i + 1) * rank]) / (norms[0] * norms[i]),
        })
        .collect();
    want.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.item.cmp(&b.item)));
    for isa in Isa::available() {
        let mut best = vec![Scored::default(); items];
        let found = top_n_cosine(isa, &panels, &norms, query, |i| i == 0, &mut best).unwrap();
        assert_eq!(found, items - 2, "{}", isa.name());
        assert_eq!(&best[..found], &want[..], "{}", isa.name());
    }
    let mut best = [Scored::default(); 3];
    let zero = [0.0; 5];
    assert_eq!(
        top_n_cosine(Isa::Scalar, &panels, &norms, &zero, |_| false, &mut best),
        Ok(0)
    );
}

#[test]
fn mismatched_inputs_are_refused() {
    let factors = [1.0; 6];
    let mut lanes = vec![FactorRow::zeroed(); 2];
    assert_eq!(
        ItemPanels::pack(&factors, 1, 2, &mut lanes).unwrap_err(),
        ScoreError::Stride { stride: 1, rank: 2 }
    );
    assert_eq!(
        ItemPanels::pack(&factors, 4, 2, &mut lanes).unwrap_err(),
        ScoreError::RaggedFactors { len: 6, stride: 4 }
    );
    assert_eq!(
        ItemPanels::pack(&factors, 3, 2, &mut lanes[..1]).unwrap_err(),
        ScoreError::PanelLength { len: 1, needed: 2 }
    );
    let panels = ItemPanels::pack(&factors, 3, 2, &mut lanes).unwrap();
    let mut best = [Scored::default(); 1];
    assert_eq!(
        top_n(Isa::Scalar, &panels, &[1.0], 0.0, &[], |_| false, &mut best),
        Err(ScoreError::RowLength { len: 1, rank: 2 })
    );
    assert_eq!(
        top_n(
            Isa::Scalar,
            &panels,
            &[1.0, 1.0],
            0.0,
            &[1.0],
            |_| false,
            &mut best
        ),
        Err(ScoreError::ItemBiases { len: 1, items: 2 })
    );
    assert_eq!(
        top_n_cosine(
            Isa::Scalar,
            &panels,
            &[1.0],
            &[1.0, 1.0],
            |_| false,
            &mut best
        ),
        Err(ScoreError::Norms { len: 1, items: 2 })
    );
}

#[test]
fn predict_is_the_biased_or_plain_formula_clamped() {
    let (p, q) = ([0.5, -1.0, 2.0], [2.0, 0.5, 0.25]);
    let dot = 0.5 * 2.0 - 1.0 * 0.5 + 2.0 * 0.25;
    assert_eq!(
        predict(ModelKind::Biased, 3.5, 0.25, -0.5, &p, &q, None),
        3.25 + dot
    );
    assert_eq!(
        predict(ModelKind::Plain, 3.5, 0.25, -0.5, &p, &q, None),
        dot
    );
    assert_eq!(
        predict(ModelKind::Biased, 3.5, 0.25, -0.5, &p, &q, Some((1.0, 4.0))),
        4.0
    );
    assert_eq!(
        predict(ModelKind::Plain, 3.5, 0.25, -0.5, &p, &q, Some((2.0, 5.0))),
        2.0
    );
    assert!(clamp(f32::NAN, Some((1.0, 5.0))).is_nan());
    assert_eq!(clamp(3.0, Some((f32::NAN, f32::NAN))), 3.0);
}
