//! The status every entry point returns, its message, and the mapping
//! from the kernel's typed errors.

use core::ffi::{c_char, CStr};

use funk_kernel::{FoldInError, KernelError, ParamError};

/// What a call did: `FUNK_STATUS_OK` (0), or why it refused. Except for
/// `FUNK_STATUS_PANIC`, a refusal leaves every caller buffer untouched:
/// all checks happen before the first write.
///
/// The values are stable; new ones are only ever appended.
/// `funk_status_message` describes each.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FunkStatus {
    /// Success.
    Ok = 0,
    /// A required pointer was NULL (or an optional one was NULL with a
    /// non-zero length).
    NullPointer = 1,
    /// A pointer is not aligned for its type: factor buffers need
    /// `FUNK_ROW_ALIGN` (64) bytes, float and rating arrays 4.
    Misaligned = 2,
    /// `rows * k` (or a length) does not fit in the address space.
    TooLarge = 3,
    /// A buffer the call writes overlaps another buffer of the call.
    Overlap = 4,
    /// `k` is not one of the supported row lengths (16, 32, 64, 128).
    UnsupportedK = 5,
    /// `model` is not a `FunkModelKind`.
    UnknownModel = 6,
    /// `schedule` is not a `FunkSchedule`.
    UnknownSchedule = 7,
    /// `isa` is not a `FunkIsa`.
    UnknownIsa = 8,
    /// The requested instruction set is not available on this CPU.
    IsaUnavailable = 9,
    /// The learning rate is not finite and > 0.
    LearningRate = 10,
    /// The factor regularisation is not finite and >= 0.
    RegFactors = 11,
    /// The bias regularisation is not finite and >= 0.
    RegBias = 12,
    /// The learning-rate decay is not finite and >= 0.
    Decay = 13,
    /// The global mean is not finite.
    Mean = 14,
    /// The per-row prior is not finite and >= 0.
    RegRow = 15,
    /// The fold-in rank is larger than `k`.
    Rank = 16,
    /// A rating's user index is not below the user band's rows.
    UserOutOfRange = 17,
    /// A rating's item index is not below the item band's rows.
    ItemOutOfRange = 18,
    /// Biases are NULL for the biased model, or accumulators are NULL for
    /// the adaptive schedule.
    BandShape = 19,
    /// The clamp range is NaN or has low > high.
    InvalidClamp = 20,
    /// The skip list is not strictly increasing inside the block.
    InvalidSkip = 21,
    /// A fold-in rating value is NaN or infinite.
    RatingNotFinite = 22,
    /// A rated item's factors or bias contain a NaN or infinity.
    ItemNotFinite = 23,
    /// The fold-in system is singular or too ill-conditioned (use a
    /// regularisation > 0).
    Singular = 24,
    /// The folded-in row has values outside the f32 range.
    SolutionOverflow = 25,
    /// The library panicked (a defect); buffers may be partly written.
    /// Only hosted (`std`) builds return it; bare-metal builds halt in
    /// the panic handler instead.
    Panic = 26,
    /// The kernel refused the call for a reason this version of the C API
    /// has no code for.
    Unknown = 27,
}

impl FunkStatus {
    /// Every status, in code order.
    pub(crate) const ALL: [FunkStatus; 28] = [
        Self::Ok,
        Self::NullPointer,
        Self::Misaligned,
        Self::TooLarge,
        Self::Overlap,
        Self::UnsupportedK,
        Self::UnknownModel,
        Self::UnknownSchedule,
        Self::UnknownIsa,
        Self::IsaUnavailable,
        Self::LearningRate,
        Self::RegFactors,
        Self::RegBias,
        Self::Decay,
        Self::Mean,
        Self::RegRow,
        Self::Rank,
        Self::UserOutOfRange,
        Self::ItemOutOfRange,
        Self::BandShape,
        Self::InvalidClamp,
        Self::InvalidSkip,
        Self::RatingNotFinite,
        Self::ItemNotFinite,
        Self::Singular,
        Self::SolutionOverflow,
        Self::Panic,
        Self::Unknown,
    ];

    /// The status with code `code`, if there is one.
    pub(crate) fn from_code(code: i32) -> Option<Self> {
        usize::try_from(code)
            .ok()
            .and_then(|i| Self::ALL.get(i))
            .copied()
    }

