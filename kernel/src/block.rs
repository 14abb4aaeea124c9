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

/// How blocks are trained: the instruction set, the hyper-parameters, the
/// epoch (which drives the learning-rate schedule) and the global mean μ
/// (ignored by the plain model). One value serves every block of an epoch;
/// [`BlockTrainer::train`] runs one pass over one block.
///
/// A pass makes one SGD step per rating, in a fixed order that depends on
/// the ISA and the row length only (the block's ratings are split into a
/// few contiguous runs visited round-robin, so that consecutive updates
/// touch different rows and overlap in the CPU; see
/// [`advanced::block_visit_order`](crate::advanced::block_visit_order)).
/// Every backend computes exactly the result of that order taken one
/// rating at a time, so results are the same for any number of threads
/// that train disjoint blocks.
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
/// let params = HyperParams::new(ModelKind::Plain, 0.05, 0.0, 0.0, LearningRate::Constant).unwrap();
/// let mut users = [FactorRow::<16>::splat(0.1); 2];
/// let mut items = [FactorRow::<16>::splat(0.1); 2];
/// let ratings = [
///     Rating { user: 0, item: 0, value: 1.0 },
///     Rating { user: 1, item: 1, value: 0.5 },
/// ];
/// let trainer = BlockTrainer::new(Isa::detect(), params);
/// let mut last = f64::INFINITY;
/// for epoch in 0..50 {
///     let band = |f| Band { factors: f, biases: &mut [], grad_sq: &mut [] };
///     let stats = trainer.at_epoch(epoch).train(band(&mut users), band(&mut items), &ratings).unwrap();
///     assert!(stats.sse <= last);
///     last = stats.sse;
/// }
/// assert!(last < 0.01);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockTrainer {
    /// The instruction set whose compiled loop runs the pass.
    pub isa: Isa,
    /// Model, learning rate, regularisation and schedule.
    pub params: HyperParams,
    /// The epoch (0-based) the schedule is evaluated at.
    pub epoch: u32,
    /// The global mean μ of the biased model's prediction.
    pub mu: f32,
}

impl BlockTrainer {
    /// A trainer at epoch 0 with μ = 0.
    pub const fn new(isa: Isa, params: HyperParams) -> Self {
        Self {
            isa,
            params,
            epoch: 0,
            mu: 0.0,
        }
    }

    /// The same trainer at another epoch.
    #[must_use]
    pub const fn at_epoch(self, epoch: u32) -> Self {
        Self { epoch, ..self }
    }

    /// The same trainer with another global mean μ.
    #[must_use]
    pub const fn with_mean(self, mu: f32) -> Self {
        Self { mu, ..self }
    }

    /// One pass of SGD over `block` against the user band and item band
    /// handed in; `block` is a slice of ratings (checked here) or
    /// [`BlockRatings`] (checked before, and/or less a skip list).
    ///
    /// Every index and every side slice is validated once, before any
    /// update: an error leaves the bands untouched. Then the ISA is
    /// dispatched once and the whole block runs in that ISA's compiled
    /// loop. `count` in the result is the number of ratings trained on.
    ///
    /// # Examples
    ///
    /// ```
    /// use funk_kernel::*;
    /// let params = HyperParams::new(ModelKind::Plain, 0.1, 0.0, 0.0, LearningRate::Constant).unwrap();
    /// let mut p = [FactorRow::<16>::splat(0.5)];
    /// let mut q = [FactorRow::<16>::splat(0.5)];
    /// let ratings = [Rating { user: 0, item: 0, value: 2.0 }];
    /// fn band(f: &mut [FactorRow<16>]) -> Band<'_, 16> {
    ///     Band { factors: f, biases: &mut [], grad_sq: &mut [] }
    /// }
    /// let trainer = BlockTrainer::new(Isa::detect(), params);
    /// let stats = trainer.train(band(&mut p), band(&mut q), &ratings).unwrap();
    /// assert_eq!(stats.count, 1);
    /// assert_eq!(stats.sse, 4.0); // p·q = 16 × 0.25 = 4, so e = −2
    /// assert!(p[0].0[0] < 0.5); // moved towards a smaller product
    ///
    /// // An index outside the bands is refused, and nothing is touched.
    /// let bad = [Rating { user: 1, item: 0, value: 2.0 }];
    /// let before = p;
    /// assert!(trainer.train(band(&mut p), band(&mut q), &bad).is_err());
    /// assert_eq!(p, before);
    /// ```
    pub fn train<'r, const K: usize>(
        &self,
        users: Band<'_, K>,
        items: Band<'_, K>,
        block: impl Into<BlockRatings<'r>>,
    ) -> Result<BlockStats, KernelError> {
        let block: BlockRatings<'r> = block.into();
        let checked = match block.checked {
            Some(checked) => checked,
            None => CheckedRatings::new(block.ratings, users.factors.len(), items.factors.len())?,
        };
        let job = SgdJob::new(
            &self.params,
            self.epoch,
            self.mu,
            users,
            items,
            checked,
            block.skip,
        )?;
        let sse = crate::arch::dispatch(self.isa, job);
        Ok(BlockStats {
            sse,
            count: (block.ratings.len() - block.skip.len()) as u64,
        })
    }
}

