//! Fuzz target: `funk_kernel::fold_in` on arbitrary parameters, item
//! factors, biases and ratings (any f32 bit pattern: NaN, infinities,
//! subnormals, huge values; any item index) must never panic; an accepted
//! input must give a finite row, zero padding and a finite bias.
//!
//! Input layout: byte 0 picks the model (bit 0), the rank (bits 1..=5,
//! 0 to 31: above the capacity K = 16 is refused) and whether the output
//! row is short (bit 6); byte 1 the extra stride (0 to 3) and the item
//! count (bits 2..=7, 0 to 63); then λ, λ_b, μ, the item factors and the
//! item biases as little-endian f32; the rest is ratings of 6 bytes (item
//! as u16, value as f32).
#![no_main]

use funk_kernel::{fold_in, FoldIn, FoldInError, ItemFactors, ItemRating, ModelKind};

const K: usize = 16;
/// Output row length: room for the largest rank the input can ask for (31).
const ROW: usize = 34;

/// Reads little-endian f32s (missing bytes read as zero).
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let n = N.min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        out
    }
    fn f32(&mut self) -> f32 {
        f32::from_le_bytes(self.take())
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut input = Bytes(data);
    let [shape, layout] = input.take::<2>();
    let model = if shape & 1 == 0 {
        ModelKind::Plain
    } else {
        ModelKind::Biased
    };
    let rank = usize::from((shape >> 1) & 31);
    let short_row = shape & 64 != 0;
    let stride = rank + usize::from(layout & 3);
    let items = usize::from(layout >> 2);
    let (reg_factors, reg_bias, mu) = (input.f32(), input.f32(), input.f32());
    let factors: Vec<f32> = (0..items * stride).map(|_| input.f32()).collect();
    let biases: Vec<f32> = (0..items).map(|_| input.f32()).collect();
    let ratings: Vec<ItemRating> = input
        .0
        .chunks_exact(6)
        .map(|c| ItemRating {
            item: u32::from(u16::from_le_bytes([c[0], c[1]])),
            value: f32::from_le_bytes([c[2], c[3], c[4], c[5]]),
        })
        .collect();

    let Ok(params) = FoldIn::new(model, reg_factors, reg_bias, mu) else {
        return;
    };
    let view = match ItemFactors::new(&factors, stride, rank, &biases) {
        Ok(view) => view,
        Err(FoldInError::Stride { .. }) => {
            assert_eq!(stride, 0, "stride {stride} >= rank {rank} refused");
            return;
        }
        Err(e) => panic!("a consistent layout was refused: {e}"),
    };
    let mut row = [f32::NAN; ROW];
    let len = if short_row {
        rank.saturating_sub(1)
    } else {
        ROW
    };
    match fold_in::<K>(&params, &view, &ratings, &mut row[..len]) {
        Ok(bias) => {
            assert!(rank <= K && len >= rank);
            assert!(row[..rank].iter().all(|v| v.is_finite()), "{row:?}");
            assert!(row[rank..len].iter().all(|&v| v == 0.0), "padding {row:?}");
            assert!(bias.is_finite());
            if model == ModelKind::Plain || ratings.is_empty() {
                assert_eq!(bias, 0.0);
            }
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            assert!(
                row[..len].iter().all(|v| v.is_nan()),
                "row written on {e:?}"
            );
        }
    }
});
