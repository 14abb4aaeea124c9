//! The block trainer: one pass of SGD over the ratings of one block.

use core::fmt;

use crate::{Band, HyperParams, Isa, LearningRate, ModelKind, Rating};

/// What one pass over a block saw.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BlockStats {
    /// Σ e² of the errors *before* each update, in f64.
    pub sse: f64,
    /// Number of ratings processed.
    pub count: u64,
}

impl BlockStats {
    /// Adds another block's statistics (in a fixed order, for determinism).
    pub fn merge(&mut self, other: BlockStats) {
        self.sse += other.sse;
        self.count += other.count;
    }
}

/// Why a block could not be trained. The block is left untouched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelError {
    /// A rating's user index is outside the user band.
    UserOutOfRange {
        /// Position of the rating in the block.
        rating: usize,
        /// The offending index.
        user: u32,
        /// Rows in the user band.
        band: usize,
    },
    /// A rating's item index is outside the item band.
    ItemOutOfRange {
        /// Position of the rating in the block.
        rating: usize,
        /// The offending index.
        item: u32,
        /// Rows in the item band.
        band: usize,
    },
    /// A band's `biases` or `grad_sq` slice has the wrong length for the
    /// model and schedule.
    BandShape,
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::UserOutOfRange { rating, user, band } => write!(
                f,
                "rating {rating}: user index {user} outside a user band of {band} rows"
            ),
            Self::ItemOutOfRange { rating, item, band } => write!(
                f,
                "rating {rating}: item index {item} outside an item band of {band} rows"
            ),
            Self::BandShape => f.write_str("band biases/accumulators do not match its rows"),
        }
    }
}

impl core::error::Error for KernelError {}

fn check_band<const K: usize>(band: &Band<'_, K>, params: &HyperParams) -> Result<(), KernelError> {
    let n = band.factors.len();
    let biases_ok = match params.model() {
        ModelKind::Biased => band.biases.len() == n,
        ModelKind::Plain => band.biases.is_empty() || band.biases.len() == n,
    };
    let acc_ok = match params.schedule() {
        LearningRate::Adaptive => band.grad_sq.len() == n,
        _ => band.grad_sq.is_empty() || band.grad_sq.len() == n,
    };
    if biases_ok && acc_ok {
        Ok(())
    } else {
        Err(KernelError::BandShape)
    }
}

fn check_ratings(ratings: &[Rating], users: usize, items: usize) -> Result<(), KernelError> {
    for (i, r) in ratings.iter().enumerate() {
        if r.user as usize >= users {
            return Err(KernelError::UserOutOfRange {
                rating: i,
                user: r.user,
                band: users,
            });
        }
        if r.item as usize >= items {
            return Err(KernelError::ItemOutOfRange {
                rating: i,
                item: r.item,
                band: items,
            });
        }
    }
    Ok(())
}

/// Trains one block: one SGD step per rating, in the given order, against
/// the user band and item band handed in. Every index is validated once,
/// before any update; `mu` is the global mean (ignored by the plain model)
/// and `epoch` drives the learning-rate schedule.
pub fn train_block<const K: usize>(
    isa: Isa,
    params: &HyperParams,
    epoch: u32,
    mu: f32,
    users: Band<'_, K>,
    items: Band<'_, K>,
    ratings: &[Rating],
) -> Result<BlockStats, KernelError> {
    check_band(&users, params)?;
    check_band(&items, params)?;
    check_ratings(ratings, users.len(), items.len())?;
    let eta = params.step_size(epoch);
    let lambda = params.reg_factors();
    let lambda_b = params.reg_bias();
    let biased = params.model() == ModelKind::Biased;
    let mut sse = 0.0f64;
    for r in ratings {
        let (u, i) = (r.user as usize, r.item as usize);
        let p = &mut users.factors[u];
        let q = &mut items.factors[i];
        let mut pred = isa.dot(p, q);
        if biased {
            pred += mu + users.biases[u] + items.biases[i];
        }
        let err = r.value - pred;
        sse += f64::from(err) * f64::from(err);
        if biased {
            let bu = users.biases[u];
            let bi = items.biases[i];
            users.biases[u] = bu + eta * (err - lambda_b * bu);
            items.biases[i] = bi + eta * (err - lambda_b * bi);
        }
        isa.update(p, q, err, eta, eta, lambda);
    }
    Ok(BlockStats {
        sse,
        count: ratings.len() as u64,
    })
}
