//! The row operations, written once over any [`Vector`]: the dot product
//! (with the squared norms the adaptive schedule needs), the SGD step, two
//! steps at once, and the prefetch of a row. Every backend gets them by instantiating them with its vector.
//!
//! A row of K f32 is K / `V::LANES` chunks of one register each. The
//! functions are `#[inline(always)]` so that they compile into the
//! backend's `#[target_feature]` entry point.

use crate::arch::vector::{Vector, WithVector};
use crate::arch::{dispatch, Isa};
use crate::FactorRow;

/// The most accumulators a dot product keeps ([`Vector::ACCUMULATORS`]).
const MAX_ACCUMULATORS: usize = 4;

/// The most chunks of a row a step keeps in registers (16 AVX-512
/// registers: K = 256); longer rows are read again for the update.
pub(crate) const MAX_HELD_CHUNKS: usize = 16;

/// The scalars of one SGD step on a pair of rows.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Step {
    /// e = r − r̂, from the old values.
    pub err: f32,
    /// Step size of the user row.
    pub eta_p: f32,
    /// Step size of the item row.
    pub eta_q: f32,
    /// λ, the factor regularisation.
    pub lambda: f32,
}

/// Chunks of `V` in a row of K f32.
#[inline(always)]
const fn chunks<V: Vector, const K: usize>() -> usize {
    K / V::LANES
}

/// (a0 + a1) + (a2 + a3) over the first `used` accumulators (1 to 4).
///
/// # Safety
///
/// The CPU has the features `V` needs.
#[inline(always)]
unsafe fn combine<V: Vector>(acc: [V; MAX_ACCUMULATORS], used: usize) -> V {
    // SAFETY: the caller's promise.
    unsafe {
        if used >= 4 {
            acc[0].add(acc[1]).add(acc[2].add(acc[3]))
        } else if used == 3 {
            acc[0].add(acc[1]).add(acc[2])
        } else if used == 2 {
            acc[0].add(acc[1])
        } else {
            acc[0]
        }
    }
}

/// What a step's first pass over its two rows computes: p·q and, for
/// the adaptive schedule, the squared norms ‖p‖² and ‖q‖², from which the
/// squared gradients follow without a second pass (see
/// [`Products::grad_sq`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Products {
    /// p·q.
    pub pq: f32,
    /// ‖p‖² (0 where not asked for).
    pub pp: f32,
    /// ‖q‖² (0 where not asked for).
    pub qq: f32,
}

impl Products {
    /// ‖e q − λ p‖² and ‖e p − λ q‖², the squared gradients of the step
    /// `step` takes from these rows, as e²‖q‖² − 2eλ p·q + λ²‖p‖² (and the
    /// mirror), clamped at 0 against rounding. The same value as squaring
    /// the gradient lane by lane, up to rounding; it needs no reduction
    /// after the update, only the three of the first pass, which are
    /// independent of each other.
    #[inline(always)]
    pub(crate) fn grad_sq(&self, err: f32, lambda: f32) -> (f32, f32) {
        let (ee, el2, ll) = (err * err, 2.0 * err * lambda, lambda * lambda);
        let cross = el2 * self.pq;
        (
            (ee * self.qq - cross + ll * self.pp).max(0.0),
            (ee * self.pp - cross + ll * self.qq).max(0.0),
        )
    }
}

/// The first pass over two rows given as chunk loaders: p·q, and with
/// `NORMS` also ‖p‖² and ‖q‖², each in `V`'s accumulators (chunk c goes
/// to accumulator c mod `V::ACCUMULATORS`).
///
/// # Safety
///
/// The CPU has the features `V` needs.
#[inline(always)]
unsafe fn products_chunks<V: Vector, const K: usize, const NORMS: bool>(
    p: impl FnMut(usize) -> V,
    q: impl FnMut(usize) -> V,
) -> Products {
    // SAFETY: the caller's promise.
    unsafe { reduce::<V, NORMS>(sums_chunks::<V, K, NORMS>(p, q)) }
}

