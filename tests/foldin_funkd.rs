//! Fold-in against a model that `funkd train` made, with its defaults
//! (biased SGD, derived λ, λ_b and per-row prior λ₀, early stopping):
//! users left out of the rating file entirely and folded in from their
//! training ratings predict their test ratings as well as the trained
//! users predict theirs, on ML-100K-shaped data; from a handful of
//! ratings, the model's per-row prior makes the folded row better.

use std::path::Path;

use funk::daemon::checkpoint::{load_model, LoadedModel};
use funk::daemon::model::Model;
use funk::daemon::ratingfile::{self, Meta, RatingFile, RatingSet, Triple, WriteOptions};
use funk::daemon::report::Silent;
use funk::daemon::train::{train, TrainConfig};
use funk::kernel::{fold_in, FoldIn, ItemFactors, ItemRating};

const USERS: usize = 943;
const ITEMS: usize = 1682;
const TRUE_RANK: usize = 8;

/// splitmix64 with uniform and normal draws.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (a, b) = (self.unit(), self.unit());
        (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
    }
}

/// One user's ratings: (item index, stars), train and test parts.
struct User {
    train: Vec<(usize, f32)>,
    test: Vec<(usize, f32)>,
}

/// 943 users with 20 to 700 ratings (20 + an exponential tail, about 100k
/// in all), items by a Zipf-like popularity, stars = round(3.5 + b_u +
/// b_i + p·q + noise) in 1..5; a fifth of each user's ratings for test.
fn ml100k_shaped(seed: u64) -> Vec<User> {
    let mut rng = Rng(seed);
    let scale = 1.0 / (TRUE_RANK as f64).sqrt().sqrt();
    let mut rows = |n: usize| -> Vec<Vec<f64>> {
        (0..n)
            .map(|_| (0..TRUE_RANK).map(|_| rng.normal() * scale).collect())
            .collect()
    };
    let (p, q) = (rows(USERS), rows(ITEMS));
    let bu: Vec<f64> = (0..USERS).map(|_| 0.4 * rng.normal()).collect();
    let bi: Vec<f64> = (0..ITEMS).map(|_| 0.5 * rng.normal()).collect();
    // Popularity ∝ 1/(i + 10), sampled through its cumulative sum.
    let mut cumulative: Vec<f64> = Vec::with_capacity(ITEMS);
    let mut total = 0.0;
    for i in 0..ITEMS {
        total += 1.0 / (i as f64 + 10.0);
        cumulative.push(total);
    }
    (0..USERS)
        .map(|u| {
            let count = (20.0 - 86.0 * rng.unit().ln()).min(700.0) as usize;
            let mut seen = vec![false; ITEMS];
            let mut user = User {
                train: Vec::new(),
                test: Vec::new(),
            };
            while user.train.len() + user.test.len() < count {
                let x = rng.unit() * total;
                let i = cumulative.partition_point(|&c| c < x).min(ITEMS - 1);
                if std::mem::replace(&mut seen[i], true) {
                    continue;
                }
                let dot: f64 = p[u].iter().zip(&q[i]).map(|(a, b)| a * b).sum();
                let stars = (3.5 + bu[u] + bi[i] + dot + 0.5 * rng.normal())
                    .round()
                    .clamp(1.0, 5.0);
                if rng.unit() <= 0.2 {
                    user.test.push((i, stars as f32));
                } else {
                    user.train.push((i, stars as f32));
                }
            }
            user
        })
        .collect()
}

/// Trains funkd (defaults, rank 16) on the training ratings of `trained`.
fn train_funkd(dir: &Path, users: &[User], trained: &[usize]) -> (RatingFile, LoadedModel) {
    let mut train_triples = Vec::new();
    for (row, &u) in trained.iter().enumerate() {
        for &(item, value) in &users[u].train {
            train_triples.push(Triple {
                user: row as u32,
                item: item as u32,
                value,
            });
        }
    }
    let set = RatingSet {
        user_ids: trained.iter().map(|u| format!("u{u}")).collect(),
        item_ids: (0..ITEMS).map(|i| format!("i{i}")).collect(),
        train: train_triples,
        test: Vec::new(),
        meta: Meta {
            rating_range: Some((1.0, 5.0)),
            source: "fold-in test".into(),
            ..Meta::default()
        },
    };
    let path = dir.join("data.funk");
    ratingfile::write(
        &path,
        &set,
        &WriteOptions {
            grid: Some(2),
            seed: 11,
        },
    )
    .unwrap();
    let data = RatingFile::open(&path).unwrap();
    let mut config = TrainConfig::defaults_for(&data);
    config.rank = 16;
    config.threads = 2;
    train(&data, &config, &dir.join("run"), &Silent).unwrap();
    let loaded = load_model(&dir.join("run")).unwrap();
    (data, loaded)
}

