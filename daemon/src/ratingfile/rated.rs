//! What one user rated, looked up in the blocks of the user's band.

use super::{FormatError, RatingFile};

impl RatingFile {
    /// The user band that holds internal user `user`, if any.
    pub fn band_of_user(&self, user: usize) -> Option<usize> {
        (0..self.grid()).find(|&b| self.user_band(b).contains(&user))
    }

    /// Checks every block of the band of internal user `user` (see
    /// [`RatingFile::check_block`]): the one-time cost, per process, of
    /// the first lookup in that band.
    pub fn check_band_of_user(&self, user: usize) -> Result<(), FormatError> {
        match self.band_of_user(user) {
            Some(ub) => (0..self.grid()).try_for_each(|ib| self.check_block(ub, ib)),
            None => Ok(()),
        }
    }

    /// Internal ids of the items internal user `user` rated, in either
    /// split, ascending, each once (empty for an id outside the file).
    /// Each block's records are sorted by user, so the user's ratings in a
    /// block are found by one binary search; the blocks are checked first
    /// ([`RatingFile::check_block`]: once per process, an atomic load
    /// after that), so a damaged band is refused, never read.
    pub fn items_rated_by(&self, user: usize) -> Result<Vec<u32>, FormatError> {
        let Some(ub) = self.band_of_user(user) else {
            return Ok(Vec::new());
        };
        let local = (user - self.user_band(ub).start) as u32;
        let mut items = Vec::new();
        for ib in 0..self.grid() {
            let start = self.item_band(ib).start as u32;
            let blocks = [
                self.checked_train_records(ub, ib)?,
                self.checked_test_records(ub, ib)?,
            ];
            for block in blocks {
                let from = block.partition_point(|r| r.user < local);
                let own = block[from..].iter().take_while(|r| r.user == local);
                items.extend(own.map(|r| start + r.item));
            }
        }
        items.sort_unstable();
        items.dedup();
        Ok(items)
    }

    /// The items internal user `user` rated (both splits), as a mask over
    /// all items ([`RatingFile::items_rated_by`]): a damaged band is
    /// refused.
    pub fn rated_mask(&self, user: usize) -> Result<Vec<bool>, FormatError> {
        let mut rated = vec![false; self.items()];
        for item in self.items_rated_by(user)? {
            if let Some(slot) = rated.get_mut(item as usize) {
                *slot = true;
            }
        }
        Ok(rated)
    }
}
