//! Fixed-size, cache-line aligned factor rows.

/// One factor row p_u or q_i: `K` f32 values aligned to 64 bytes (one
/// cache line, the width of an AVX-512 register), so every SIMD path can
/// use aligned loads.
///
/// `K` must be a positive multiple of 16 (one AVX-512 register of f32);
/// callers with another rank pad with zero dimensions, which SGD keeps at
/// zero. This is checked at compile time.
///
/// # Examples
///
/// ```
/// use funk_kernel::FactorRow;
/// let row = FactorRow::<32>::splat(0.5);
/// assert_eq!(row.0.len(), 32);
/// assert_eq!(core::mem::align_of::<FactorRow<32>>(), 64);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C, align(64))]
pub struct FactorRow<const K: usize>(pub [f32; K]);

impl<const K: usize> FactorRow<K> {
    /// Compile-time proof that `K` is a supported row length.
    pub const VALID: () = assert!(
        K >= 16 && K.is_multiple_of(16) && K <= 1024,
        "FactorRow<K> needs K to be a multiple of 16 between 16 and 1024"
    );

    /// A row with every value set to `value`.
    pub const fn splat(value: f32) -> Self {
        let () = Self::VALID;
        Self([value; K])
    }

    /// A row of zeros.
    pub const fn zeroed() -> Self {
        Self::splat(0.0)
    }

    /// The row's values.
    pub const fn as_array(&self) -> &[f32; K] {
        &self.0
    }
}

impl<const K: usize> Default for FactorRow<K> {
    fn default() -> Self {
        Self::zeroed()
    }
}

// SAFETY: `FactorRow<K>` is `repr(C)` over `[f32; K]`; with K a multiple
// of 16 its size (4·K bytes) is a multiple of its 64-byte alignment, so it
// has no padding, and every bit pattern is a valid f32.
unsafe impl<const K: usize> bytemuck::Zeroable for FactorRow<K> {}
// SAFETY: as above: no padding, no invalid bit patterns, `Copy`, 'static.
// `VALID` is evaluated in every constructor, and the size assertion below
// guards the no-padding claim for any K that slips past it.
unsafe impl<const K: usize> bytemuck::Pod for FactorRow<K> {}

const _: () = assert!(core::mem::size_of::<FactorRow<16>>() == 64);
const _: () = assert!(core::mem::size_of::<FactorRow<48>>() == 192);
