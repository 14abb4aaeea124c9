//! The parameters during training: one owned buffer per band, so that a
//! block job can move its user band and item band to a worker and get them
//! back — no locks, no shared mutable state.

use std::ops::Range;

use funk_kernel::{
    Band, BandGrad, BandView, FactorRow, LearningRate, ADAPTIVE_INITIAL_ACCUMULATOR,
};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::epoch_end::all_finite;
use super::parallel::each_in_parallel;
use crate::checkpoint::{ParamParts, Parameters};
use crate::courtesy::{self, Pacer};

/// Factor rows drawn between two pause points: tens of microseconds of
/// work (a row is `rank` normal draws).
const ROWS_BETWEEN_PAUSES: u32 = 64;

/// The rows of one band: factors, biases and (adaptive schedule only)
/// AdaGrad accumulators.
#[derive(Debug, Default, PartialEq)]
pub struct BandState<const K: usize> {
    /// Factor rows (the padded dimensions stay zero).
    pub factors: Vec<FactorRow<K>>,
    /// One bias per row (zero and untouched for the plain model).
    pub biases: Vec<f32>,
    /// One accumulator per row for the adaptive schedule, else empty.
    pub grad_sq: Vec<f32>,
}

impl<const K: usize> Clone for BandState<K> {
    /// A copy made a piece at a time, with pause points between the pieces
    /// ([`courtesy::concatenated`]): a user band is megabytes of new memory.
    fn clone(&self) -> Self {
        Self {
            factors: courtesy::concatenated([&self.factors[..]]),
            biases: courtesy::concatenated([&self.biases[..]]),
            grad_sq: courtesy::concatenated([&self.grad_sq[..]]),
        }
    }

    /// In place: no allocation when the lengths agree.
    fn clone_from(&mut self, source: &Self) {
        self.factors.clone_from(&source.factors);
        self.biases.clone_from(&source.biases);
        self.grad_sq.clone_from(&source.grad_sq);
    }
}

impl<const K: usize> Drop for BandState<K> {
    /// On a background thread the band's memory goes back a piece at a
    /// time ([`courtesy::release`]): a run ends by dropping several copies
    /// of the model.
    fn drop(&mut self) {
        courtesy::release(std::mem::take(&mut self.factors));
        courtesy::release(std::mem::take(&mut self.biases));
        courtesy::release(std::mem::take(&mut self.grad_sq));
    }
}

impl<const K: usize> BandState<K> {
    /// The band lent to the kernel.
    pub fn as_band(&mut self) -> Band<'_, K> {
        Band {
            factors: &mut self.factors,
            biases: &mut self.biases,
            grad_sq: &mut self.grad_sq,
        }
    }

    /// The band read-only.
    pub fn view(&self) -> BandView<'_, K> {
        BandView {
            factors: &self.factors,
            biases: &self.biases,
        }
    }

    /// A zero gradient of this band's shape.
    pub fn zero_gradient(&self) -> Gradient<K> {
        Gradient {
            factors: vec![FactorRow::zeroed(); self.factors.len()],
            biases: vec![0.0; self.biases.len()],
        }
    }

    /// Whether every value of the band is finite.
    pub fn all_finite(&self) -> bool {
        all_finite(&self.biases)
            && all_finite(&self.grad_sq)
            && all_finite(bytemuck::cast_slice(&self.factors))
    }
}

/// ∂J/∂θ for one band (full-batch gradient descent).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Gradient<const K: usize> {
    /// One gradient row per factor row.
    pub factors: Vec<FactorRow<K>>,
    /// One entry per bias.
    pub biases: Vec<f32>,
}

impl<const K: usize> Gradient<K> {
    /// The gradient lent to the kernel to accumulate into.
    pub fn as_grad(&mut self) -> BandGrad<'_, K> {
        BandGrad {
            factors: &mut self.factors,
            biases: &mut self.biases,
        }
    }
    /// The gradient read-only.
    pub fn view(&self) -> BandView<'_, K> {
        BandView {
            factors: &self.factors,
            biases: &self.biases,
        }
    }
}

/// All parameters of a model being trained.
#[derive(Debug, Default, PartialEq)]
pub struct ModelState<const K: usize> {
    /// Global mean μ (0 for the plain model).
    pub mu: f32,
    /// User bands, in band order.
    pub users: Vec<BandState<K>>,
    /// Item bands, in band order.
    pub items: Vec<BandState<K>>,
}

