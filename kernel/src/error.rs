//! The kernel's one error type.

use core::fmt;

use crate::ParamRef;

/// Why the kernel refused a call. Nothing has been modified when it is
/// returned: every check happens before the first update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
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
    /// A gradient band does not have the shape of the band it belongs to.
    GradientShape,
    /// A clamp range with low > high or a NaN bound.
    InvalidClamp,
    /// A parameter reference outside the bands (or a bias of a band
    /// without biases).
    ParamOutOfRange(ParamRef),
    /// A skip list entry that is not above the one before it, or that lies
    /// outside the block.
    InvalidSkip {
        /// Position of the entry in the skip list.
        entry: usize,
        /// Ratings in the block.
        len: usize,
    },
    /// A band has fewer rows than the [`CheckedRatings`](crate::CheckedRatings)
    /// were checked against.
    BandSmallerThanChecked {
        /// Rows in the user band handed in.
        users: usize,
        /// Rows in the item band handed in.
        items: usize,
        /// User rows the ratings were checked against.
        checked_users: usize,
        /// Item rows the ratings were checked against.
        checked_items: usize,
    },
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
            Self::GradientShape => f.write_str("gradient band does not match its parameter band"),
            Self::InvalidClamp => {
                f.write_str("clamp range must have finite-or-infinite low <= high")
            }
            Self::ParamOutOfRange(p) => write!(f, "parameter {p:?} is outside the bands"),
            Self::InvalidSkip { entry, len } => write!(
                f,
                "skip list entry {entry} is not increasing or not inside the block of {len} ratings"
            ),
            Self::BandSmallerThanChecked {
                users,
                items,
                checked_users,
                checked_items,
            } => write!(
                f,
                "bands of {users} × {items} rows are smaller than the {checked_users} × \
                 {checked_items} the ratings were checked against"
            ),
        }
    }
}

impl core::error::Error for KernelError {}
