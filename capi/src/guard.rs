//! No panic crosses the C boundary.
//!
//! Every entry point runs its body through [`guarded`]. In hosted builds
//! (feature `std`) a panic is caught there and becomes
//! `FUNK_STATUS_PANIC`. Without `std` there is no unwinding to catch: the
//! bare-metal targets abort on panic, and the firmware's panic handler
//! (this crate's, with feature `panic-handler`, or the firmware's own)
//! decides what happens. Were a panic ever to unwind out of an
//! `extern "C"` function anyway, Rust aborts the process there (since
//! 1.81) rather than unwind into C.

use crate::FunkStatus;

/// Runs `body` and returns its status, or `FunkStatus::Panic` if it
/// panicked (hosted builds).
#[cfg(feature = "std")]
pub(crate) fn guarded(body: impl FnOnce() -> Result<(), FunkStatus>) -> FunkStatus {
    // The buffers a panicking body may have left half-written belong to the
    // caller, who is told so by FUNK_STATUS_PANIC; nothing of ours survives
    // the call, so unwind safety is not a concern here.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(result) => into_status(result),
        Err(_) => FunkStatus::Panic,
    }
}

/// Runs `body` and returns its status (a panic goes to the panic handler).
#[cfg(not(feature = "std"))]
pub(crate) fn guarded(body: impl FnOnce() -> Result<(), FunkStatus>) -> FunkStatus {
    into_status(body())
}

fn into_status(result: Result<(), FunkStatus>) -> FunkStatus {
    match result {
        Ok(()) => FunkStatus::Ok,
        Err(status) => status,
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_the_panic_status() {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let status = guarded(|| panic!("a defect"));
        std::panic::set_hook(previous);
        assert_eq!(status, FunkStatus::Panic);
        assert_eq!(guarded(|| Ok(())), FunkStatus::Ok);
        assert_eq!(guarded(|| Err(FunkStatus::Singular)), FunkStatus::Singular);
    }
}
