//! The panic handler of bare-metal builds (feature `panic-handler`).
//!
//! A `no_std` static library is a final artifact and needs one. Every
//! input the library can be given is answered by a status code, so a
//! panic would be a defect; should one happen, this handler parks the
//! core in a loop (where a debugger or a watchdog finds it) rather than
//! return into a state the library cannot vouch for. Bare-metal targets
//! abort on panic: nothing unwinds into the C caller.

#[panic_handler]
fn halt(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