impl<const K: usize> Clone for ModelState<K> {
    fn clone(&self) -> Self {
        Self {
            mu: self.mu,
            users: self.users.clone(),
            items: self.items.clone(),
        }
    }

    /// In place, band by band: no allocation when the shapes agree.
    fn clone_from(&mut self, source: &Self) {
        self.mu = source.mu;
        self.users.clone_from(&source.users);
        self.items.clone_from(&source.items);
    }
}

/// SplitMix64's finaliser over two words: a well-mixed seed for a stream.
pub fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The standard deviation of the initial factors: chosen so that the
/// initial p·q has a standard deviation of 0.1 whatever the rank
/// (Var p·q = rank·σ⁴), which is Surprise's and funk-svd's N(0, 0.1) at
/// their default rank of 100.
pub fn init_sigma(rank: usize) -> f32 {
    (0.01 / rank.max(1) as f64).powf(0.25) as f32
}

const USER_STREAM: u64 = 0x0055_5345_5200_0001;
const ITEM_STREAM: u64 = 0x0049_5445_4d00_0002;

fn init_band<const K: usize>(
    rows: Range<usize>,
    stream: u64,
    seed: u64,
    rank: usize,
    adaptive: bool,
) -> BandState<K> {
    let sigma = init_sigma(rank);
    // `sigma` is finite and positive for any rank ≥ 1.
    let normal = Normal::new(0.0f32, sigma).unwrap_or_else(|_| unreachable!("σ = {sigma}"));
    let n = rows.len();
    let mut pacer = Pacer::every(ROWS_BETWEEN_PAUSES);
    let factors = rows
        .map(|id| {
            pacer.step();
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(mix(seed ^ stream, id as u64));
            let mut row = FactorRow::<K>::zeroed();
            for v in row.0.iter_mut().take(rank) {
                *v = normal.sample(&mut rng);
            }
            row
        })
        .collect();
    BandState {
        factors,
        biases: vec![0.0; n],
        grad_sq: if adaptive {
            vec![ADAPTIVE_INITIAL_ACCUMULATOR; n]
        } else {
            Vec::new()
        },
    }
}

/// [`init_band`] for every (rows, stream) in `jobs`, in order, on up to
/// the available CPUs (each thread takes every n-th band).
fn init_bands_in_parallel<const K: usize>(
    jobs: &[(Range<usize>, u64)],
    seed: u64,
    rank: usize,
    adaptive: bool,
) -> Vec<BandState<K>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, jobs.len().max(1));
    let init = |n: usize| {
        let (rows, stream) = &jobs[n];
        init_band::<K>(rows.clone(), *stream, seed, rank, adaptive)
    };
    each_in_parallel(threads, (0..jobs.len()).collect(), init)
}

impl<const K: usize> ModelState<K> {
    /// Fresh parameters: factors ~ N(0, σ) seeded per row by (seed, internal
    /// id), so initialisation depends neither on threads nor on the grid;
    /// biases 0; AdaGrad accumulators at the kernel's starting value.
    pub fn init(
        user_bands: &[Range<usize>],
        item_bands: &[Range<usize>],
        rank: usize,
        seed: u64,
        mu: f32,
        schedule: LearningRate,
    ) -> Self {
        let adaptive = matches!(schedule, LearningRate::Adaptive);
        // Every band is seeded on its own, so the bands are drawn in
        // parallel (the start-up time is mostly this: 61 M normal draws at
        // full scale and K = 128) with the same values as in sequence.
        let jobs: Vec<(Range<usize>, u64)> = user_bands
            .iter()
            .map(|r| (r.clone(), USER_STREAM))
            .chain(item_bands.iter().map(|r| (r.clone(), ITEM_STREAM)))
            .collect();
        let mut bands = init_bands_in_parallel::<K>(&jobs, seed, rank, adaptive);
        let items = bands.split_off(user_bands.len());
        Self {
            mu,
            users: bands,
            items,
        }
    }

