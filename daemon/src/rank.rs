//! From a run-time rank to a compile-time row length.
//!
//! The kernel's rows have a const-generic length `K`, a multiple of 16.
//! A user asks for any rank from 1 to [`MAX_RANK`]; it is padded up to the
//! next multiple of 16 with dimensions that start at zero and that SGD
//! keeps at zero (their gradient is zero), and [`with_k!`](crate::with_k) picks the
//! monomorphised code for that padded length.

/// The largest rank funkd accepts.
pub const MAX_RANK: usize = 256;

/// The row length that holds `rank` factors: the next multiple of 16.
pub const fn padded_k(rank: usize) -> usize {
    rank.div_ceil(16) * 16
}

/// Runs `$body` with `const $K: usize` bound to `padded_k($rank)`.
/// `$rank` must be within 1..=[`MAX_RANK`] (checked by the caller; an
/// out-of-range value panics).
///
/// ```
/// use funkd::with_k;
/// fn row_bytes<const K: usize>() -> usize { core::mem::size_of::<funk_kernel::FactorRow<K>>() }
/// let bytes = with_k!(40, K => row_bytes::<K>());
/// assert_eq!(bytes, 48 * 4);
/// ```
#[macro_export]
macro_rules! with_k {
    ($rank:expr, $K:ident => $body:expr) => {{
        match $crate::rank::padded_k($rank) {
            16 => {
                const $K: usize = 16;
                $body
            }
            32 => {
                const $K: usize = 32;
                $body
            }
            48 => {
                const $K: usize = 48;
                $body
            }
            64 => {
                const $K: usize = 64;
                $body
            }
            80 => {
                const $K: usize = 80;
                $body
            }
            96 => {
                const $K: usize = 96;
                $body
            }
            112 => {
                const $K: usize = 112;
                $body
            }
            128 => {
                const $K: usize = 128;
                $body
            }
            144 => {
                const $K: usize = 144;
                $body
            }
            160 => {
                const $K: usize = 160;
                $body
            }
            176 => {
                const $K: usize = 176;
                $body
            }
            192 => {
                const $K: usize = 192;
                $body
            }
            208 => {
                const $K: usize = 208;
                $body
            }
            224 => {
                const $K: usize = 224;
                $body
            }
            240 => {
                const $K: usize = 240;
                $body
            }
            256 => {
                const $K: usize = 256;
                $body
            }
            other => panic!("rank pads to {other}, outside 16..=256"),
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_rounds_up_to_sixteen() {
        assert_eq!(padded_k(1), 16);
        assert_eq!(padded_k(16), 16);
        assert_eq!(padded_k(17), 32);
        assert_eq!(padded_k(100), 112);
        assert_eq!(padded_k(256), 256);
    }
}
