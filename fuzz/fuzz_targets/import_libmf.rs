//! Fuzz target: import libmf must never panic on any input.
#![no_main]

use funkd::import::Format;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    funk_fuzz::import(Format::Libmf, data);
});