/// Root mean square error of `predict` over the test ratings of `who`.
fn rmse(users: &[User], who: &[usize], mut predict: impl FnMut(usize, usize) -> f32) -> f64 {
    let (mut sse, mut count) = (0.0f64, 0usize);
    for &u in who {
        for &(item, value) in &users[u].test {
            let e = f64::from(predict(u, item).clamp(1.0, 5.0) - value);
            sse += e * e;
            count += 1;
        }
    }
    (sse / count as f64).sqrt()
}

/// The biased prediction of a folded-in user (row, bias) for internal item `i`.
fn predict_folded(model: &Model, row: &[f32], bias: f32, i: usize) -> f32 {
    let dot: f32 = row.iter().zip(model.item_row(i)).map(|(p, q)| p * q).sum();
    model.mu + bias + model.item_bias[i] + dot
}

#[test]
fn users_folded_into_a_funkd_model_predict_like_trained_users() {
    let users = ml100k_shaped(7);
    let held: Vec<usize> = (0..USERS).filter(|u| u % 10 == 3).collect();
    let trained: Vec<usize> = (0..USERS).filter(|u| u % 10 != 3).collect();
    let dir = tempfile::tempdir().unwrap();
    let (data, loaded) = train_funkd(dir.path(), &users, &trained);
    let model = &loaded.model;
    let (user_index, item_index) = (data.user_index(), data.item_index());
    let internal_item: Vec<usize> = (0..ITEMS)
        .map(|i| item_index.get(&format!("i{i}")).unwrap())
        .collect();

    let trained_rmse = rmse(&users, &trained, |u, i| {
        let internal_user = user_index.get(&format!("u{u}")).unwrap();
        model.predict(internal_user, internal_item[i])
    });

    let settings = &loaded.settings;
    let plain_fold = FoldIn::new(settings.kind, settings.reg, settings.reg_bias, model.mu).unwrap();
    let with_prior = plain_fold.with_row_prior(settings.reg_row).unwrap();
    let items =
        ItemFactors::new(&model.item_factors, model.k, model.rank, &model.item_bias).unwrap();
    let folded_rmse = |params: &FoldIn, first: usize| {
        rmse(&users, &held, |u, i| {
            let ratings: Vec<ItemRating> = users[u]
                .train
                .iter()
                .take(first)
                .map(|&(item, value)| ItemRating {
                    item: internal_item[item] as u32,
                    value,
                })
                .collect();
            let mut row = vec![0.0f32; model.k];
            let bias = fold_in::<16>(params, &items, &ratings, &mut row).unwrap();
            predict_folded(model, &row[..model.rank], bias, internal_item[i])
        })
    };
    let (folded, folded_no_prior) = (
        folded_rmse(&with_prior, usize::MAX),
        folded_rmse(&plain_fold, usize::MAX),
    );
    // A new user with a handful of ratings: the first 5 of each.
    let (few, few_no_prior) = (folded_rmse(&with_prior, 5), folded_rmse(&plain_fold, 5));
    eprintln!("from 5 ratings: {few:.4} with the row prior, {few_no_prior:.4} without");
    // There the per-rating λ alone barely holds the row back: the prior the
    // model was trained with is what keeps the fit from overshooting.
    assert!(
        few < few_no_prior,
        "from 5 ratings, the row prior did not help: {few:.4} vs {few_no_prior:.4}"
    );
    let baseline = rmse(&users, &held, |_, i| {
        predict_folded(model, &[], 0.0, internal_item[i])
    });
    eprintln!(
        "test RMSE: trained users {trained_rmse:.4}; folded-in users {folded:.4} \
         (λ₀ = {}), {folded_no_prior:.4} without the row prior; μ + b_i {baseline:.4}",
        settings.reg_row
    );
    assert!(
        folded <= 1.05 * trained_rmse,
        "folded-in users {folded:.4} vs trained users {trained_rmse:.4}"
    );
    assert!(
        folded <= 0.95 * baseline,
        "folded-in users {folded:.4} barely beat μ + b_i {baseline:.4}"
    );
}