/// The first pass's sums, reduced: p·q's alone, or with `NORMS` all three
/// in one [`Vector::reduce_sum3`] (the same bits as three reductions).
///
/// # Safety
///
/// The CPU has the features `V` needs.
#[inline(always)]
unsafe fn reduce<V: Vector, const NORMS: bool>(sums: [V; 3]) -> Products {
    // SAFETY: the caller's promise.
    unsafe {
        if NORMS {
            let [pq, pp, qq] = V::reduce_sum3(sums);
            Products { pq, pp, qq }
        } else {
            Products {
                pq: sums[0].reduce_sum(),
                pp: 0.0,
                qq: 0.0,
            }
        }
    }
}

/// The first pass of [`products_chunks`] before the horizontal sums: the
/// accumulators of p·q, ‖p‖² and ‖q‖² (the last two zero without
/// `NORMS`), each combined into one vector.
///
/// # Safety
///
/// The CPU has the features `V` needs.
#[inline(always)]
unsafe fn sums_chunks<V: Vector, const K: usize, const NORMS: bool>(
    mut p: impl FnMut(usize) -> V,
    mut q: impl FnMut(usize) -> V,
) -> [V; 3] {
    // SAFETY: the caller's promise.
    unsafe {
        let mut pq = [V::zero(); MAX_ACCUMULATORS];
        let mut pp = [V::zero(); MAX_ACCUMULATORS];
        let mut qq = [V::zero(); MAX_ACCUMULATORS];
        let mut chunk = |c: usize, a: usize| {
            let (pc, qc) = (p(c), q(c));
            pq[a] = pc.mul_add(qc, pq[a]);
            if NORMS {
                pp[a] = pc.mul_add(pc, pp[a]);
                qq[a] = qc.mul_add(qc, qq[a]);
            }
        };
        // Chunk c goes to accumulator c mod ACCUMULATORS, written as
        // rounds of one chunk per accumulator so that every accumulator
        // index is a constant once the short inner loop unrolls: as one
        // loop over c with the index c mod ACCUMULATORS, the compiler
        // left it rolled where it is long (AVX2 at K = 128 with the
        // norms: 16 × 3 multiply-adds) and kept the accumulators on the
        // stack, a store and a reload per multiply-add.
        let (n, width) = (chunks::<V, K>(), V::ACCUMULATORS);
        let mut c = 0;
        while c + width <= n {
            for a in 0..width {
                chunk(c + a, a);
            }
            c += width;
        }
        for a in 0..n - c {
            chunk(c + a, a);
        }
        let used = if chunks::<V, K>() < V::ACCUMULATORS {
            chunks::<V, K>()
        } else {
            V::ACCUMULATORS
        };
        if NORMS {
            [combine(pq, used), combine(pp, used), combine(qq, used)]
        } else {
            [combine(pq, used), V::zero(), V::zero()]
        }
    }
}

/// The dot product of two rows given as chunk loaders.
///
/// # Safety
///
/// The CPU has the features `V` needs.
#[inline(always)]
unsafe fn dot_chunks<V: Vector, const K: usize>(
    p: impl FnMut(usize) -> V,
    q: impl FnMut(usize) -> V,
) -> f32 {
    // SAFETY: the caller's promise.
    unsafe { products_chunks::<V, K, false>(p, q).pq }
}

/// p·q.
///
/// # Safety
///
/// The CPU has the features `V` needs.
#[inline(always)]
pub(crate) unsafe fn dot<V: Vector, const K: usize>(p: &FactorRow<K>, q: &FactorRow<K>) -> f32 {
    let (pp, qp) = (p.0.as_ptr(), q.0.as_ptr());
    // SAFETY: chunk c is `V::LANES` f32 at offset c·LANES < K of a 64-byte
    // aligned row whose length is a multiple of 16: in bounds and aligned.
    unsafe {
        dot_chunks::<V, K>(
            |c| V::load(pp.add(c * V::LANES)),
            |c| V::load(qp.add(c * V::LANES)),
        )
    }
}

