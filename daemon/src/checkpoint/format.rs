//! The checkpoint file format: one self-describing, checksummed snapshot
//! of everything that determines the rest of a training run.
//!
//! Layout, all little-endian:
//!
//! ```text
//! magic "FUNKCKPT" · version u32
//! settings  model kind, method, schedule, rank, K, users, items, grid,
//!           learning rates (base and current), λ, λ_b, seed,
//!           data-file identity, ISA, target epochs, early-stop patience
//! progress  epoch, stratum, back-offs, partial-epoch SSE and count,
//!           updates so far, per-epoch train and test RMSE history
//! params    μ, user and item biases, AdaGrad accumulators, factors
//! restore   flag u8, then (if 1) the parameters at the start of the epoch
//! best      (version 2) flag u8, then (if 1) the parameters of the epoch
//!           with the lowest validation RMSE so far
//! checksum  xxh3-64 of every byte before it
//! ```
//!
//! Version 2 adds, after the early-stop patience, the validation fraction
//! (f32) and the per-row prior λ₀ (f32); after the test history, the
//! validation RMSE history; and the `best` section. Version 1 files are
//! still read (no validation slice, no row prior, no best model).
//!
//! Version 3 adds, after λ₀, the hold-out rule (u8: 0 by original ids,
//! 1 by internal ids). Versions 1 and 2 held out by internal ids; they
//! are read as such (their models load and serve as before, but a run
//! with a validation slice cannot be resumed from them).
//!
//! Factor rows are stored with `k` values (the padded row length), in
//! internal-id order; the first `rank` are the model, the rest are zero.

/// The first eight bytes of every checkpoint.
pub const MAGIC: &[u8; 8] = b"FUNKCKPT";
/// The format version this build writes and reads.
pub const VERSION: u32 = 3;
/// The oldest format version this build still reads.
pub const OLDEST_VERSION: u32 = 1;
/// Bytes reserved for the ISA name.
pub(super) const ISA_NAME_BYTES: usize = 16;

pub use crate::runstate::{HoldOut, Method, Progress, Settings};

/// The numbers of a model plus the optimiser's per-row state.
#[derive(Clone, Debug, PartialEq)]
pub struct Parameters {
    /// Global mean (0 for the plain model).
    pub mu: f32,
    /// One bias per user.
    pub user_bias: Vec<f32>,
    /// One bias per item.
    pub item_bias: Vec<f32>,
    /// AdaGrad accumulators per user (empty unless the schedule is adaptive).
    pub user_grad_sq: Vec<f32>,
    /// AdaGrad accumulators per item (empty unless the schedule is adaptive).
    pub item_grad_sq: Vec<f32>,
    /// `users × k` factors, row-major.
    pub user_factors: Vec<f32>,
    /// `items × k` factors, row-major.
    pub item_factors: Vec<f32>,
}

/// A whole checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// What the run was started with.
    pub settings: Settings,
    /// Where it stands.
    pub progress: Progress,
    /// The parameters now.
    pub params: Parameters,
    /// The parameters at the start of the current epoch, kept in a
    /// mid-epoch checkpoint so that a divergence after resuming restores
    /// exactly what an uninterrupted run would.
    pub epoch_start: Option<Parameters>,
    /// The parameters after the epoch with the lowest validation RMSE so
    /// far (kept while it is not the current one), so that early stopping
    /// restores exactly what an uninterrupted run would.
    pub best: Option<Parameters>,
}

/// Parameters as lists of slices to be read one after the other (one
/// slice per band, or a single one for flat arrays): what writing and
/// hashing need, without first copying the bands into flat arrays.
#[derive(Clone, Debug)]
pub struct ParamParts<'a> {
    /// Global mean.
    pub mu: f32,
    /// User biases, in internal-id order.
    pub user_bias: Vec<&'a [f32]>,
    /// Item biases.
    pub item_bias: Vec<&'a [f32]>,
    /// User AdaGrad accumulators (no slices, or empty ones, unless adaptive).
    pub user_grad_sq: Vec<&'a [f32]>,
    /// Item AdaGrad accumulators.
    pub item_grad_sq: Vec<&'a [f32]>,
    /// User factors, rows of `k` values.
    pub user_factors: Vec<&'a [f32]>,
    /// Item factors.
    pub item_factors: Vec<&'a [f32]>,
}

impl Parameters {
    /// The parameters as single-slice parts.
    pub fn parts(&self) -> ParamParts<'_> {
        ParamParts {
            mu: self.mu,
            user_bias: vec![&self.user_bias],
            item_bias: vec![&self.item_bias],
            user_grad_sq: vec![&self.user_grad_sq],
            item_grad_sq: vec![&self.item_grad_sq],
            user_factors: vec![&self.user_factors],
            item_factors: vec![&self.item_factors],
        }
    }
}

/// A checkpoint about to be written, borrowing everything it holds.
#[derive(Clone, Debug)]
pub struct CheckpointView<'a> {
    /// What the run was started with.
    pub settings: &'a Settings,
    /// Where it stands.
    pub progress: &'a Progress,
    /// The parameters now.
    pub params: ParamParts<'a>,
    /// The parameters at the start of the epoch (mid-epoch checkpoints).
    pub epoch_start: Option<ParamParts<'a>>,
    /// The parameters of the best epoch so far, if not the current ones.
    pub best: Option<ParamParts<'a>>,
}

impl Checkpoint {
    /// A borrowed view of this checkpoint, for writing.
    pub fn view(&self) -> CheckpointView<'_> {
        CheckpointView {
            settings: &self.settings,
            progress: &self.progress,
            params: self.params.parts(),
            epoch_start: self.epoch_start.as_ref().map(Parameters::parts),
            best: self.best.as_ref().map(Parameters::parts),
        }
    }
}
