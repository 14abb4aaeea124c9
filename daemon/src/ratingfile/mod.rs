//! The binary rating file: what `funkd gen` and `funkd import` write and
//! everything else memory-maps.
//!
//! One file holds a data set ready for cache-blocked training: a
//! checksummed header, a block table, the rating records grouped by block
//! (user band × item band of a P × P grid, each block's records sorted by
//! user then item), the external ↔ internal id maps, the train/test split
//! and checksums of every section. The records are
//! [`funk_kernel::Rating`]s (12 bytes, band-local indices) that
//! [`RatingFile::train_block`] hands out as `&[Rating]` straight from the
//! map: opening a file reads the header, the block table and the id-table
//! bounds, and never parses or copies the records.
//!
//! The layout (all little-endian, every section 64-byte aligned):
//!
//! ```text
//! header        512 bytes: magic "FUNKRATE", version, endianness word,
//!               counts, grid, μ, rating range, noise floor, mean-predictor
//!               RMSE, a table of sections (offset, length, xxh3), the
//!               file length and an xxh3 of the header itself
//! block table   P² entries: train and test record ranges + their xxh3s
//! records       all train records block by block, then all test records
//! user ids      (users + 1) u64 offsets, UTF-8 bytes, users u32 internal
//!               ids sorted by external id (for lookup by binary search)
//! item ids      the same for items
//! source        UTF-8 text: where the data came from
//! ```
//!
//! Internal ids are a seeded random permutation of the external ones, so
//! every block holds about the same number of ratings.

mod blocking;
mod error;
mod extend;
mod foreign;
pub(crate) mod ids;
mod layout;
mod rated;
mod reader;
mod set;
mod validate;
mod verify;
mod writer;

pub use error::FormatError;
pub use extend::{extend, ExtendSummary, ExtraRating};
pub(crate) use foreign::shell_word;
pub use ids::IdIndex;
pub use layout::{
    band_range, default_grid, BlockEntry, SectionRef, FORMAT_VERSION, MAGIC, MAX_GRID,
};
pub use reader::{BlockBalance, RatingFile};
pub use set::{Meta, RatingSet, Triple};
pub use verify::VerifyReport;
pub use writer::{encode, write, WriteOptions, WriteSummary};