/// One chunk of the SGD step: the new (p, q) from the old.
///
/// # Safety
///
/// The CPU has the features `V` needs.
#[inline(always)]
unsafe fn step_chunk<V: Vector>(p: V, q: V, k: &StepVectors<V>) -> (V, V) {
    // SAFETY: the caller's promise.
    unsafe {
        if V::FUSED {
            // p + η_p (e q − λ p) = (1 − η_p λ) p + (η_p e) q: two
            // operations per vector instead of three (the same value up to
            // rounding).
            (
                k.pull_p.mul_add(q, k.keep_p.mul(p)),
                k.pull_q.mul_add(p, k.keep_q.mul(q)),
            )
        } else {
            let gp = k.err.mul_sub(q, k.lambda.mul(p));
            let gq = k.err.mul_sub(p, k.lambda.mul(q));
            (k.eta_p.mul_add(gp, p), k.eta_q.mul_add(gq, q))
        }
    }
}

/// A step's scalars splatted once per step.
struct StepVectors<V> {
    keep_p: V,
    keep_q: V,
    pull_p: V,
    pull_q: V,
    err: V,
    lambda: V,
    eta_p: V,
    eta_q: V,
}

impl<V: Vector> StepVectors<V> {
    /// # Safety
    ///
    /// The CPU has the features `V` needs.
    #[inline(always)]
    unsafe fn new(step: Step) -> Self {
        // SAFETY: the caller's promise.
        unsafe {
            Self {
                keep_p: V::splat(1.0 - step.eta_p * step.lambda),
                keep_q: V::splat(1.0 - step.eta_q * step.lambda),
                pull_p: V::splat(step.eta_p * step.err),
                pull_q: V::splat(step.eta_q * step.err),
                err: V::splat(step.err),
                lambda: V::splat(step.lambda),
                eta_p: V::splat(step.eta_p),
                eta_q: V::splat(step.eta_q),
            }
        }
    }
}

/// The factor part of one SGD step, both gradients from the old values:
/// p += η_p (e q − λ p), q += η_q (e p − λ q).
///
/// # Safety
///
/// The CPU has the features `V` needs.
#[inline(always)]
pub(crate) unsafe fn update<V: Vector, const K: usize>(
    p: &mut FactorRow<K>,
    q: &mut FactorRow<K>,
    step: Step,
) {
    let (pp, qp) = (p.0.as_mut_ptr(), q.0.as_mut_ptr());
    // SAFETY: as in `dot`; `p` and `q` are distinct rows (two `&mut`).
    unsafe {
        let k = StepVectors::<V>::new(step);
        for c in 0..chunks::<V, K>() {
            let (pc, qc) = (pp.add(c * V::LANES), qp.add(c * V::LANES));
            let (p_new, q_new) = step_chunk(V::load(pc), V::load(qc), &k);
            p_new.store(pc);
            q_new.store(qc);
        }
    }
}

/// A step's two rows loaded into registers.
struct HeldRows<V> {
    p: [V; MAX_HELD_CHUNKS],
    q: [V; MAX_HELD_CHUNKS],
}

impl<V: Vector> HeldRows<V> {
    /// Loads both rows.
    ///
    /// # Safety
    ///
    /// The CPU has the features `V` needs; `pp` and `qp` point to rows of
    /// K ≤ `MAX_HELD_CHUNKS` · LANES f32.
    #[inline(always)]
    unsafe fn load<const K: usize>(pp: *const f32, qp: *const f32) -> Self {
        // SAFETY: the caller's promise; chunks as in `dot`.
        unsafe {
            let mut rows = Self {
                p: [V::zero(); MAX_HELD_CHUNKS],
                q: [V::zero(); MAX_HELD_CHUNKS],
            };
            for c in 0..chunks::<V, K>() {
                rows.p[c] = V::load(pp.add(c * V::LANES));
                rows.q[c] = V::load(qp.add(c * V::LANES));
            }
            rows
        }
    }

    /// p·q (and with `NORMS` the squared norms) of the held rows.
    ///
    /// # Safety
    ///
    /// As for [`HeldRows::load`].
    #[inline(always)]
    unsafe fn products<const K: usize, const NORMS: bool>(&self) -> Products {
        // SAFETY: the caller's promise.
        unsafe { products_chunks::<V, K, NORMS>(|c| self.p[c], |c| self.q[c]) }
    }

    /// [`HeldRows::products`] before the horizontal sums.
    ///
    /// # Safety
    ///
    /// As for [`HeldRows::load`].
    #[inline(always)]
    unsafe fn sums<const K: usize, const NORMS: bool>(&self) -> [V; 3] {
        // SAFETY: the caller's promise.
        unsafe { sums_chunks::<V, K, NORMS>(|c| self.p[c], |c| self.q[c]) }
    }

