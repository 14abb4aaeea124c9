//! The panic handler of bare-metal builds (feature `panic-handler`).
//!
//! A `no_std` static library is a final artifact and needs one; a firmware
//! that links other Rust code brings its own and must leave this feature
//! off (two handlers do not link). The library does not panic on any input
//! (every check returns a status); if it ever did, this handler parks the
//! core in a low-power spin, where a debugger or watchdog finds it, rather
//! than return into a state the library cannot vouch for.

#[panic_handler]
fn halt(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