    /// Whether every parameter is finite (a pause point after each band).
    pub fn all_finite(&self) -> bool {
        let band_finite = |band: &BandState<K>| {
            let finite = band.all_finite();
            courtesy::pause_point();
            finite
        };
        self.mu.is_finite()
            && self.users.iter().all(band_finite)
            && self.items.iter().all(band_finite)
    }

    /// Whether `self` and `other` hold the same parameters (the answer of
    /// `==`), compared a piece at a time with pause points between the
    /// pieces: a model is tens of megabytes.
    pub fn same_as(&self, other: &Self) -> bool {
        fn bands_equal<const K: usize>(a: &[BandState<K>], b: &[BandState<K>]) -> bool {
            a.len() == b.len()
                && a.iter().zip(b).all(|(x, y)| {
                    courtesy::equal(&x.factors, &y.factors)
                        && courtesy::equal(&x.biases, &y.biases)
                        && courtesy::equal(&x.grad_sq, &y.grad_sq)
                })
        }
        self.mu == other.mu
            && bands_equal(&self.users, &other.users)
            && bands_equal(&self.items, &other.items)
    }

    /// The parameters as flat arrays in internal-id order (bands are
    /// contiguous ranges in order, so concatenating them is that order),
    /// copied with pause points ([`courtesy::concatenated`]).
    pub fn to_parameters(&self) -> Parameters {
        fn flat<const K: usize>(
            bands: &[BandState<K>],
            f: impl Fn(&BandState<K>) -> &[f32] + Clone,
        ) -> Vec<f32> {
            courtesy::concatenated(bands.iter().map(f))
        }
        Parameters {
            mu: self.mu,
            user_bias: flat(&self.users, |b| &b.biases),
            item_bias: flat(&self.items, |b| &b.biases),
            user_grad_sq: flat(&self.users, |b| &b.grad_sq),
            item_grad_sq: flat(&self.items, |b| &b.grad_sq),
            user_factors: flat(&self.users, |b| bytemuck::cast_slice(&b.factors)),
            item_factors: flat(&self.items, |b| bytemuck::cast_slice(&b.factors)),
        }
    }

    /// Rebuilds banded state from flat parameters (lengths were checked
    /// when the checkpoint was decoded against the same counts), with
    /// pause points between pieces of the copy.
    pub fn from_parameters(
        p: &Parameters,
        user_bands: &[Range<usize>],
        item_bands: &[Range<usize>],
    ) -> Self {
        fn bands<const K: usize>(
            ranges: &[Range<usize>],
            factors: &[f32],
            biases: &[f32],
            grad_sq: &[f32],
        ) -> Vec<BandState<K>> {
            let mut pacer = Pacer::new();
            ranges
                .iter()
                .map(|r| BandState {
                    factors: factors[r.start * K..r.end * K]
                        .chunks_exact(K)
                        .map(|c| {
                            pacer.step();
                            let mut row = FactorRow::<K>::zeroed();
                            row.0.copy_from_slice(c);
                            row
                        })
                        .collect(),
                    biases: courtesy::concatenated([&biases[r.clone()]]),
                    grad_sq: if grad_sq.is_empty() {
                        Vec::new()
                    } else {
                        courtesy::concatenated([&grad_sq[r.clone()]])
                    },
                })
                .collect()
        }
        Self {
            mu: p.mu,
            users: bands(user_bands, &p.user_factors, &p.user_bias, &p.user_grad_sq),
            items: bands(item_bands, &p.item_factors, &p.item_bias, &p.item_grad_sq),
        }
    }

