//! The plain-old-data types of the C interface: records, bands,
//! parameters, results, and the codes of the enumerations.
//!
//! Enumerations travel as `uint32_t` fields and are checked on entry (a C
//! caller can put any value in an enum-typed field, which would be
//! undefined behaviour for a Rust enum).

use funk_kernel::{ItemRating, Rating};

/// Byte alignment every factor buffer must have: rows are 64-byte aligned
/// so that every SIMD path loads them whole (one cache line, one AVX-512
/// register). Allocate with `aligned_alloc(FUNK_ROW_ALIGN, bytes)` (bytes a
/// multiple of 64, as `rows * k * sizeof(float)` always is) or declare with
/// `_Alignas(FUNK_ROW_ALIGN)`.
pub const FUNK_ROW_ALIGN: usize = 64;

/// Which model is fitted (the `model` field of the parameter structs).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunkModelKind {
    /// r ≈ p_u·q_i: no mean, no biases (bias pointers may be NULL).
    Plain = 0,
    /// r ≈ μ + b_u + b_i + p_u·q_i: biases required in every band.
    Biased = 1,
}

/// How the step size evolves (the `schedule` field of
/// `FunkTrainParams`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunkSchedule {
    /// η every epoch.
    Constant = 0,
    /// η / (1 + decay · epoch).
    Decay = 1,
    /// AdaGrad-style per-row steps η / √G (as LIBMF): every band needs
    /// `grad_sq`, one accumulator per row, each starting at 1.0
    /// (`FUNK_ADAPTIVE_INITIAL_ACCUMULATOR`) and kept between epochs.
    Adaptive = 2,
}

/// The value each `grad_sq` accumulator starts from for the adaptive
/// schedule.
pub const FUNK_ADAPTIVE_INITIAL_ACCUMULATOR: f32 = 1.0;

const _: () =
    assert!(FUNK_ADAPTIVE_INITIAL_ACCUMULATOR == funk_kernel::ADAPTIVE_INITIAL_ACCUMULATOR);

/// Which instruction set runs the loop (the `isa` field).
///
/// Results are deterministic for one instruction set; different ones agree
/// to rounding (SIMD sums in several accumulators), and at some `k` AVX-512
/// visits a block's ratings in another order, so SGD results differ by
/// more than rounding across instruction sets.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunkIsa {
    /// The best this CPU offers (AVX-512, else AVX2+FMA on x86-64; NEON on
    /// aarch64; the scalar loop elsewhere).
    Auto = 0,
    /// The portable scalar reference.
    Scalar = 1,
    /// x86-64 AVX2 with FMA.
    Avx2 = 2,
    /// x86-64 AVX-512F.
    Avx512 = 3,
    /// aarch64 Advanced SIMD.
    Neon = 4,
}

/// One observed rating, with the user and item as row indices into the
/// user band and item band of its block (12 bytes, the layout funk's rating
/// files use).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct FunkRating {
    /// Row of the user in the user band.
    pub user: u32,
    /// Row of the item in the item band.
    pub item: u32,
    /// The observed value.
    pub value: f32,
}

/// One rating of a user being folded in (8 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct FunkItemRating {
    /// Row of the item in the item band.
    pub item: u32,
    /// The rating.
    pub value: f32,
}

// The C records are viewed as the kernel's in place: same size, same
// alignment, fields in the same order (`bytemuck::cast_slice` checks size
// and alignment at run time as well).
const _: () = assert!(size_of::<FunkRating>() == size_of::<Rating>());
const _: () = assert!(align_of::<FunkRating>() == align_of::<Rating>());
const _: () = assert!(size_of::<FunkItemRating>() == size_of::<ItemRating>());
const _: () = assert!(align_of::<FunkItemRating>() == align_of::<ItemRating>());

