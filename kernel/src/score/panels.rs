//! The item table in the layout a row is scored in fastest: panels of
//! sixteen items, stored dimension by dimension.

use super::ScoreError;
use crate::FactorRow;

/// Items per panel: one 64-byte lane of f32 (one AVX-512 register, two
/// AVX2 registers) holds one dimension of sixteen items.
pub const PANEL_ITEMS: usize = 16;

/// Item factors packed for scoring a row against every item: panel `p`
/// holds items 16p .. 16p + 16, one aligned lane per dimension (lane
/// `p · rank + d` holds dimension d of those sixteen items; the last
/// panel is padded with zero items). Scoring then needs no horizontal
/// sums: each dimension is one multiply and one add across sixteen items,
/// the products summed in dimension order exactly as [`dot`](super::dot).
/// Only the `rank` dimensions are stored, not the padding of a
/// [`FactorRow`].
#[derive(Clone, Copy, Debug)]
pub struct ItemPanels<'a> {
    lanes: &'a [FactorRow<PANEL_ITEMS>],
    items: usize,
    rank: usize,
}

impl<'a> ItemPanels<'a> {
    /// Lanes of sixteen values that `items` items of rank `rank` take.
    ///
    /// # Examples
    ///
    /// ```
    /// use funk_kernel::ItemPanels;
    /// assert_eq!(ItemPanels::lanes_needed(17_770, 32), 1111 * 32);
    /// ```
    pub const fn lanes_needed(items: usize, rank: usize) -> usize {
        items.div_ceil(PANEL_ITEMS) * rank
    }

    /// Packs item rows stored row-major `stride` values apart (the first
    /// `rank` of each are its factors) into `lanes`, which must be
    /// [`ItemPanels::lanes_needed`] long, and views them.
    ///
    /// # Errors
    ///
    /// When `stride` is below `rank` or 0, `factors` is not a whole number
    /// of rows, or `lanes` has the wrong length.
    ///
    /// # Examples
    ///
    /// ```
    /// use funk_kernel::{FactorRow, ItemPanels};
    /// // Two items of rank 2, rows padded to a stride of 3.
    /// let factors = [1.0, 2.0, 0.0, 3.0, 4.0, 0.0];
    /// let mut lanes = vec![FactorRow::<16>::zeroed(); ItemPanels::lanes_needed(2, 2)];
    /// let items = ItemPanels::pack(&factors, 3, 2, &mut lanes).unwrap();
    /// assert_eq!((items.items(), items.rank()), (2, 2));
    /// assert_eq!(lanes[0].0[..2], [1.0, 3.0]); // dimension 0 of items 0 and 1
    /// assert_eq!(lanes[1].0[..2], [2.0, 4.0]); // dimension 1
    /// ```
    pub fn pack(
        factors: &[f32],
        stride: usize,
        rank: usize,
        lanes: &'a mut [FactorRow<PANEL_ITEMS>],
    ) -> Result<ItemPanels<'a>, ScoreError> {
        if stride == 0 || stride < rank {
            return Err(ScoreError::Stride { stride, rank });
        }
        if !factors.len().is_multiple_of(stride) {
            return Err(ScoreError::RaggedFactors {
                len: factors.len(),
                stride,
            });
        }
        let items = factors.len() / stride;
        let needed = Self::lanes_needed(items, rank);
        if lanes.len() != needed {
            return Err(ScoreError::PanelLength {
                len: lanes.len(),
                needed,
            });
        }
        for lane in lanes.iter_mut() {
            *lane = FactorRow::zeroed();
        }
        for (item, row) in factors.chunks_exact(stride).enumerate() {
            let (panel, slot) = (item / PANEL_ITEMS, item % PANEL_ITEMS);
            let dims = &mut lanes[panel * rank..(panel + 1) * rank];
            for (lane, &value) in dims.iter_mut().zip(&row[..rank]) {
                lane.0[slot] = value;
            }
        }
        ItemPanels::new(lanes, items, rank)
    }

    /// Views lanes packed by [`ItemPanels::pack`] for `items` items of
    /// rank `rank`.
    ///
    /// # Errors
    ///
    /// [`ScoreError::PanelLength`] when `lanes` is not
    /// [`ItemPanels::lanes_needed`] long.
    pub fn new(
        lanes: &'a [FactorRow<PANEL_ITEMS>],
        items: usize,
        rank: usize,
    ) -> Result<ItemPanels<'a>, ScoreError> {
        let needed = Self::lanes_needed(items, rank);
        if lanes.len() != needed {
            return Err(ScoreError::PanelLength {
                len: lanes.len(),
                needed,
            });
        }
        Ok(ItemPanels { lanes, items, rank })
    }

    /// Number of items.
    pub const fn items(&self) -> usize {
        self.items
    }

    /// Factors per item.
    pub const fn rank(&self) -> usize {
        self.rank
    }

    /// The `rank` lanes of panel `panel` (items 16·panel onwards).
    #[inline(always)]
    pub(super) fn panel(&self, panel: usize) -> &'a [FactorRow<PANEL_ITEMS>] {
        &self.lanes[panel * self.rank..(panel + 1) * self.rank]
    }

    /// Number of panels.
    pub(super) const fn panels(&self) -> usize {
        self.items.div_ceil(PANEL_ITEMS)
    }

    /// `Ok` when `row` has `rank` values.
    pub(super) fn check_row(&self, row: &[f32]) -> Result<(), ScoreError> {
        if row.len() == self.rank {
            Ok(())
        } else {
            Err(ScoreError::RowLength {
                len: row.len(),
                rank: self.rank,
            })
        }
    }
}
