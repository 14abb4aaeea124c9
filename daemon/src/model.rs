//! A trained model as the commands that use one see it: plain f32 arrays
//! in internal-id order, independent of the compile-time row length.
//!
//! Training keeps its rows as aligned [`funk_kernel::FactorRow`]s; a
//! checkpoint stores them row-major with `k` values per row (the padded
//! length), of which the first `rank` are the model's factors and the rest
//! are zero.

use funk_kernel::ModelKind;

use crate::courtesy;

mod fallback;
mod topn;

pub use fallback::{predict_with_fallback, Prediction, Source};
pub use topn::{ItemTable, Scored};

/// A trained model: μ, biases and factor rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// Plain (p·q) or biased (μ + b_u + b_i + p·q).
    pub kind: ModelKind,
    /// The rank the user asked for.
    pub rank: usize,
    /// Values stored per row: `rank` padded up to a multiple of 16.
    pub k: usize,
    /// Global mean μ (0 for the plain model).
    pub mu: f32,
    /// `users × k` user factors, row-major, by internal user id.
    pub user_factors: Vec<f32>,
    /// `items × k` item factors, row-major, by internal item id.
    pub item_factors: Vec<f32>,
    /// One bias per user (all zero for the plain model).
    pub user_bias: Vec<f32>,
    /// One bias per item (all zero for the plain model).
    pub item_bias: Vec<f32>,
}

impl Model {
    /// Frees the model; on a background thread a piece of its memory at a
    /// time ([`courtesy::release`]).
    pub fn release(self) {
        courtesy::release(self.user_factors);
        courtesy::release(self.item_factors);
        courtesy::release(self.user_bias);
        courtesy::release(self.item_bias);
    }

    /// Number of users.
    pub fn users(&self) -> usize {
        self.user_bias.len()
    }
    /// Number of items.
    pub fn items(&self) -> usize {
        self.item_bias.len()
    }
    /// The `rank` factors of internal user `u`.
    pub fn user_row(&self, u: usize) -> &[f32] {
        &self.user_factors[u * self.k..u * self.k + self.rank]
    }
    /// The `rank` factors of internal item `i`.
    pub fn item_row(&self, i: usize) -> &[f32] {
        &self.item_factors[i * self.k..i * self.k + self.rank]
    }
    /// The part of user `u`'s predictions that does not depend on the
    /// item: μ + b_u (biased), 0 (plain).
    pub fn row_prior(&self, u: usize) -> f32 {
        funk_kernel::row_prior(self.kind, self.mu, self.user_bias[u])
    }
    /// Item biases as the scoring functions take them: one per item for
    /// the biased model, none for the plain one.
    pub fn item_biases(&self) -> &[f32] {
        match self.kind {
            ModelKind::Biased => &self.item_bias,
            ModelKind::Plain => &[],
        }
    }
    /// The model's prediction for internal ids (unclamped): the kernel's
    /// [`funk_kernel::score`], the same bits as the pair's score in a
    /// top-N list.
    pub fn predict(&self, u: usize, i: usize) -> f32 {
        let item_prior = funk_kernel::item_prior(self.kind, self.item_bias[i]);
        funk_kernel::score(
            self.row_prior(u),
            item_prior,
            self.user_row(u),
            self.item_row(i),
        )
    }
}