/// A band the trainer updates: `rows` factor rows of `k` floats each
/// (row-major, `rows * k` floats, `FUNK_ROW_ALIGN`-byte aligned), plus
/// optional per-row arrays of `rows` floats (4-byte aligned).
///
/// - `factors`: may be NULL only when `rows` is 0.
/// - `biases`: required for `FUNK_MODEL_KIND_BIASED`, else NULL (ignored
///   if given).
/// - `grad_sq`: required for `FUNK_SCHEDULE_ADAPTIVE`, else NULL (ignored
///   if given).
///
/// The buffers must stay valid, and must not be read or written by anyone
/// else, for the duration of the call; no buffer of a call may overlap
/// another one of the same call (checked: `FUNK_STATUS_OVERLAP`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FunkBand {
    /// `rows * k` floats, 64-byte aligned.
    pub factors: *mut f32,
    /// `rows` floats, or NULL.
    pub biases: *mut f32,
    /// `rows` floats, or NULL.
    pub grad_sq: *mut f32,
    /// Number of rows.
    pub rows: usize,
}

/// A band read by evaluation, prediction and fold-in: `rows` factor rows
/// of `k` floats (`rows * k` floats, `FUNK_ROW_ALIGN`-byte aligned) and,
/// for the biased model, `rows` biases (else NULL). The buffers must stay
/// valid and unmodified for the duration of the call.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FunkBandView {
    /// `rows * k` floats, 64-byte aligned (NULL only when `rows` is 0).
    pub factors: *const f32,
    /// `rows` floats, or NULL.
    pub biases: *const f32,
    /// Number of rows.
    pub rows: usize,
}

/// Hyper-parameters of one pass of SGD over a block.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FunkTrainParams {
    /// Floats per factor row: one of 16, 32, 64, 128.
    pub k: u32,
    /// A `FunkModelKind`.
    pub model: u32,
    /// A `FunkSchedule`.
    pub schedule: u32,
    /// A `FunkIsa` (`FUNK_ISA_AUTO` for the best available).
    pub isa: u32,
    /// Base learning rate η, finite and > 0.
    pub learning_rate: f32,
    /// λ, regularisation of factor rows, finite and >= 0.
    pub reg_factors: f32,
    /// λ_b, regularisation of biases, finite and >= 0 (biased model).
    pub reg_bias: f32,
    /// Decay per epoch, finite and >= 0 (`FUNK_SCHEDULE_DECAY` only).
    pub decay: f32,
    /// Global mean μ (biased model; ignored by the plain one).
    pub mu: f32,
    /// 0-based epoch: drives the decaying schedule.
    pub epoch: u32,
}

/// What evaluation and prediction need to know about the model.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FunkEvalParams {
    /// Floats per factor row: one of 16, 32, 64, 128.
    pub k: u32,
    /// A `FunkModelKind`.
    pub model: u32,
    /// A `FunkIsa`.
    pub isa: u32,
    /// Global mean μ (biased model; ignored by the plain one).
    pub mu: f32,
    /// Predictions below this are raised to it (`-INFINITY`: no floor).
    pub clamp_low: f32,
    /// Predictions above this are lowered to it (`INFINITY`: no ceiling).
    pub clamp_high: f32,
}

/// Parameters of a fold-in: the model kind, the regularisation it was
/// trained with, and its mean.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FunkFoldInParams {
    /// Floats per item row (and per output row): one of 16, 32, 64, 128.
    pub k: u32,
    /// Factors actually used per row, <= k (the model's rank; the rest of
    /// the output row is set to zero).
    pub rank: u32,
    /// A `FunkModelKind`.
    pub model: u32,
    /// λ per rating, finite and >= 0.
    pub reg_factors: f32,
    /// λ_b per rating, finite and >= 0 (biased model).
    pub reg_bias: f32,
    /// λ₀, a prior on the row counted once whatever the number of ratings,
    /// finite and >= 0 (0 for the plain objective).
    pub reg_row: f32,
    /// Global mean μ, finite (biased model).
    pub mu: f32,
}

/// What one pass of SGD over a block saw.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FunkBlockStats {
    /// Σ e² of the errors before each update.
    pub sse: f64,
    /// Ratings trained on (the block less the skipped ones).
    pub count: u64,
}

/// Prediction errors of a block, summed in double precision.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FunkLossStats {
    /// Σ e².
    pub sse: f64,
    /// Σ |e|.
    pub sae: f64,
    /// Number of ratings.
    pub count: u64,
    /// √(sse / count); NaN when count is 0.
    pub rmse: f64,
    /// sae / count; NaN when count is 0.
    pub mae: f64,
}
