//! The rows of one band (a contiguous range of users or items) that a
//! block's ratings index into.

use crate::FactorRow;

/// The mutable state of one user band or item band, lent to
/// [`BlockTrainer::train`](crate::BlockTrainer::train) for the duration of one block.
///
/// `biases` has one entry per row for [`ModelKind::Biased`](crate::ModelKind)
/// (it may be empty for the plain model); `grad_sq` has one AdaGrad
/// accumulator per row for [`LearningRate::Adaptive`](crate::LearningRate)
/// (it may be empty otherwise), each starting at
/// [`ADAPTIVE_INITIAL_ACCUMULATOR`](crate::ADAPTIVE_INITIAL_ACCUMULATOR) and
/// saved with the factors (a checkpoint that drops them changes the steps).
#[derive(Debug)]
pub struct Band<'a, const K: usize> {
    /// Factor rows, indexed by the block-local index in [`Rating`](crate::Rating).
    pub factors: &'a mut [FactorRow<K>],
    /// Per-row biases (biased model), else empty.
    pub biases: &'a mut [f32],
    /// Per-row AdaGrad accumulators (adaptive schedule), else empty.
    pub grad_sq: &'a mut [f32],
}

impl<const K: usize> Band<'_, K> {
    /// Number of rows in the band.
    pub fn len(&self) -> usize {
        self.factors.len()
    }
    /// Whether the band has no rows.
    pub fn is_empty(&self) -> bool {
        self.factors.is_empty()
    }
}

impl<'a, const K: usize> Band<'a, K> {
    /// The band as a read-only view (factors and biases).
    pub fn as_view(&self) -> crate::BandView<'_, K> {
        crate::BandView {
            factors: self.factors,
            biases: self.biases,
        }
    }
}
