//! The once-per-block checks that make the unchecked inner loops sound.

use crate::{KernelError, Rating};

/// Checks that every rating indexes inside a user band of `users` rows and
/// an item band of `items` rows.
pub(crate) fn check_ratings(
    ratings: &[Rating],
    users: usize,
    items: usize,
) -> Result<(), KernelError> {
    // The common case, a valid block, in one branch-free pass (the largest
    // indices, in chunks the compiler can keep in registers); the slow scan
    // below only runs to name the first offender.
    let (max_user, max_item) = ratings
        .iter()
        .fold((0u32, 0u32), |(mu, mi), r| (mu.max(r.user), mi.max(r.item)));
    if ratings.is_empty() || ((max_user as usize) < users && (max_item as usize) < items) {
        return Ok(());
    }
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

/// Checks that a per-row side slice (biases, accumulators) is either
/// required and one per row, or optional and empty or one per row.
pub(crate) fn check_side(len: usize, rows: usize, required: bool) -> Result<(), KernelError> {
    let ok = len == rows || (!required && len == 0);
    if ok {
        Ok(())
    } else {
        Err(KernelError::BandShape)
    }
}

/// Checks that a skip list is strictly increasing and inside a block of
/// `len` ratings.
pub(crate) fn check_skip(skip: &[u32], len: usize) -> Result<(), KernelError> {
    let mut floor = 0usize;
    for (entry, &h) in skip.iter().enumerate() {
        let h = h as usize;
        if h < floor || h >= len {
            return Err(KernelError::InvalidSkip { entry, len });
        }
        floor = h + 1;
    }
    Ok(())
}