    /// Stores the step's new rows, computed from the held old values.
    ///
    /// # Safety
    ///
    /// As for [`HeldRows::load`], for writing.
    #[inline(always)]
    unsafe fn store_step<const K: usize>(&self, pp: *mut f32, qp: *mut f32, step: Step) {
        // SAFETY: the caller's promise.
        unsafe {
            let k = StepVectors::<V>::new(step);
            for c in 0..chunks::<V, K>() {
                let (p_new, q_new) = step_chunk(self.p[c], self.q[c], &k);
                p_new.store(pp.add(c * V::LANES));
                q_new.store(qp.add(c * V::LANES));
            }
        }
    }
}

/// The whole SGD step: `step_for` gives the step from the first pass's
/// [`Products`] (p·q, and with `NORMS` the squared norms the adaptive
/// schedule needs) and may store anything but the two rows (the biases,
/// the accumulators); then the rows take the step. With `in_registers` (a
/// constant of the loop's shape, so the branch folds away) each row is
/// loaded once, for both passes (the same values, so the same result);
/// without, the update reads the rows again. Returns the step.
///
/// # Safety
///
/// The CPU has the features `V` needs; with `in_registers`, a row is at
/// most [`MAX_HELD_CHUNKS`] chunks.
#[inline(always)]
pub(crate) unsafe fn dot_then_update<V: Vector, const K: usize, const NORMS: bool>(
    p: &mut FactorRow<K>,
    q: &mut FactorRow<K>,
    in_registers: bool,
    step_for: impl FnOnce(Products) -> Step,
) -> Step {
    let (pp, qp) = (p.0.as_mut_ptr(), q.0.as_mut_ptr());
    // SAFETY: the caller's promise; the rows are distinct (two `&mut`);
    // chunks as in `dot`.
    unsafe {
        if in_registers {
            // Loaded once into locals, so nothing `step_for` stores can
            // change what the update reads.
            let rows = HeldRows::<V>::load::<K>(pp, qp);
            let step = step_for(rows.products::<K, NORMS>());
            rows.store_step::<K>(pp, qp, step);
            step
        } else {
            let products = products_chunks::<V, K, NORMS>(
                |c| V::load(pp.add(c * V::LANES)),
                |c| V::load(qp.add(c * V::LANES)),
            );
            let step = step_for(products);
            update::<V, K>(p, q, step);
            step
        }
    }
}

/// Two SGD steps on two disjoint pairs of rows, each exactly as
/// [`dot_then_update`] computes it (so the result is that of doing `a`
/// then `b`), but with both first passes in flight at once, so that one
/// step's reduction latency overlaps the other's. `step_for(0, products)`
/// gives `a`'s step and `step_for(1, products)` `b`'s.
///
/// # Safety
///
/// The CPU has the features `V` needs; a row is at most
/// [`MAX_HELD_CHUNKS`] chunks.
#[inline(always)]
pub(crate) unsafe fn dot_then_update_pair<V: Vector, const K: usize, const NORMS: bool>(
    a: (&mut FactorRow<K>, &mut FactorRow<K>),
    b: (&mut FactorRow<K>, &mut FactorRow<K>),
    mut step_for: impl FnMut(usize, Products) -> Step,
) -> [Step; 2] {
    let rows = [
        (a.0 .0.as_mut_ptr(), a.1 .0.as_mut_ptr()),
        (b.0 .0.as_mut_ptr(), b.1 .0.as_mut_ptr()),
    ];
    // SAFETY: as in `dot_then_update`, for each pair; the four rows are
    // distinct (four `&mut`), so each step reads and writes only its own
    // rows, in the order `dot_then_update` would.
    unsafe {
        // Written out: through `array::map`, which is not inlined, the
        // held registers went through memory (AVX-512, K = 32: 9 instead
        // of 100 M updates/s).
        let held = [
            HeldRows::<V>::load::<K>(rows[0].0, rows[0].1),
            HeldRows::<V>::load::<K>(rows[1].0, rows[1].1),
        ];
        let products = if NORMS {
            // The six sums of both steps in one shuffle tree.
            let ([a0, a1, a2], [b0, b1, b2]) =
                (held[0].sums::<K, true>(), held[1].sums::<K, true>());
            let [pq_a, pp_a, qq_a, pq_b, pp_b, qq_b] = V::reduce_sum6([a0, a1, a2, b0, b1, b2]);
            [
                Products {
                    pq: pq_a,
                    pp: pp_a,
                    qq: qq_a,
                },
                Products {
                    pq: pq_b,
                    pp: pp_b,
                    qq: qq_b,
                },
            ]
        } else {
            [
                held[0].products::<K, false>(),
                held[1].products::<K, false>(),
            ]
        };
        let steps = [step_for(0, products[0]), step_for(1, products[1])];
        for (s, &(pp, qp)) in rows.iter().enumerate() {
            held[s].store_step::<K>(pp, qp, steps[s]);
        }
        steps
    }
}