/// The ratings of one block as [`BlockTrainer::train`] takes them: a slice
/// to check against the bands, or [`CheckedRatings`] checked before (for a
/// caller who trains the same block every epoch), either of them less a
/// skip list.
///
/// A skip list names positions in the block to leave out (a held-out
/// validation slice, say), strictly increasing, without copying the block.
/// The others are trained exactly as the whole block would visit them, so
/// the interleaving that makes the loop fast is kept however the left-out
/// ratings fall. An unsorted, repeated or out-of-range entry is a
/// [`KernelError::InvalidSkip`], found before any update.
///
/// # Examples
///
/// ```
/// use funk_kernel::*;
/// let params = HyperParams::new(ModelKind::Plain, 0.1, 0.0, 0.0, LearningRate::Constant).unwrap();
/// let ratings = [Rating { user: 0, item: 0, value: 2.0 }, Rating { user: 0, item: 0, value: 4.0 }];
/// let checked = CheckedRatings::new(&ratings, 1, 1).unwrap(); // once
/// let trainer = BlockTrainer::new(Isa::detect(), params);
/// let mut p = [FactorRow::<16>::splat(0.5)];
/// let mut q = [FactorRow::<16>::splat(0.5)];
/// fn band(f: &mut [FactorRow<16>]) -> Band<'_, 16> {
///     Band { factors: f, biases: &mut [], grad_sq: &mut [] }
/// }
/// let block = BlockRatings::checked(checked).skipping(&[0]);
/// let stats = trainer.train(band(&mut p), band(&mut q), block).unwrap();
/// assert_eq!(stats.count, 1);
/// assert_eq!(stats.sse, 0.0); // only the second rating, which p·q = 4 fits
///
/// let unsorted = BlockRatings::new(&ratings).skipping(&[1, 0]);
/// assert!(matches!(
///     trainer.train(band(&mut p), band(&mut q), unsorted),
///     Err(KernelError::InvalidSkip { entry: 1, len: 2 })
/// ));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct BlockRatings<'r> {
    ratings: &'r [Rating],
    checked: Option<CheckedRatings<'r>>,
    skip: &'r [u32],
}

impl<'r> BlockRatings<'r> {
    /// The whole block, to be checked against the bands it is trained on.
    pub const fn new(ratings: &'r [Rating]) -> Self {
        Self {
            ratings,
            checked: None,
            skip: &[],
        }
    }

    /// The whole block, checked before: trained without the pass over the
    /// ratings that checks every index. The bands must have at least the
    /// rows the ratings were checked against
    /// ([`KernelError::BandSmallerThanChecked`] otherwise).
    pub const fn checked(ratings: CheckedRatings<'r>) -> Self {
        Self {
            ratings: ratings.ratings(),
            checked: Some(ratings),
            skip: &[],
        }
    }

    /// The same block less the positions in `skip` (strictly increasing).
    #[must_use]
    pub const fn skipping(self, skip: &'r [u32]) -> Self {
        Self { skip, ..self }
    }

    /// The block's ratings, the left-out ones included.
    pub const fn ratings(&self) -> &'r [Rating] {
        self.ratings
    }

    /// The positions left out.
    pub const fn skip(&self) -> &'r [u32] {
        self.skip
    }
}

impl<'r> From<&'r [Rating]> for BlockRatings<'r> {
    fn from(ratings: &'r [Rating]) -> Self {
        Self::new(ratings)
    }
}

impl<'r, const N: usize> From<&'r [Rating; N]> for BlockRatings<'r> {
    fn from(ratings: &'r [Rating; N]) -> Self {
        Self::new(ratings)
    }
}

impl<'r> From<CheckedRatings<'r>> for BlockRatings<'r> {
    fn from(ratings: CheckedRatings<'r>) -> Self {
        Self::checked(ratings)
    }
}
