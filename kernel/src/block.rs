//! The block trainer: one pass of SGD over the ratings of one block.

use crate::sgd::SgdJob;
use crate::{Band, CheckedRatings, HyperParams, Isa, KernelError, Rating};

/// The value every AdaGrad accumulator (`Band::grad_sq`) starts from, as in
/// LIBMF: the first step of a row is the base learning rate.
pub const ADAPTIVE_INITIAL_ACCUMULATOR: f32 = 1.0;

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

/// Trains one block: one SGD step per rating, in the fixed order of
/// [`block_visit_order`](crate::block_visit_order) (the block's
/// [`Isa::block_streams`](crate::Isa::block_streams) contiguous runs visited
/// round-robin, so that consecutive updates touch different rows and
/// overlap in the CPU), against the user band and item band handed in.
/// Every backend computes exactly that sequential order.
///
/// Every index and every side slice is validated once, before any update
/// (an error leaves the bands untouched); then the ISA is dispatched once
/// and the whole block runs in that ISA's compiled loop. `mu` is the global
/// mean (ignored by the plain model) and `epoch` drives the learning-rate
/// schedule.
///
/// Per rating, with e = r − r̂ from the old values:
///
/// - p_u += η_u (e q_i − λ p_u), q_i += η_i (e p_u − λ q_i);
/// - biased model: b_u += η_u (e − λ_b b_u), b_i += η_i (e − λ_b b_i);
/// - constant and decaying schedules: η_u = η_i = η(epoch);
/// - adaptive schedule (LIBMF's AdaGrad variant, Chin et al., PAKDD 2015):
///   η_u = η / √G_u with G_u the row's accumulator (start it at
///   [`ADAPTIVE_INITIAL_ACCUMULATOR`]), then G_u += ‖e q_i − λ p_u‖² / K
///   (and the mirror for the item row). Biases take their row's step.
///
/// # Examples
///
/// ```
/// use funk_kernel::*;
/// let params = HyperParams::new(ModelKind::Plain, 0.1, 0.0, 0.0, LearningRate::Constant).unwrap();
/// let mut p = [FactorRow::<16>::splat(0.5)];
/// let mut q = [FactorRow::<16>::splat(0.5)];
/// let ratings = [Rating { user: 0, item: 0, value: 2.0 }];
/// let band = |f| Band { factors: f, biases: &mut [], grad_sq: &mut [] };
/// let stats = train_block(Isa::detect(), &params, 0, 0.0, band(&mut p), band(&mut q), &ratings).unwrap();
/// assert_eq!(stats.count, 1);
/// assert_eq!(stats.sse, 4.0); // p·q = 16 × 0.25 = 4, so e = −2
/// assert!(p[0].0[0] < 0.5); // moved towards a smaller product
/// ```
pub fn train_block<const K: usize>(
    isa: Isa,
    params: &HyperParams,
    epoch: u32,
    mu: f32,
    users: Band<'_, K>,
    items: Band<'_, K>,
    ratings: &[Rating],
) -> Result<BlockStats, KernelError> {
    train_block_skipping(isa, params, epoch, mu, users, items, ratings, &[])
}

/// [`train_block`] on a block less some of its ratings (a held-out
/// validation slice, say), without copying the block: `skip` lists the
/// positions in `ratings` to leave out, strictly increasing. The others are
/// trained in [`block_visit_order_skipping`](crate::block_visit_order_skipping),
/// i.e. exactly as [`train_block`] would visit them, so the interleaving
/// that makes the loop fast is kept however the held-out ratings fall
/// (training the runs between them one call at a time would visit short
/// runs with little to overlap). `count` is the ratings trained on.
///
/// An unsorted, repeated or out-of-range skip entry is a
/// [`KernelError::InvalidSkip`], found before any update.
///
/// # Examples
///
/// ```
/// use funk_kernel::*;
/// let params = HyperParams::new(ModelKind::Plain, 0.1, 0.0, 0.0, LearningRate::Constant).unwrap();
/// let mut p = [FactorRow::<16>::splat(0.5)];
/// let mut q = [FactorRow::<16>::splat(0.5)];
/// let ratings = [Rating { user: 0, item: 0, value: 2.0 }, Rating { user: 0, item: 0, value: 4.0 }];
/// let band = |f| Band { factors: f, biases: &mut [], grad_sq: &mut [] };
/// let stats = train_block_skipping(Isa::detect(), &params, 0, 0.0, band(&mut p), band(&mut q), &ratings, &[0]).unwrap();
/// assert_eq!(stats.count, 1);
/// assert_eq!(stats.sse, 0.0); // only the second rating, which p·q = 4 fits
/// ```
#[allow(clippy::too_many_arguments)]
pub fn train_block_skipping<const K: usize>(
    isa: Isa,
    params: &HyperParams,
    epoch: u32,
    mu: f32,
    users: Band<'_, K>,
    items: Band<'_, K>,
    ratings: &[Rating],
    skip: &[u32],
) -> Result<BlockStats, KernelError> {
    let checked = CheckedRatings::new(ratings, users.factors.len(), items.factors.len())?;
    train_checked_block(isa, params, epoch, mu, users, items, checked, skip)
}

/// [`train_block_skipping`] on ratings checked before
/// ([`CheckedRatings`]), without the pass over them that checks every
/// index: for a caller who trains the same block every epoch. The bands
/// must have at least the rows the ratings were checked against
/// ([`KernelError::BandSmallerThanChecked`] otherwise); everything else is
/// as in [`train_block_skipping`], the visiting order and the result
/// included.
///
/// # Examples
///
/// ```
/// use funk_kernel::*;
/// let params = HyperParams::new(ModelKind::Plain, 0.1, 0.0, 0.0, LearningRate::Constant).unwrap();
/// let ratings = [Rating { user: 0, item: 0, value: 2.0 }];
/// let checked = CheckedRatings::new(&ratings, 1, 1).unwrap(); // once
/// let mut p = [FactorRow::<16>::splat(0.5)];
/// let mut q = [FactorRow::<16>::splat(0.5)];
/// for epoch in 0..3 {
///     let users = Band { factors: &mut p, biases: &mut [], grad_sq: &mut [] };
///     let items = Band { factors: &mut q, biases: &mut [], grad_sq: &mut [] };
///     train_checked_block(Isa::detect(), &params, epoch, 0.0, users, items, checked, &[]).unwrap();
/// }
/// assert!(p[0].0[0] < 0.5);
/// ```
#[allow(clippy::too_many_arguments)]
pub fn train_checked_block<const K: usize>(
    isa: Isa,
    params: &HyperParams,
    epoch: u32,
    mu: f32,
    users: Band<'_, K>,
    items: Band<'_, K>,
    ratings: CheckedRatings<'_>,
    skip: &[u32],
) -> Result<BlockStats, KernelError> {
    let job = SgdJob::new(params, epoch, mu, users, items, ratings, skip)?;
    let sse = isa.train(job);
    Ok(BlockStats {
        sse,
        count: (ratings.ratings().len() - skip.len()) as u64,
    })
}
