//! Top-N selection: score every item for one user with the kernel's SIMD
//! dot product and keep the N best.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use funk_kernel::{FactorRow, Isa};

/// One scored item.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scored {
    /// Internal item id.
    pub item: usize,
    /// The model's (unclamped) prediction.
    pub score: f32,
}

/// The `n` highest-scoring items for `user`: score(i) = `offset` +
/// `item_bias[i]` + p·q_i (`item_bias` may be empty: no item biases).
/// Items whose `excluded[i]` is true are skipped (`excluded` may be empty:
/// nothing excluded). Best first; ties go to the lower internal id, so the
/// result is deterministic.
pub fn top_n<const K: usize>(
    isa: Isa,
    user: &FactorRow<K>,
    items: &[FactorRow<K>],
    item_bias: &[f32],
    offset: f32,
    excluded: &[bool],
    n: usize,
) -> Vec<Scored> {
    top_n_by(items.len(), excluded, n, |i| {
        offset + item_bias.get(i).copied().unwrap_or(0.0) + isa.dot(user, &items[i])
    })
}

/// The `n` items of `0..count` with the highest `score(i)`, skipping those
/// with `excluded[i]` (which may be shorter than `count`, or empty). Best
/// first, ties to the lower id, NaN scores last. One pass with a bounded
/// min-heap of the best `n` so far: an item costs its score and one
/// comparison with the n-th best, O(count + n log n) in all.
pub fn top_n_by(
    count: usize,
    excluded: &[bool],
    n: usize,
    mut score: impl FnMut(usize) -> f32,
) -> Vec<Scored> {
    if n == 0 {
        return Vec::new();
    }
    let mut heap: BinaryHeap<Reverse<Ranked>> = BinaryHeap::with_capacity(n.min(count) + 1);
    for i in 0..count {
        if excluded.get(i).copied().unwrap_or(false) {
            continue;
        }
        let candidate = Ranked(Scored {
            item: i,
            score: score(i),
        });
        if heap.len() < n {
            heap.push(Reverse(candidate));
        } else if heap.peek().is_some_and(|Reverse(worst)| candidate > *worst) {
            heap.pop();
            heap.push(Reverse(candidate));
        }
    }
    let mut best: Vec<Scored> = heap.into_iter().map(|Reverse(r)| r.0).collect();
    best.sort_unstable_by(best_first);
    best
}

/// A [`Scored`] ordered so that greater is better: higher score (NaN
/// lowest), then lower item id.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Ranked(Scored);

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        best_first(&other.0, &self.0)
    }
}

/// Descending score (NaN last), then ascending item id.
fn best_first(a: &Scored, b: &Scored) -> Ordering {
    let key = |s: &Scored| {
        if s.score.is_nan() {
            f32::NEG_INFINITY
        } else {
            s.score
        }
    };
    key(b).total_cmp(&key(a)).then_with(|| a.item.cmp(&b.item))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(v: f32) -> FactorRow<16> {
        let mut r = FactorRow::zeroed();
        r.0[0] = v;
        r
    }

    #[test]
    fn picks_the_best_in_order_and_breaks_ties_by_id() {
        let items: Vec<_> = [0.5, 3.0, 1.0, 3.0, -2.0].iter().map(|&v| row(v)).collect();
        let top = top_n(Isa::Scalar, &row(1.0), &items, &[], 0.0, &[], 3);
        let ids: Vec<_> = top.iter().map(|s| s.item).collect();
        assert_eq!(ids, vec![1, 3, 2]);
        assert_eq!(top[0].score, 3.0);
    }

    #[test]
    fn excluded_items_never_appear_and_biases_count() {
        let items: Vec<_> = [1.0, 2.0, 3.0].iter().map(|&v| row(v)).collect();
        let top = top_n(
            Isa::Scalar,
            &row(1.0),
            &items,
            &[5.0, 0.0, 0.0],
            1.0,
            &[false, false, true],
            10,
        );
        assert_eq!(top.len(), 2);
        assert_eq!(
            top[0],
            Scored {
                item: 0,
                score: 7.0
            }
        );
        assert_eq!(
            top[1],
            Scored {
                item: 1,
                score: 3.0
            }
        );
    }

    #[test]
    fn agrees_with_a_full_sort_on_random_scores() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let user = FactorRow::<32>(core::array::from_fn(|_| next()));
        let items: Vec<FactorRow<32>> = (0..500)
            .map(|_| FactorRow(core::array::from_fn(|_| next())))
            .collect();
        let isa = Isa::detect();
        let mut all: Vec<(usize, f32)> = items
            .iter()
            .enumerate()
            .map(|(i, q)| (i, isa.dot(&user, q)))
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let top = top_n(isa, &user, &items, &[], 0.0, &[], 25);
        let got: Vec<_> = top.iter().map(|s| s.item).collect();
        let want: Vec<_> = all[..25].iter().map(|s| s.0).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn nan_scores_rank_last_and_every_n_agrees_with_a_full_sort() {
        let scores = [1.0, f32::NAN, 3.0, 3.0, -1.0, 2.5, f32::NAN, 0.0];
        let mut all: Vec<Scored> = (0..scores.len())
            .map(|i| Scored {
                item: i,
                score: scores[i],
            })
            .collect();
        all.sort_by(best_first);
        for n in 0..=scores.len() + 2 {
            let got = top_n_by(scores.len(), &[], n, |i| scores[i]);
            let want = &all[..n.min(all.len())];
            assert_eq!(got.len(), want.len(), "n = {n}");
            for (g, w) in got.iter().zip(want) {
                assert_eq!(g.item, w.item, "n = {n}");
            }
        }
        assert_eq!(top_n_by(8, &[], 2, |i| scores[i])[0].item, 2);
    }

    #[test]
    fn zero_requested_gives_nothing() {
        let items = vec![row(1.0)];
        assert!(top_n(Isa::Scalar, &row(1.0), &items, &[], 0.0, &[], 0).is_empty());
    }
}
