//! Why a scoring call refused its inputs.

use core::fmt;

/// Inputs of [`ItemPanels`](super::ItemPanels), [`top_n`](super::top_n) or
/// [`top_n_cosine`](super::top_n_cosine) that do not fit together. Nothing
/// is written when it is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScoreError {
    /// Item rows are stored `stride` values apart, which cannot hold
    /// `rank` factors.
    Stride {
        /// Values from one item row to the next.
        stride: usize,
        /// Factors used per row.
        rank: usize,
    },
    /// The item factor slice is not a whole number of rows.
    RaggedFactors {
        /// Values in the slice.
        len: usize,
        /// Values per row.
        stride: usize,
    },
    /// The panel slice does not have the length the items and rank need
    /// ([`ItemPanels::lanes_needed`](super::ItemPanels::lanes_needed)).
    PanelLength {
        /// Lanes given.
        len: usize,
        /// Lanes needed.
        needed: usize,
    },
    /// The row to score is not `rank` long.
    RowLength {
        /// Values in the row.
        len: usize,
        /// The items' rank.
        rank: usize,
    },
    /// Item biases must be none or one per item.
    ItemBiases {
        /// Biases given.
        len: usize,
        /// Items.
        items: usize,
    },
    /// Item norms must be one per item.
    Norms {
        /// Norms given.
        len: usize,
        /// Items.
        items: usize,
    },
}

impl fmt::Display for ScoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ScoreError::Stride { stride, rank } => write!(
                f,
                "item rows {stride} values apart cannot hold {rank} factors"
            ),
            ScoreError::RaggedFactors { len, stride } => write!(
                f,
                "{len} item factor values are not a whole number of rows of {stride}"
            ),
            ScoreError::PanelLength { len, needed } => write!(
                f,
                "{len} panel lanes given where the items and rank need {needed}"
            ),
            ScoreError::RowLength { len, rank } => {
                write!(
                    f,
                    "a row of {len} values scored against items of rank {rank}"
                )
            }
            ScoreError::ItemBiases { len, items } => {
                write!(
                    f,
                    "{len} item biases for {items} items (give none or one per item)"
                )
            }
            ScoreError::Norms { len, items } => {
                write!(f, "{len} item norms for {items} items (give one per item)")
            }
        }
    }
}

impl core::error::Error for ScoreError {}