/// Hints that `row` will be read soon (one prefetch per 64-byte line).
///
/// # Safety
///
/// The CPU has the features `V` needs.
#[inline(always)]
pub(crate) unsafe fn prefetch_row<V: Vector, const K: usize>(row: &FactorRow<K>) {
    let base = row.0.as_ptr().cast::<u8>();
    for line in 0..K / 16 {
        // SAFETY: a prefetch never faults; the address is inside the row.
        unsafe { V::prefetch(base.wrapping_add(line * 64)) };
    }
}

/// [`Isa::dot`] as a job.
struct DotJob<'a, const K: usize> {
    p: &'a FactorRow<K>,
    q: &'a FactorRow<K>,
}

impl<const K: usize> WithVector for DotJob<'_, K> {
    type Output = f32;
    #[inline(always)]
    unsafe fn run<V: Vector>(self) -> f32 {
        // SAFETY: the caller's promise.
        unsafe { dot::<V, K>(self.p, self.q) }
    }
}

/// [`Isa::update`] as a job.
struct UpdateJob<'a, const K: usize> {
    p: &'a mut FactorRow<K>,
    q: &'a mut FactorRow<K>,
    step: Step,
}

impl<const K: usize> WithVector for UpdateJob<'_, K> {
    type Output = ();
    #[inline(always)]
    unsafe fn run<V: Vector>(self) {
        // SAFETY: the caller's promise.
        unsafe { update::<V, K>(self.p, self.q, self.step) }
    }
}

// The row operations on an `Isa`, defined here (above the backends) so
// that the backends need nothing from the code that uses them.
impl Isa {
    /// p·q. The SIMD paths sum in several independent accumulators, so
    /// they agree with the scalar reference to rounding, not to the bit.
    ///
    /// # Examples
    ///
    /// ```
    /// use funk_kernel::{FactorRow, Isa};
    /// let p = FactorRow::<16>::splat(1.0);
    /// let q = FactorRow::<16>::splat(0.5);
    /// for isa in Isa::available() {
    ///     assert_eq!(isa.dot(&p, &q), 8.0);
    /// }
    /// ```
    #[inline]
    pub fn dot<const K: usize>(&self, p: &FactorRow<K>, q: &FactorRow<K>) -> f32 {
        dispatch(*self, DotJob { p, q })
    }

    /// The factor part of one SGD step, both gradients from the old values:
    /// p += η_p (e q − λ p), q += η_q (e p − λ q), exactly as this ISA's
    /// block trainer computes it.
    ///
    /// # Examples
    ///
    /// ```
    /// use funk_kernel::{FactorRow, Isa};
    /// let mut p = FactorRow::<16>::splat(1.0);
    /// let mut q = FactorRow::<16>::splat(0.0);
    /// Isa::detect().update(&mut p, &mut q, 1.0, 0.5, 0.5, 0.0);
    /// assert_eq!((p.0[0], q.0[0]), (1.0, 0.5));
    /// ```
    #[inline]
    pub fn update<const K: usize>(
        &self,
        p: &mut FactorRow<K>,
        q: &mut FactorRow<K>,
        err: f32,
        eta_p: f32,
        eta_q: f32,
        lambda: f32,
    ) {
        let step = Step {
            err,
            eta_p,
            eta_q,
            lambda,
        };
        dispatch(*self, UpdateJob { p, q, step })
    }
}

