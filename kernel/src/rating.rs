//! The rating record, as the daemon memory-maps it.

/// One observed rating r_ui, with the user and item given as indices into
/// the user band and item band of the block it belongs to (never global
/// ids: the kernel holds none).
///
/// Plain old data: 12 bytes, `repr(C)`, little-endian on disk, every bit
/// pattern valid (an out-of-range index is caught when a block is
/// validated, a non-finite value when the file is imported).
///
/// # Examples
///
/// ```
/// use funk_kernel::Rating;
/// let r = Rating { user: 3, item: 7, value: 4.0 };
/// assert_eq!(core::mem::size_of::<Rating>(), 12);
/// assert_eq!(bytemuck::bytes_of(&r).len(), 12);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct Rating {
    /// Row of the user in the block's user band.
    pub user: u32,
    /// Row of the item in the block's item band.
    pub item: u32,
    /// The observed value.
    pub value: f32,
}
