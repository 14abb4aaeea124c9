//! splitmix64: a fixed, dependency-free source of bench data, shared by the
//! kernel's timing examples and `benches/kernel.rs` (each includes this file
//! as a module), so that all of them draw the same fixtures from a seed.

/// The generator's state; `SplitMix(seed)` starts a stream.
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> u32 {
        (self.next() % n as u64) as u32
    }

    /// A number in [0, 1), with 24 random bits.
    pub fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}