    /// The parameters as per-band parts (for writing and hashing without a copy).
    pub fn parts(&self) -> ParamParts<'_> {
        fn each<'a, const K: usize>(
            bands: &'a [BandState<K>],
            f: impl Fn(&'a BandState<K>) -> &'a [f32],
        ) -> Vec<&'a [f32]> {
            bands.iter().map(f).collect()
        }
        ParamParts {
            mu: self.mu,
            user_bias: each(&self.users, |b| &b.biases),
            item_bias: each(&self.items, |b| &b.biases),
            user_grad_sq: each(&self.users, |b| &b.grad_sq),
            item_grad_sq: each(&self.items, |b| &b.grad_sq),
            user_factors: each(&self.users, |b| bytemuck::cast_slice(&b.factors)),
            item_factors: each(&self.items, |b| bytemuck::cast_slice(&b.factors)),
        }
    }

    /// [`crate::checkpoint::model_hash`] of these parameters.
    pub fn model_hash(&self) -> String {
        crate::checkpoint::hash_of_parts(&self.parts())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bands(n: usize, p: usize) -> Vec<Range<usize>> {
        (0..p).map(|b| b * n / p..(b + 1) * n / p).collect()
    }

    #[test]
    fn initialisation_does_not_depend_on_the_grid() {
        let a = ModelState::<16>::init(
            &bands(50, 1),
            &bands(30, 1),
            10,
            9,
            3.5,
            LearningRate::Constant,
        );
        let b = ModelState::<16>::init(
            &bands(50, 4),
            &bands(30, 3),
            10,
            9,
            3.5,
            LearningRate::Constant,
        );
        assert_eq!(a.to_parameters(), b.to_parameters());
        let c = ModelState::<16>::init(
            &bands(50, 4),
            &bands(30, 3),
            10,
            10,
            3.5,
            LearningRate::Constant,
        );
        assert_ne!(a.to_parameters(), c.to_parameters());
    }

    #[test]
    fn padded_dimensions_start_at_zero_and_the_rest_do_not() {
        let s = ModelState::<32>::init(
            &bands(20, 2),
            &bands(20, 2),
            20,
            1,
            0.0,
            LearningRate::Adaptive,
        );
        for row in s.users.iter().flat_map(|b| &b.factors) {
            assert!(row.0[20..].iter().all(|v| *v == 0.0));
            assert!(row.0[..20].iter().any(|v| *v != 0.0));
        }
        assert_eq!(s.users[0].grad_sq.len(), s.users[0].factors.len());
    }

    /// A model large enough for several pause points in every paced loop
    /// (rows drawn, rows and biases copied, pieces of the flat arrays).
    fn large() -> ModelState<16> {
        let (users, items) = (bands(9_000, 3), bands(700, 2));
        ModelState::init(&users, &items, 12, 5, 3.5, LearningRate::Adaptive)
    }

    #[test]
    fn a_background_thread_draws_flattens_and_copies_the_same_bits() {
        let (users, items) = (bands(9_000, 3), bands(700, 2));
        let make = || {
            let drawn = large();
            let flat = drawn.to_parameters();
            let rebuilt = ModelState::<16>::from_parameters(&flat, &users, &items);
            let copy = rebuilt.clone();
            (drawn, flat, copy)
        };
        let (drawn, flat, copy) = make();
        assert_eq!(copy, drawn);
        assert_eq!(flat.user_factors.len(), 9_000 * 16);
        let background = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    crate::courtesy::set_background(true);
                    make()
                })
                .join()
                .unwrap()
        });
        assert_eq!(background, (drawn, flat, copy));
    }

    #[test]
    fn a_paced_comparison_answers_as_equality() {
        let a = large();
        let changes: [fn(&mut ModelState<16>); 6] = [
            |_| {},
            |m| m.mu = 3.25,
            |m| m.users[2].factors[2_999].0[11] += 1.0,
            |m| m.items[1].biases[0] = -0.0,
            |m| m.items[0].grad_sq[3] = 0.5,
            |m| m.items.truncate(1),
        ];
        for (n, change) in changes.iter().enumerate() {
            let mut b = a.clone();
            change(&mut b);
            assert_eq!(a.same_as(&b), a == b, "{n}");
            assert_eq!(a.same_as(&b), n == 0 || n == 3, "{n}");
        }
    }

    #[test]
    fn flat_parameters_round_trip() {
        let s = ModelState::<16>::init(
            &bands(33, 3),
            &bands(17, 3),
            5,
            2,
            1.0,
            LearningRate::Adaptive,
        );
        let p = s.to_parameters();
        assert_eq!(p.user_factors.len(), 33 * 16);
        let back = ModelState::<16>::from_parameters(&p, &bands(33, 3), &bands(17, 3));
        assert_eq!(back, s);
        let flat = crate::checkpoint::model_hash(
            p.mu,
            &p.user_bias,
            &p.item_bias,
            &p.user_factors,
            &p.item_factors,
        );
        assert_eq!(
            s.model_hash(),
            flat,
            "hashing bands and flat arrays must agree"
        );
    }
}
