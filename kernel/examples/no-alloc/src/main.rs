//! funk-kernel in a `#![no_std]`, `#![no_main]` Linux program with no
//! allocator: libc provides only the process start-up and `write`.
#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

use core::fmt::{self, Write};

#[link(name = "c")]
extern "C" {
    fn write(fd: i32, buf: *const u8, count: usize) -> isize;
}

/// A fixed-size text buffer: `core::fmt` without an allocator.
struct Text {
    bytes: [u8; 256],
    len: usize,
}

impl Write for Text {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let slot = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

/// The precompiled `core` of a hosted target carries unwind tables that
/// name this symbol; with `panic = "abort"` nothing ever unwinds, so it is
/// never called. (Bare-metal targets need no such stub.)
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}

/// The C entry point libc's start-up code calls.
#[no_mangle]
pub extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    let outcome = funk_no_alloc_example::run();
    let mut text = Text {
        bytes: [0; 256],
        len: 0,
    };
    let _ = writeln!(
        text,
        "no-alloc funk-kernel: isa {}, RMSE {:.4} -> {:.6} after {} epochs",
        outcome.isa, outcome.initial_rmse, outcome.final_rmse, outcome.epochs
    );
    // SAFETY: `text.bytes[..text.len]` is initialised memory we own; fd 1 is
    // stdout (a failed write changes nothing we rely on).
    unsafe { write(1, text.bytes.as_ptr(), text.len) };
    if outcome.final_rmse < 1e-3 && outcome.final_rmse < outcome.initial_rmse {
        0
    } else {
        1
    }
}