#[cfg(test)]
mod tests {
    use super::Products;
    use crate::arch::vector::{Vector, WithVector};
    use crate::arch::{dispatch, Isa};
    use crate::FactorRow;

    /// Six vectors' sums through the shared shuffle trees and one by one.
    struct Reductions<'a>(&'a [FactorRow<16>; 6]);

    impl WithVector for Reductions<'_> {
        type Output = ([f32; 6], [f32; 3], [f32; 6]);
        unsafe fn run<V: Vector>(self) -> Self::Output {
            // SAFETY: each row is 16 f32, 64-byte aligned (at least one
            // vector); the CPU features are the caller's promise.
            unsafe {
                let v: [V; 6] = core::array::from_fn(|n| V::load(self.0[n].0.as_ptr()));
                (
                    V::reduce_sum6(v),
                    V::reduce_sum3([v[0], v[1], v[2]]),
                    v.map(|x| x.reduce_sum()),
                )
            }
        }
    }

    /// `reduce_sum3` and `reduce_sum6` give each vector's `reduce_sum` to
    /// the bit on every ISA, over sums whose rounding depends on the order
    /// (mixed magnitudes and signs).
    #[test]
    fn shared_reductions_are_each_reduction_to_the_bit() {
        let mut seed = 0x9E37_79B9u32;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let scale = [1e-3f32, 1.0, 3e4][(seed % 3) as usize];
            (seed as f32 / u32::MAX as f32 - 0.5) * scale
        };
        for _ in 0..200 {
            let rows: [FactorRow<16>; 6] = core::array::from_fn(|_| {
                let mut row = FactorRow::<16>::zeroed();
                row.0.iter_mut().for_each(|x| *x = next());
                row
            });
            for isa in Isa::available() {
                let (six, three, each) = dispatch(isa, Reductions(&rows));
                let bits = |v: &[f32]| {
                    v.iter()
                        .map(|x| x.to_bits())
                        .collect::<heapless::Vec<u32, 6>>()
                };
                assert_eq!(bits(&six), bits(&each), "{isa:?}");
                assert_eq!(bits(&three), bits(&each[..3]), "{isa:?}");
            }
        }
    }

    /// ‖e q − λ p‖² and ‖e p − λ q‖² from the first pass's sums agree with
    /// squaring the gradients lane by lane, and rounding below zero is
    /// clamped.
    #[test]
    fn squared_gradients_from_the_norms_match_the_gradients() {
        let p: [f32; 8] = [0.3, -0.1, 0.25, 0.05, -0.4, 0.12, 0.0, 0.2];
        let q: [f32; 8] = [-0.2, 0.15, 0.1, -0.35, 0.05, 0.3, -0.1, 0.07];
        let sum = |f: &dyn Fn(usize) -> f32| (0..8).map(f).sum::<f32>();
        let products = Products {
            pq: sum(&|k| p[k] * q[k]),
            pp: sum(&|k| p[k] * p[k]),
            qq: sum(&|k| q[k] * q[k]),
        };
        for (err, lambda) in [(0.8f32, 0.05f32), (-1.3, 0.1), (0.0, 0.02), (2.0, 0.0)] {
            let want_p = sum(&|k| (err * q[k] - lambda * p[k]).powi(2));
            let want_q = sum(&|k| (err * p[k] - lambda * q[k]).powi(2));
            let (got_p, got_q) = products.grad_sq(err, lambda);
            assert!(
                (got_p - want_p).abs() <= 1e-6 * (1.0 + want_p),
                "{got_p} {want_p}"
            );
            assert!(
                (got_q - want_q).abs() <= 1e-6 * (1.0 + want_q),
                "{got_q} {want_q}"
            );
        }
        // e q = λ p exactly: the gradient is zero, and the formula's
        // rounding may not make the accumulator shrink.
        let row = Products {
            pq: 0.3,
            pp: 0.3,
            qq: 0.3,
        };
        let (gp, gq) = row.grad_sq(0.1, 0.1);
        assert!(
            gp >= 0.0 && gq >= 0.0 && gp < 1e-8 && gq < 1e-8,
            "{gp} {gq}"
        );
    }
}
