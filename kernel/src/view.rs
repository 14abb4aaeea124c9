//! Read-only and gradient views of a band, for evaluation and full-batch
//! gradient descent.

use crate::FactorRow;

/// A read-only view of one user band or item band.
///
/// `biases` has one entry per row for the biased model and is empty (or
/// ignored) for the plain one.
#[derive(Clone, Copy, Debug)]
pub struct BandView<'a, const K: usize> {
    /// Factor rows, indexed by the block-local index in [`Rating`](crate::Rating).
    pub factors: &'a [FactorRow<K>],
    /// Per-row biases (biased model), else empty.
    pub biases: &'a [f32],
}

impl<const K: usize> BandView<'_, K> {
    /// Number of rows in the band.
    pub fn len(&self) -> usize {
        self.factors.len()
    }
    /// Whether the band has no rows.
    pub fn is_empty(&self) -> bool {
        self.factors.is_empty()
    }
}

/// The gradient of J with respect to one band: one row (and one bias) per
/// parameter row, same shape as the band.
#[derive(Debug)]
pub struct BandGrad<'a, const K: usize> {
    /// ∂J/∂(factor row), one per row of the band.
    pub factors: &'a mut [FactorRow<K>],
    /// ∂J/∂(bias), one per row (biased model), else empty.
    pub biases: &'a mut [f32],
}

impl<'a, const K: usize> BandGrad<'a, K> {
    /// Sets every entry to zero (before accumulating a new full gradient).
    pub fn clear(&mut self) {
        self.factors.fill(FactorRow::zeroed());
        self.biases.fill(0.0);
    }

    /// The gradient as a read-only view (for [`gradient_step`](crate::gradient_step)
    /// and [`check_gradient`](crate::check_gradient)).
    pub fn as_view(&self) -> BandView<'_, K> {
        BandView {
            factors: self.factors,
            biases: self.biases,
        }
    }
}
