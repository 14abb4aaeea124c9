//! Dealing ratings into folds, and what a number measured over folds is.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;

use crate::ratingfile::{self, RatingSet, Triple};

/// Mean and sample standard deviation over folds.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Spread {
    /// Mean over folds.
    pub mean: f64,
    /// Sample standard deviation over folds.
    pub std: f64,
}

impl Spread {
    /// The mean and sample standard deviation of `values`.
    pub fn of(values: impl Iterator<Item = f64> + Clone) -> Spread {
        let n = values.clone().count() as f64;
        let mean = values.clone().sum::<f64>() / n;
        let var = values.map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0).max(1.0);
        Spread {
            mean,
            std: var.sqrt(),
        }
    }
}

/// Deals the ratings of `set` (train and test together) into `folds`
/// folds: a seeded shuffle, then round-robin. Returns the folds' ratings.
pub fn deal_folds(set: &RatingSet, folds: usize, seed: u64) -> Vec<Vec<Triple>> {
    let mut all: Vec<Triple> = set.train.iter().chain(&set.test).copied().collect();
    all.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(seed));
    let mut dealt: Vec<Vec<Triple>> = (0..folds)
        .map(|_| Vec::with_capacity(all.len() / folds + 1))
        .collect();
    for (j, t) in all.into_iter().enumerate() {
        dealt[j % folds].push(t);
    }
    dealt
}

/// The rating set of fold `f`: fold `f` as the test split, the rest as
/// the train split, the same ids and rating range.
pub fn fold_set(set: &RatingSet, dealt: &[Vec<Triple>], f: usize) -> RatingSet {
    let train = dealt
        .iter()
        .enumerate()
        .filter(|&(g, _)| g != f)
        .flat_map(|(_, fold)| fold.iter().copied())
        .collect();
    RatingSet {
        user_ids: set.user_ids.clone(),
        item_ids: set.item_ids.clone(),
        train,
        test: dealt[f].clone(),
        meta: ratingfile::Meta {
            rating_range: set.meta.rating_range,
            noise_floor: None,
            mean_rmse: None,
            source: format!("fold {} of {} of: {}", f + 1, dealt.len(), set.meta.source),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(n: u32) -> RatingSet {
        RatingSet {
            user_ids: (0..n).map(|u| format!("u{u}")).collect(),
            item_ids: vec!["i".into()],
            train: (0..n - 3)
                .map(|u| Triple {
                    user: u,
                    item: 0,
                    value: u as f32,
                })
                .collect(),
            test: (n - 3..n)
                .map(|u| Triple {
                    user: u,
                    item: 0,
                    value: u as f32,
                })
                .collect(),
            meta: Default::default(),
        }
    }

    #[test]
    fn folds_partition_all_ratings_evenly() {
        let s = set(23);
        let dealt = deal_folds(&s, 5, 7);
        let sizes: Vec<usize> = dealt.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![5, 5, 5, 4, 4]);
        let mut users: Vec<u32> = dealt.iter().flatten().map(|t| t.user).collect();
        users.sort_unstable();
        assert_eq!(users, (0..23).collect::<Vec<_>>());
        assert_eq!(deal_folds(&s, 5, 7)[2], dealt[2], "same seed, same folds");
        assert_ne!(
            deal_folds(&s, 5, 8)[0],
            dealt[0],
            "another seed, other folds"
        );
    }

    #[test]
    fn a_fold_set_tests_on_its_fold_and_trains_on_the_rest() {
        let s = set(10);
        let dealt = deal_folds(&s, 3, 1);
        let f = fold_set(&s, &dealt, 1);
        assert_eq!(f.test, dealt[1]);
        assert_eq!(f.train.len() + f.test.len(), 10);
        assert!(f.train.iter().all(|t| !f.test.contains(t)));
    }

    #[test]
    fn spread_is_mean_and_sample_std() {
        let s = Spread::of([1.0, 2.0, 3.0].into_iter());
        assert_eq!(s.mean, 2.0);
        assert!((s.std - 1.0).abs() < 1e-12);
    }
}
