//! The work on the whole model between two epochs, over every band at
//! once on as many threads as the run trains with (the workers are idle
//! then): the per-row prior fused with the check that every parameter is
//! finite, in one pass, and copies of the model made in place. Each band
//! is worked on alone, element by element, so the values are the same
//! bits whatever the number of threads; a pause point follows each band
//! (see [`crate::courtesy`]).

use super::parallel::each_in_parallel;
use super::state::{BandState, ModelState};

/// The exponent bits of an `f32`: all set for ±∞ and NaN only.
const EXPONENT: u32 = 0x7f80_0000;

/// 1 when `x` is ±∞ or NaN, else 0 (no branch: it vectorises).
fn non_finite(x: f32) -> u32 {
    u32::from(x.to_bits() & EXPONENT == EXPONENT)
}

/// Whether every value of `xs` is finite, reading all of them.
pub fn all_finite(xs: &[f32]) -> bool {
    xs.iter().fold(0, |bad, &x| bad | non_finite(x)) == 0
}

impl<const K: usize> BandState<K> {
    /// Multiplies every factor by `keep` (`None`: leaves them) and tells
    /// whether every value of the band is finite afterwards, in one pass.
    pub fn scale_and_check(&mut self, keep: Option<f32>) -> bool {
        let mut finite = true;
        for row in &mut self.factors {
            if let Some(keep) = keep {
                for x in row.0.iter_mut() {
                    *x *= keep;
                }
            }
            finite &= all_finite(&row.0);
        }
        finite && all_finite(&self.biases) && all_finite(&self.grad_sq)
    }
}

impl<const K: usize> ModelState<K> {
    /// Multiplies every factor by `keep` (`None`: leaves them) and tells
    /// whether every parameter is finite afterwards: one pass over each
    /// band, the bands on up to `threads` threads.
    pub fn scale_and_check(&mut self, keep: Option<f32>, threads: usize) -> bool {
        let bands: Vec<&mut BandState<K>> =
            self.users.iter_mut().chain(self.items.iter_mut()).collect();
        let finite = each_in_parallel(threads, bands, |band| {
            let finite = band.scale_and_check(keep);
            crate::courtesy::pause_point();
            finite
        });
        self.mu.is_finite() && finite.into_iter().all(|f| f)
    }

    /// Makes `self` a copy of `source`, in place (no allocation when the
    /// shapes agree), the bands on up to `threads` threads.
    pub fn copy_from(&mut self, source: &Self, threads: usize) {
        self.mu = source.mu;
        let shapes_agree =
            self.users.len() == source.users.len() && self.items.len() == source.items.len();
        if !shapes_agree {
            self.clone_from(source);
            return;
        }
        let pairs: Vec<(&mut BandState<K>, &BandState<K>)> = self
            .users
            .iter_mut()
            .zip(&source.users)
            .chain(self.items.iter_mut().zip(&source.items))
            .collect();
        each_in_parallel(threads, pairs, |(to, from)| {
            to.clone_from(from);
            crate::courtesy::pause_point();
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use funk_kernel::LearningRate;

    fn model(adaptive: bool) -> ModelState<16> {
        let bands = |n: usize, p: usize| -> Vec<std::ops::Range<usize>> {
            (0..p).map(|b| b * n / p..(b + 1) * n / p).collect()
        };
        let schedule = if adaptive {
            LearningRate::Adaptive
        } else {
            LearningRate::Constant
        };
        ModelState::init(&bands(41, 5), &bands(23, 5), 12, 3, 3.5, schedule)
    }

    #[test]
    fn finiteness_is_that_of_every_value() {
        assert!(all_finite(&[0.0, -1.5, f32::MAX, f32::MIN_POSITIVE / 2.0]));
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -f32::NAN] {
            assert!(!all_finite(&[1.0, 2.0, bad, 3.0]), "{bad}");
        }
        for threads in [1, 2, 3] {
            assert!(model(true).scale_and_check(None, threads));
            let poison: [fn(&mut ModelState<16>); 5] = [
                |m| m.mu = f32::NAN,
                |m| m.users[3].factors[2].0[15] = f32::INFINITY,
                |m| m.items[4].biases[0] = f32::NAN,
                |m| m.items[0].grad_sq[1] = f32::NEG_INFINITY,
                |m| m.users[0].factors[0].0[0] = f32::MAX,
            ];
            for (n, poison) in poison.iter().enumerate() {
                let mut m = model(true);
                poison(&mut m);
                // f32::MAX stays finite once scaled down; the rest do not.
                assert_eq!(m.scale_and_check(Some(0.5), threads), n == 4, "{n}");
            }
        }
    }

    #[test]
    fn scaling_and_copying_match_the_plain_loops_for_any_thread_count() {
        let keep = 0.987_654_3;
        let mut expected = model(false);
        for band in expected.users.iter_mut().chain(expected.items.iter_mut()) {
            for row in &mut band.factors {
                for x in row.0.iter_mut() {
                    *x *= keep;
                }
            }
        }
        for threads in [1, 2, 4, 64] {
            let mut m = model(false);
            assert!(m.scale_and_check(Some(keep), threads));
            assert_eq!(m, expected, "{threads} threads");
            let mut copy = model(true);
            copy.copy_from(&m, threads);
            assert_eq!(copy, m, "{threads} threads");
        }
    }
}
