//! Ratings checked once against the sizes of their bands, so that a caller
//! who trains the same block many times (an epoch after another) pays for
//! the scan once.

use crate::validate::check_ratings;
use crate::{KernelError, Rating};

/// A block of ratings whose every user index is below `users` and every
/// item index below `items`: what the unchecked inner loops need.
///
/// Make one with [`CheckedRatings::new`] (one pass over the ratings), or,
/// where the ratings were checked before and cannot have changed since,
/// with [`CheckedRatings::new_unchecked`]; train it with
/// [`BlockTrainer::train`](crate::BlockTrainer::train) as [`BlockRatings::checked`](crate::BlockRatings::checked).
///
/// # Examples
///
/// ```
/// use funk_kernel::*;
/// let ratings = [Rating { user: 1, item: 0, value: 3.0 }];
/// assert!(CheckedRatings::new(&ratings, 2, 1).is_ok());
/// assert!(CheckedRatings::new(&ratings, 1, 1).is_err());
/// ```
#[derive(Clone, Copy, Debug)]
pub struct CheckedRatings<'r> {
    ratings: &'r [Rating],
    users: usize,
    items: usize,
}

impl<'r> CheckedRatings<'r> {
    /// Checks every rating against a user band of `users` rows and an item
    /// band of `items` rows.
    pub fn new(ratings: &'r [Rating], users: usize, items: usize) -> Result<Self, KernelError> {
        check_ratings(ratings, users, items)?;
        Ok(Self {
            ratings,
            users,
            items,
        })
    }

    /// The same without the pass over the ratings.
    ///
    /// # Safety
    ///
    /// Every rating's `user` must be below `users` and its `item` below
    /// `items` (the trainer indexes rows without bounds checks), e.g.
    /// because these very bytes passed [`CheckedRatings::new`] before and
    /// cannot have been modified since.
    pub const unsafe fn new_unchecked(ratings: &'r [Rating], users: usize, items: usize) -> Self {
        Self {
            ratings,
            users,
            items,
        }
    }

    /// The ratings.
    pub const fn ratings(&self) -> &'r [Rating] {
        self.ratings
    }

    /// The user band size the ratings were checked against.
    pub const fn users(&self) -> usize {
        self.users
    }

    /// The item band size the ratings were checked against.
    pub const fn items(&self) -> usize {
        self.items
    }

    /// Checks that bands of `users` and `items` rows are large enough for
    /// these ratings.
    pub(crate) fn fits(&self, users: usize, items: usize) -> Result<(), KernelError> {
        if users >= self.users && items >= self.items {
            Ok(())
        } else {
            Err(KernelError::BandSmallerThanChecked {
                users,
                items,
                checked_users: self.users,
                checked_items: self.items,
            })
        }
    }
}
