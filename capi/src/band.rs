//! A C band (pointers and a row count) checked into the kernel's view of
//! it: `rows * K` floats as `rows` aligned factor rows, and the optional
//! per-row arrays.

use funk_kernel::{Band, BandView, FactorRow};

use crate::buffers::{Raw, Span};
use crate::{FunkBand, FunkBandView, FunkStatus};

/// The checked buffers of one band.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawBand<const K: usize> {
    factors: Raw<FactorRow<K>>,
    biases: Raw<f32>,
    grad_sq: Raw<f32>,
}

impl<const K: usize> RawBand<K> {
    /// A band the trainer writes.
    pub(crate) fn from_band(band: &FunkBand) -> Result<Self, FunkStatus> {
        Ok(Self {
            factors: factor_rows(band.factors, band.rows)?,
            biases: Raw::optional(band.biases, band.rows)?,
            grad_sq: Raw::optional(band.grad_sq, band.rows)?,
        })
    }

    /// A band that is only read.
    pub(crate) fn from_view(band: &FunkBandView) -> Result<Self, FunkStatus> {
        Ok(Self {
            factors: factor_rows(band.factors, band.rows)?,
            biases: Raw::optional(band.biases, band.rows)?,
            grad_sq: Raw::optional(core::ptr::null(), 0)?,
        })
    }

    /// The bytes of its three buffers.
    pub(crate) fn spans(&self) -> [Span; 3] {
        [self.factors.span(), self.biases.span(), self.grad_sq.span()]
    }

    /// The band, lent to the kernel.
    ///
    /// # Safety
    ///
    /// The buffers must be initialised, and used by nothing else during
    /// `'a` (no overlap with any other buffer in use, no other thread).
    pub(crate) unsafe fn as_band<'a>(self) -> Band<'a, K> {
        // SAFETY: forwarded from the caller.
        unsafe {
            Band {
                factors: self.factors.as_mut_slice(),
                biases: self.biases.as_mut_slice(),
                grad_sq: self.grad_sq.as_mut_slice(),
            }
        }
    }

    /// The band, read-only.
    ///
    /// # Safety
    ///
    /// The buffers must be initialised and not written by anyone during
    /// `'a`.
    pub(crate) unsafe fn as_view<'a>(self) -> BandView<'a, K> {
        // SAFETY: forwarded from the caller.
        unsafe {
            BandView {
                factors: self.factors.as_slice(),
                biases: self.biases.as_slice(),
            }
        }
    }
}

/// `rows * K` floats at `ptr` as `rows` factor rows: the product must fit,
/// and the pointer must have the rows' 64-byte alignment.
fn factor_rows<const K: usize>(
    ptr: *const f32,
    rows: usize,
) -> Result<Raw<FactorRow<K>>, FunkStatus> {
    let floats = rows.checked_mul(K).ok_or(FunkStatus::TooLarge)?;
    Raw::required(ptr, floats)?.cast(rows)
}
