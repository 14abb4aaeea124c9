//! Fuzz target: ratingfile must never panic on any input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    funk_fuzz::rating_file(data);
});