    /// A one-line description: what went wrong and what to do.
    pub const fn message(self) -> &'static CStr {
        match self {
            Self::Ok => c"success",
            Self::NullPointer => c"a required pointer is NULL (or an optional one is NULL with a non-zero length)",
            Self::Misaligned => c"a pointer is misaligned: factor buffers need 64-byte alignment (aligned_alloc(64, ...)), float and rating arrays 4",
            Self::TooLarge => c"a buffer length (rows * k) does not fit in the address space",
            Self::Overlap => c"a buffer the call writes overlaps another buffer of the same call",
            Self::UnsupportedK => c"k must be one of 16, 32, 64, 128 (pad a smaller rank with zero columns)",
            Self::UnknownModel => c"model must be FUNK_MODEL_KIND_PLAIN or FUNK_MODEL_KIND_BIASED",
            Self::UnknownSchedule => c"schedule must be FUNK_SCHEDULE_CONSTANT, FUNK_SCHEDULE_DECAY or FUNK_SCHEDULE_ADAPTIVE",
            Self::UnknownIsa => c"isa must be a FunkIsa value (FUNK_ISA_AUTO picks the best)",
            Self::IsaUnavailable => c"the requested instruction set is not available on this CPU; use FUNK_ISA_AUTO",
            Self::LearningRate => c"learning rate must be finite and > 0",
            Self::RegFactors => c"factor regularisation must be finite and >= 0",
            Self::RegBias => c"bias regularisation must be finite and >= 0",
            Self::Decay => c"learning-rate decay must be finite and >= 0",
            Self::Mean => c"global mean must be finite",
            Self::RegRow => c"per-row prior must be finite and >= 0",
            Self::Rank => c"fold-in rank must be <= k",
            Self::UserOutOfRange => c"a rating's user index is not below the user band's rows",
            Self::ItemOutOfRange => c"a rating's item index is not below the item band's rows",
            Self::BandShape => c"biases are required for the biased model and accumulators (grad_sq) for the adaptive schedule",
            Self::InvalidClamp => c"clamp range must have low <= high and no NaN (use -INFINITY, INFINITY for none)",
            Self::InvalidSkip => c"skip list must be strictly increasing and below the number of ratings",
            Self::RatingNotFinite => c"a fold-in rating value is NaN or infinite",
            Self::ItemNotFinite => c"a rated item's factors or bias contain a NaN or infinity",
            Self::Singular => c"fold-in system is singular or ill-conditioned (the rated items do not determine the row); use a regularisation > 0",
            Self::SolutionOverflow => c"the folded-in row has values outside the float range",
            Self::Panic => c"internal error: the library panicked (a defect; please report it); buffers may be partly written",
            Self::Unknown => c"the kernel refused the call for a reason this version of the C API does not name",
        }
    }
}

/// A static, NUL-terminated, one-line description of a status code
/// (a `FunkStatus`), for logs and error messages. Never NULL; an unknown
/// code gets "unknown status code". The string lives as long as the
/// program and must not be freed or written.
#[no_mangle]
pub extern "C" fn funk_status_message(status: i32) -> *const c_char {
    match FunkStatus::from_code(status) {
        Some(s) => s.message().as_ptr(),
        None => c"unknown status code".as_ptr(),
    }
}

impl From<KernelError> for FunkStatus {
    fn from(e: KernelError) -> Self {
        match e {
            KernelError::UserOutOfRange { .. } => Self::UserOutOfRange,
            KernelError::ItemOutOfRange { .. } => Self::ItemOutOfRange,
            KernelError::BandShape => Self::BandShape,
            KernelError::InvalidClamp => Self::InvalidClamp,
            KernelError::InvalidSkip { .. } => Self::InvalidSkip,
            _ => Self::Unknown,
        }
    }
}

impl From<ParamError> for FunkStatus {
    fn from(e: ParamError) -> Self {
        match e {
            ParamError::LearningRate(_) => Self::LearningRate,
            ParamError::RegFactors(_) => Self::RegFactors,
            ParamError::RegBias(_) => Self::RegBias,
            ParamError::Decay(_) => Self::Decay,
        }
    }
}

impl From<FoldInError> for FunkStatus {
    fn from(e: FoldInError) -> Self {
        match e {
            FoldInError::RegFactors(_) => Self::RegFactors,
            FoldInError::RegBias(_) => Self::RegBias,
            FoldInError::Mean(_) => Self::Mean,
            FoldInError::RegRow(_) => Self::RegRow,
            FoldInError::Stride { .. } | FoldInError::RankAboveCapacity { .. } => Self::Rank,
            FoldInError::ItemBiases { .. } => Self::BandShape,
            FoldInError::ItemOutOfRange { .. } => Self::ItemOutOfRange,
            FoldInError::RatingNotFinite { .. } => Self::RatingNotFinite,
            FoldInError::ItemNotFinite { .. } => Self::ItemNotFinite,
            FoldInError::Singular => Self::Singular,
            FoldInError::SolutionOverflow => Self::SolutionOverflow,
            _ => Self::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_positions_in_all() {
        for (i, s) in FunkStatus::ALL.iter().enumerate() {
            assert_eq!(*s as i32, i as i32);
            assert_eq!(FunkStatus::from_code(i as i32), Some(*s));
        }
        assert_eq!(FunkStatus::from_code(-1), None);
        assert_eq!(FunkStatus::from_code(FunkStatus::ALL.len() as i32), None);
    }

    #[test]
    fn every_message_is_distinct_and_unknown_codes_get_one() {
        for (i, a) in FunkStatus::ALL.iter().enumerate() {
            for b in &FunkStatus::ALL[i + 1..] {
                assert_ne!(a.message(), b.message(), "{a:?} and {b:?}");
            }
        }
        // SAFETY: funk_status_message returns a pointer to a static C string.
        let unknown = unsafe { CStr::from_ptr(funk_status_message(9999)) };
        assert_eq!(unknown, c"unknown status code");
    }
}
