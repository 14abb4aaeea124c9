//! # funk-capi
//!
//! A C interface to funk-kernel, the `#![no_std]` numeric core of funk:
//! train a block of ratings by SGD, evaluate a model (RMSE, MAE), predict
//! a pair, and fold a new user in, all on buffers the caller owns. The
//! library allocates nothing, keeps no state between calls, and reports
//! every refusal as a [`FunkStatus`] code (with a static message from
//! [`funk_status_message`]); it never panics across the boundary (see
//! the `guard` module). The C header is `include/funk.h`, generated from
//! this crate by cbindgen.
//!
//! ## Buffers
//!
//! Factor rows are `k` floats, `k` one of 16, 32, 64, 128 (a run-time
//! parameter dispatched to the kernel's compile-time row length; see
//! [`funk_k_supported`]); a band of `rows` rows is `rows * k` floats,
//! 64-byte aligned ([`FUNK_ROW_ALIGN`]). Every entry point checks its
//! pointers for NULL, alignment, size overflow and overlap between the
//! buffers of the call before touching any of them; what it cannot check
//! (that the memory exists and that no other thread uses it during the
//! call) is the caller's contract, stated on each function.
//!
//! ## Builds
//!
//! A static library is a final artifact: it needs a panic handler, so one
//! of the two features is required.
//!
//! - Hosted (default feature `std`): std's handler; a panic, which would
//!   be a defect, is caught and returned as [`FunkStatus::Panic`].
//! - Bare metal (`--no-default-features --features panic-handler`, e.g.
//!   for `thumbv7em-none-eabihf`): no std, and this crate's handler, which
//!   halts the core.
//!
//! A Rust program has no reason to go through the C ABI: it calls
//! funk-kernel directly.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

#[cfg(not(any(feature = "std", feature = "panic-handler", test)))]
compile_error!(
    "funk-capi needs feature `std` (hosted, the default) or `panic-handler` (bare metal: \
     --no-default-features --features panic-handler)"
);

mod band;
mod buffers;
mod decode;
mod evaluate;
mod foldin;
mod guard;
#[cfg(all(feature = "panic-handler", not(test), not(feature = "std")))]
mod panic;
mod predict;
mod status;
mod train;
mod types;

pub use evaluate::funk_evaluate_block;
pub use foldin::funk_fold_in;
pub use predict::funk_predict;
pub use status::{funk_status_message, FunkStatus};
pub use train::funk_train_block;
pub use types::{
    FunkBand, FunkBandView, FunkBlockStats, FunkEvalParams, FunkFoldInParams, FunkIsa,
    FunkItemRating, FunkLossStats, FunkModelKind, FunkRating, FunkSchedule, FunkTrainParams,
    FUNK_ADAPTIVE_INITIAL_ACCUMULATOR, FUNK_ROW_ALIGN,
};

/// Whether `k` is a row length this library supports: 16, 32, 64 or 128.
/// (The kernel fixes the row length at compile time, a multiple of 16 for
/// its SIMD paths; this library is compiled for those four.) A model of
/// smaller rank pads its rows with zeros, which training keeps at zero.
#[no_mangle]
pub extern "C" fn funk_k_supported(k: u32) -> bool {
    decode::k_supported(k)
}

/// Whether `isa` (a `FunkIsa`) can run on this CPU. `FUNK_ISA_AUTO` and
/// `FUNK_ISA_SCALAR` always can; an unknown code cannot.
#[no_mangle]
pub extern "C" fn funk_isa_available(isa: u32) -> bool {
    decode::isa(isa).is_ok()
}
