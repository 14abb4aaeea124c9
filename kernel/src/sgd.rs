//! The SGD inner loop, written once for every ISA.
//!
//! [`SgdJob::new`] validates a block (every index, every side slice) once;
//! holding an `SgdJob` is the proof that the unchecked indexing in [`run`]
//! is in bounds. The job is dispatched to the ISA's `#[target_feature]`
//! entry point, which runs it with its own [`Vector`], so dot product and
//! update inline into one loop compiled for that ISA. The model and
//! schedule flags become const generics, and the loop's shape (streams,
//! paired steps, held rows, prefetches) is a constant of the vector type
//! and K ([`shape_for`]): no branch on any of them per rating.

use crate::arch::vector::{Vector, WithVector};
use crate::rowops::{dot_then_update, dot_then_update_pair, prefetch_row, Products, Step};
use crate::shape::{shape_for, BLOCK_STREAMS, HELD_STREAMS};
use crate::validate::{check_side, check_skip};
use crate::{Band, CheckedRatings, HyperParams, KernelError, LearningRate, ModelKind, Rating};

/// Ratings ahead in the same run whose item row is prefetched (item rows
/// are visited in no particular order).
const PREFETCH_AHEAD: usize = 2;

/// Ratings ahead in the same run whose user row is prefetched. Users come
/// sorted, ~6.5 ratings each in a full-scale block, so this reaches the
/// next user's row about one user ahead; at full scale the user band (1.9
/// MiB at K = 32, 7.3 MiB at K = 128) is beyond L2 and, across a stratum,
/// beyond L3, so without it every new user was a cache miss (one Netflix
/// block at K = 128: 14.6 → 35 M updates/s).
const USER_AHEAD: usize = 8;

/// Ratings ahead in the same run whose record is prefetched (16 sequential
/// record streams are more than the hardware prefetcher follows).
const RECORDS_AHEAD: usize = 32;

/// A block checked for training. Fields are private so that only
/// [`SgdJob::new`] can make one.
pub(crate) struct SgdJob<'a, 'r, const K: usize> {
    users: Band<'a, K>,
    items: Band<'a, K>,
    ratings: &'r [Rating],
    skip: &'r [u32],
    mu: f32,
    eta: f32,
    lambda: f32,
    lambda_b: f32,
    biased: bool,
    adaptive: bool,
}

impl<'a, 'r, const K: usize> SgdJob<'a, 'r, K> {
    /// Validates the bands against the model and schedule and against the
    /// sizes the ratings were checked for, and the skip list (strictly
    /// increasing positions inside the block) against the block.
    pub(crate) fn new(
        params: &HyperParams,
        epoch: u32,
        mu: f32,
        users: Band<'a, K>,
        items: Band<'a, K>,
        checked: CheckedRatings<'r>,
        skip: &'r [u32],
    ) -> Result<Self, KernelError> {
        let biased = params.model() == ModelKind::Biased;
        let adaptive = params.schedule() == LearningRate::Adaptive;
        for band in [&users, &items] {
            check_side(band.biases.len(), band.factors.len(), biased)?;
            check_side(band.grad_sq.len(), band.factors.len(), adaptive)?;
        }
        checked.fits(users.factors.len(), items.factors.len())?;
        let ratings = checked.ratings();
        check_skip(skip, ratings.len())?;
        Ok(Self {
            users,
            items,
            ratings,
            skip,
            mu,
            eta: params.step_size(epoch),
            lambda: params.reg_factors(),
            lambda_b: params.reg_bias(),
            biased,
            adaptive,
        })
    }
}

impl<const K: usize> WithVector for SgdJob<'_, '_, K> {
    type Output = f64;

    /// One SGD pass over the block; returns Σ e² of the errors before each
    /// update.
    #[inline(always)]
    unsafe fn run<V: Vector>(self) -> f64 {
        // SAFETY: the CPU features are forwarded from the caller.
        unsafe { run::<V, K>(self) }
    }
}

/// One SGD pass over the block; returns Σ e² of the errors before each
/// update.
///
/// # Safety
///
/// The CPU must have the features `V` needs.
#[inline(always)]
unsafe fn run<V: Vector, const K: usize>(job: SgdJob<'_, '_, K>) -> f64 {
    // SAFETY: the CPU features are forwarded from the caller.
    unsafe {
        match (job.biased, job.adaptive) {
            (false, false) => pass::<V, K, false, false>(job),
            (false, true) => pass::<V, K, false, true>(job),
            (true, false) => pass::<V, K, true, false>(job),
            (true, true) => pass::<V, K, true, true>(job),
        }
    }
}

/// The loop itself, for one model and schedule.
///
/// The block is split into [`BLOCK_STREAMS`] contiguous runs, visited round-robin
/// (see [`block_visit_order`]): consecutive updates then touch different user
/// rows (the block is sorted by user), so the CPU overlaps them instead of
/// waiting for each update's stores to feed the next rating's dot product.
/// Where two neighbours in that order do share a row, memory ordering makes
/// the result exactly that of the sequential order, which is what every
/// backend, the scalar reference included, computes.
///
/// Most rounds have a rating in every stream and every look-ahead position
/// inside the block; those run without a bounds check or a branch per
/// prefetch (the fast rounds). The last few rounds, where streams run out,
/// take the checked path. Both visit exactly [`block_visit_order`].
///
/// # Safety
///
/// The CPU must have the features `V` needs; `job.biased == BIASED` and
/// `job.adaptive == ADAPTIVE`.
#[inline(always)]
unsafe fn pass<V: Vector, const K: usize, const BIASED: bool, const ADAPTIVE: bool>(
    job: SgdJob<'_, '_, K>,
) -> f64 {
    let SgdJob {
        users,
        items,
        ratings,
        skip,
        mu,
        eta,
        lambda,
        lambda_b,
        ..
    } = job;
    let mut rows = Rows {
        user_rows: users.factors,
        user_biases: users.biases,
        user_acc: users.grad_sq,
        item_rows: items.factors,
        item_biases: items.biases,
        item_acc: items.grad_sq,
        mu,
        schedule: Schedule { eta, lambda },
        lambda_b,
    };
    let shape = const { shape_for::<V, K>() };
    if shape.holds_user_rows {
        // SAFETY: forwarded.
        return unsafe { held_pass::<V, K, BIASED, ADAPTIVE>(rows, ratings, skip) };
    }
    let len = ratings.len();
    let mut sse = 0.0f64;
    let run = len.div_ceil(BLOCK_STREAMS);
    let mut left_out = LeftOut::new(skip, run);
    // Rounds in which every stream has a rating and every look-ahead of
    // every stream (the last one's included) is inside the block.
    let last_stream = len.saturating_sub((BLOCK_STREAMS - 1) * run);
    let fast_rounds = last_stream.saturating_sub(LOOK_AHEAD);
    let base = ratings.as_ptr();
    for round in 0..fast_rounds {
        // Neighbouring streams two by two: where the backend pairs steps
        // and the two ratings share no row (and neither is left out), both
        // steps run at once, with the same result as one after the other.
        for stream in (0..BLOCK_STREAMS).step_by(2) {
            let n = stream * run + round;
            let m = n + run;
            // SAFETY: n + LOOK_AHEAD < len and m + LOOK_AHEAD < len in a fast
            // round (the last stream's n + LOOK_AHEAD < last_stream +
            // (BLOCK_STREAMS − 1)·run = len); `SgdJob::new` checked every
            // index; the CPU features are the caller's promise.
            unsafe {
                let (a, b) = (&*base.add(n), &*base.add(m));
                if shape.pairs
                    && a.user != b.user
                    && a.item != b.item
                    && left_out.neither(stream, n, m)
                {
                    rows.prefetch_ahead::<V>(base, n);
                    rows.prefetch_ahead::<V>(base, m);
                    let [sse_a, sse_b] = rows.update_pair::<V, BIASED, ADAPTIVE>(a, b);
                    sse += sse_a;
                    sse += sse_b;
                    continue;
                }
                // Written out twice rather than as a loop over a two-element
                // array, which the compiler built on the stack every time:
                // one more store per step, 8% of the K = 128 rate.
                if !left_out.passes(stream, n) {
                    rows.prefetch_ahead::<V>(base, n);
                    sse += rows.update::<V, BIASED, ADAPTIVE>(a);
                }
                if !left_out.passes(stream + 1, m) {
                    rows.prefetch_ahead::<V>(base, m);
                    sse += rows.update::<V, BIASED, ADAPTIVE>(b);
                }
            }
        }
    }
    for round in fast_rounds..run {
        for stream in 0..BLOCK_STREAMS {
            let n = stream * run + round;
            let Some(r) = ratings.get(n) else { continue };
            if left_out.passes(stream, n) {
                continue;
            }
            if let Some(ahead) = ratings
                .get(n + PREFETCH_AHEAD)
                .filter(|_| shape.prefetch_items)
            {
                // SAFETY: `SgdJob::new` checked every item index; the CPU
                // features are the caller's promise.
                unsafe { prefetch_row::<V, K>(rows.item_rows.get_unchecked(ahead.item as usize)) };
            }
            if let Some(ahead) = ratings.get(n + USER_AHEAD) {
                // SAFETY: as above, for the user index.
                unsafe { prefetch_row::<V, K>(rows.user_rows.get_unchecked(ahead.user as usize)) };
            }
            // SAFETY: `SgdJob::new` checked the rating's indices; the CPU
            // features are the caller's promise.
            sse += unsafe { rows.update::<V, BIASED, ADAPTIVE>(r) };
        }
    }
    sse
}

/// A run's current user, whose row, bias and accumulator live here (in
/// registers, once the loop is compiled) instead of in the band while the
/// run stays on that user.
struct HeldUser<const K: usize> {
    /// The user (`None`: nothing held).
    user: Option<usize>,
    row: crate::FactorRow<K>,
    bias: f32,
    acc: f32,
}

impl<const K: usize> HeldUser<K> {
    /// Writes the held row, bias and accumulator back to the band and
    /// holds nothing.
    ///
    /// # Safety
    ///
    /// The held user indexes the band (and its biases when BIASED, its
    /// accumulators when ADAPTIVE).
    #[inline(always)]
    unsafe fn release<const BIASED: bool, const ADAPTIVE: bool>(&mut self, rows: &mut Rows<'_, K>) {
        if let Some(u) = self.user.take() {
            // SAFETY: the caller's promise.
            unsafe {
                *rows.user_rows.get_unchecked_mut(u) = self.row;
                if BIASED {
                    *rows.user_biases.get_unchecked_mut(u) = self.bias;
                }
                if ADAPTIVE {
                    *rows.user_acc.get_unchecked_mut(u) = self.acc;
                }
            }
        }
    }

    /// Holds user `u` (after releasing what was held).
    ///
    /// # Safety
    ///
    /// `u` and the held user index the band (and its biases when BIASED,
    /// its accumulators when ADAPTIVE).
    #[inline(always)]
    unsafe fn hold<const BIASED: bool, const ADAPTIVE: bool>(
        &mut self,
        rows: &mut Rows<'_, K>,
        u: usize,
    ) {
        // SAFETY: the caller's promise.
        unsafe {
            self.release::<BIASED, ADAPTIVE>(rows);
            self.row = *rows.user_rows.get_unchecked(u);
            self.bias = if BIASED {
                *rows.user_biases.get_unchecked(u)
            } else {
                0.0
            };
            self.acc = if ADAPTIVE {
                *rows.user_acc.get_unchecked(u)
            } else {
                0.0
            };
        }
        self.user = Some(u);
    }
}

/// The loop where the backend holds user rows ([`HELD_STREAMS`]): two
/// runs visited round-robin, each holding its current user's row, bias and
/// accumulator between its ratings. A user is held by at
/// most one run: a run that reaches the user the other run holds first
/// makes the other write it back. Every step computes exactly what
/// [`Rows::update`] computes, so the result is that of the visiting order.
///
/// # Safety
///
/// As for [`pass`]: the ratings' indices were checked against `rows`; the
/// CPU has the features `V` needs.
#[inline(always)]
unsafe fn held_pass<V: Vector, const K: usize, const BIASED: bool, const ADAPTIVE: bool>(
    mut rows: Rows<'_, K>,
    ratings: &[Rating],
    skip: &[u32],
) -> f64 {
    let len = ratings.len();
    let run = len.div_ceil(HELD_STREAMS);
    let mut left_out = LeftOut::new(skip, run);
    let mut sse = 0.0f64;
    let mut first = HeldUser::<K> {
        user: None,
        row: crate::FactorRow::zeroed(),
        bias: 0.0,
        acc: 0.0,
    };
    let mut second = HeldUser::<K> {
        user: None,
        row: crate::FactorRow::zeroed(),
        bias: 0.0,
        acc: 0.0,
    };
    for round in 0..run {
        // The two runs written out (no array of held users to index, so
        // that both stay in registers).
        // SAFETY: `SgdJob::new` checked every index; the CPU features are
        // the caller's promise.
        unsafe {
            let n = round;
            if !left_out.passes(0, n) {
                sse += held_step::<V, K, BIASED, ADAPTIVE>(
                    &mut rows,
                    ratings,
                    n,
                    &mut first,
                    &mut second,
                );
            }
            let m = run + round;
            if m < len && !left_out.passes(1, m) {
                sse += held_step::<V, K, BIASED, ADAPTIVE>(
                    &mut rows,
                    ratings,
                    m,
                    &mut second,
                    &mut first,
                );
            }
        }
    }
    // SAFETY: the held users are indices `SgdJob::new` checked.
    unsafe {
        first.release::<BIASED, ADAPTIVE>(&mut rows);
        second.release::<BIASED, ADAPTIVE>(&mut rows);
    }
    sse
}

/// One step of [`held_pass`] for rating `n`, by the run holding `mine`
/// (`theirs` is the other run's); returns e².
///
/// # Safety
///
/// As for [`held_pass`]; `n < ratings.len()`.
#[inline(always)]
unsafe fn held_step<V: Vector, const K: usize, const BIASED: bool, const ADAPTIVE: bool>(
    rows: &mut Rows<'_, K>,
    ratings: &[Rating],
    n: usize,
    mine: &mut HeldUser<K>,
    theirs: &mut HeldUser<K>,
) -> f64 {
    // SAFETY: the caller's promise.
    unsafe {
        let r = ratings.get_unchecked(n);
        let shape = const { shape_for::<V, K>() };
        if let Some(ahead) = ratings.get(n + USER_AHEAD) {
            prefetch_row::<V, K>(rows.user_rows.get_unchecked(ahead.user as usize));
        }
        if shape.prefetch_items {
            if let Some(ahead) = ratings.get(n + PREFETCH_AHEAD) {
                prefetch_row::<V, K>(rows.item_rows.get_unchecked(ahead.item as usize));
            }
        }
        let (u, i) = (r.user as usize, r.item as usize);
        if mine.user != Some(u) {
            if theirs.user == Some(u) {
                theirs.release::<BIASED, ADAPTIVE>(rows);
            }
            mine.hold::<BIASED, ADAPTIVE>(rows, u);
        }
        let offset = if BIASED {
            rows.mu + mine.bias + *rows.item_biases.get_unchecked(i)
        } else {
            0.0
        };
        let schedule = rows.schedule;
        let item_acc = &mut *rows.item_acc;
        // The held accumulator as a one-element band, user 0 in it.
        let user_acc = core::slice::from_mut(&mut mine.acc);
        let step = dot_then_update::<V, K, ADAPTIVE>(
            &mut mine.row,
            rows.item_rows.get_unchecked_mut(i),
            shape.rows_in_registers,
            |products| {
                let err = r.value - predict::<BIASED>(products.pq, offset);
                schedule.step::<V, K, ADAPTIVE>(err, products, user_acc, 0, item_acc, i)
            },
        );
        if BIASED {
            step_bias_pair(
                &mut mine.bias,
                rows.item_biases.get_unchecked_mut(i),
                step,
                rows.lambda_b,
            );
        }
        f64::from(step.err) * f64::from(step.err)
    }
}

/// Where each stream's next left-out position is: the skip list is
/// strictly increasing, so each stream walks its own part of it, and the
/// check per rating is one compare.
struct LeftOut<'s> {
    skip: &'s [u32],
    /// Per stream, the index in `skip` of its next left-out position…
    index: [usize; BLOCK_STREAMS],
    /// …and that position (`usize::MAX` when none is left).
    next: [usize; BLOCK_STREAMS],
}

impl<'s> LeftOut<'s> {
    fn new(skip: &'s [u32], run: usize) -> Self {
        let index: [usize; BLOCK_STREAMS] =
            core::array::from_fn(|stream| skip.partition_point(|&h| (h as usize) < stream * run));
        let next = index.map(|i| Self::position(skip, i));
        Self { skip, index, next }
    }

    /// Inlined: as a call, it made the compiler keep the loop's running
    /// Σ e² on the stack (stored every step) to survive it.
    #[inline(always)]
    fn position(skip: &[u32], i: usize) -> usize {
        skip.get(i).map_or(usize::MAX, |&h| h as usize)
    }

    /// Whether neither rating `n` of `stream` nor rating `m` of the next
    /// stream is left out (nothing moves on).
    #[inline(always)]
    fn neither(&self, stream: usize, n: usize, m: usize) -> bool {
        n != self.next[stream] && m != self.next[stream + 1]
    }

    /// Whether rating `n` of `stream` is left out (then the stream moves
    /// on to its next left-out position).
    #[inline(always)]
    fn passes(&mut self, stream: usize, n: usize) -> bool {
        if n != self.next[stream] {
            return false;
        }
        self.index[stream] += 1;
        self.next[stream] = Self::position(self.skip, self.index[stream]);
        true
    }
}

/// The furthest look-ahead of the loop (records excluded: their prefetch
/// never reads the record).
const LOOK_AHEAD: usize = if USER_AHEAD > PREFETCH_AHEAD {
    USER_AHEAD
} else {
    PREFETCH_AHEAD
};

/// The block's rows and the step's constants, for the per-rating update.
struct Rows<'a, const K: usize> {
    user_rows: &'a mut [crate::FactorRow<K>],
    user_biases: &'a mut [f32],
    user_acc: &'a mut [f32],
    item_rows: &'a mut [crate::FactorRow<K>],
    item_biases: &'a mut [f32],
    item_acc: &'a mut [f32],
    mu: f32,
    schedule: Schedule,
    lambda_b: f32,
}

impl<const K: usize> Rows<'_, K> {
    /// Prefetches what the ratings ahead of position `n` in its stream
    /// will need: the item row [`PREFETCH_AHEAD`] on (where the loop's
    /// shape prefetches items), the user row
    /// [`USER_AHEAD`] on, the record [`RECORDS_AHEAD`] on.
    ///
    /// # Safety
    ///
    /// `n + LOOK_AHEAD` is inside the block `base` points to, whose indices
    /// `SgdJob::new` checked; the CPU has the features `V` needs.
    #[inline(always)]
    unsafe fn prefetch_ahead<V: Vector>(&self, base: *const Rating, n: usize) {
        // SAFETY: the caller's promise.
        unsafe {
            if const { shape_for::<V, K>().prefetch_items } {
                let item_ahead = (*base.add(n + PREFETCH_AHEAD)).item as usize;
                prefetch_row::<V, K>(self.item_rows.get_unchecked(item_ahead));
            }
            let user_ahead = (*base.add(n + USER_AHEAD)).user as usize;
            prefetch_row::<V, K>(self.user_rows.get_unchecked(user_ahead));
            V::prefetch(base.wrapping_add(n + RECORDS_AHEAD).cast());
        }
    }

    /// The bias part of the prediction, μ + b_u + b_i (unused by the
    /// plain model).
    ///
    /// # Safety
    ///
    /// `u` and `i` index the biases when BIASED.
    #[inline(always)]
    unsafe fn offset<const BIASED: bool>(&self, u: usize, i: usize) -> f32 {
        if BIASED {
            // SAFETY: the caller's promise.
            unsafe {
                self.mu + *self.user_biases.get_unchecked(u) + *self.item_biases.get_unchecked(i)
            }
        } else {
            0.0
        }
    }

    /// The bias step after a factor step (BIASED only).
    ///
    /// # Safety
    ///
    /// As for [`Rows::offset`].
    #[inline(always)]
    unsafe fn step_biases<const BIASED: bool>(&mut self, u: usize, i: usize, step: Step) {
        if BIASED {
            // SAFETY: the caller's promise.
            unsafe {
                step_bias_pair(
                    self.user_biases.get_unchecked_mut(u),
                    self.item_biases.get_unchecked_mut(i),
                    step,
                    self.lambda_b,
                );
            }
        }
    }

    /// The steps for `a` and then `b`, which share no user and no item,
    /// computed at once; returns e² of each.
    ///
    /// # Safety
    ///
    /// As for [`Rows::update`], for both ratings; `a.user != b.user` and
    /// `a.item != b.item`.
    #[inline(always)]
    unsafe fn update_pair<V: Vector, const BIASED: bool, const ADAPTIVE: bool>(
        &mut self,
        a: &Rating,
        b: &Rating,
    ) -> [f64; 2] {
        let users = [a.user as usize, b.user as usize];
        let items = [a.item as usize, b.item as usize];
        let values = [a.value, b.value];
        // SAFETY: the caller's promise: indices in range and pairwise
        // distinct, so the four rows (and accumulators) are disjoint; CPU
        // features.
        unsafe {
            let offsets = [
                self.offset::<BIASED>(users[0], items[0]),
                self.offset::<BIASED>(users[1], items[1]),
            ];
            let [pa, pb] = self.user_rows.get_disjoint_unchecked_mut(users);
            let [qa, qb] = self.item_rows.get_disjoint_unchecked_mut(items);
            let schedule = self.schedule;
            let (user_acc, item_acc) = (&mut *self.user_acc, &mut *self.item_acc);
            let steps =
                dot_then_update_pair::<V, K, ADAPTIVE>((pa, qa), (pb, qb), |s, products| {
                    let err = values[s] - predict::<BIASED>(products.pq, offsets[s]);
                    schedule.step::<V, K, ADAPTIVE>(
                        err, products, user_acc, users[s], item_acc, items[s],
                    )
                });
            for s in 0..2 {
                self.step_biases::<BIASED>(users[s], items[s], steps[s]);
            }
            steps.map(|step| f64::from(step.err) * f64::from(step.err))
        }
    }

    /// One SGD update for rating `r`; returns e² of the error before it.
    ///
    /// # Safety
    ///
    /// `r.user` and `r.item` index the bands (and their biases /
    /// accumulators when BIASED / ADAPTIVE), as `SgdJob::new` checks; the
    /// CPU has the features `V` needs.
    #[inline(always)]
    unsafe fn update<V: Vector, const BIASED: bool, const ADAPTIVE: bool>(
        &mut self,
        r: &Rating,
    ) -> f64 {
        let (u, i) = (r.user as usize, r.item as usize);
        // SAFETY: the caller's promise (indices in range, CPU features).
        unsafe {
            let offset = self.offset::<BIASED>(u, i);
            let p = self.user_rows.get_unchecked_mut(u);
            let q = self.item_rows.get_unchecked_mut(i);
            let schedule = self.schedule;
            let (user_acc, item_acc) = (&mut *self.user_acc, &mut *self.item_acc);
            // One load of each row for both passes where they fit.
            let in_registers = const { shape_for::<V, K>().rows_in_registers };
            let step = dot_then_update::<V, K, ADAPTIVE>(p, q, in_registers, |products| {
                let err = r.value - predict::<BIASED>(products.pq, offset);
                schedule.step::<V, K, ADAPTIVE>(err, products, user_acc, u, item_acc, i)
            });
            // The biases after the rows: their stores come after every
            // load of the rows.
            self.step_biases::<BIASED>(u, i, step);
            f64::from(step.err) * f64::from(step.err)
        }
    }
}

/// The factor step's constants for the epoch: the schedule's step size η
/// and the regularisation λ.
#[derive(Clone, Copy)]
struct Schedule {
    eta: f32,
    lambda: f32,
}

impl Schedule {
    /// The step of error `err` on user row `u` and item row `i`, whose
    /// first pass gave `products`: with the adaptive schedule (ADAPTIVE),
    /// [`adaptive_step`] on the accumulators `user_acc[u]` and
    /// `item_acc[i]`; else the one step size η for both rows (constant and
    /// decaying schedules), and no accumulator is touched. One definition
    /// for every path of the loop, so that all give the same bits.
    ///
    /// # Safety
    ///
    /// With ADAPTIVE, `u` indexes `user_acc` and `i` indexes `item_acc`;
    /// the CPU has the features `V` needs.
    #[inline(always)]
    unsafe fn step<V: Vector, const K: usize, const ADAPTIVE: bool>(
        self,
        err: f32,
        products: Products,
        user_acc: &mut [f32],
        u: usize,
        item_acc: &mut [f32],
        i: usize,
    ) -> Step {
        let Self { eta, lambda } = self;
        if ADAPTIVE {
            // SAFETY: the caller's promise.
            unsafe {
                adaptive_step::<V, K>(
                    err,
                    eta,
                    lambda,
                    products,
                    user_acc.get_unchecked_mut(u),
                    item_acc.get_unchecked_mut(i),
                )
            }
        } else {
            Step {
                err,
                eta_p: eta,
                eta_q: eta,
                lambda,
            }
        }
    }
}

/// The adaptive schedule's step of error `err` on rows whose first pass
/// gave `products` (with the squared norms): step sizes η / √G from the
/// rows' accumulators `acc_p` and `acc_q`, which then grow by the step's
/// mean squared gradients, ‖e q − λ p‖² / K and ‖e p − λ q‖² / K.
///
/// # Safety
///
/// The CPU has the features `V` needs.
#[inline(always)]
unsafe fn adaptive_step<V: Vector, const K: usize>(
    err: f32,
    eta: f32,
    lambda: f32,
    products: Products,
    acc_p: &mut f32,
    acc_q: &mut f32,
) -> Step {
    // SAFETY: the caller's promise.
    let (eta_p, eta_q) = unsafe { V::step_sizes(eta, *acc_p, *acc_q) };
    let (gp_sq, gq_sq) = products.grad_sq(err, lambda);
    let inv_k = 1.0 / K as f32;
    *acc_p += gp_sq * inv_k;
    *acc_q += gq_sq * inv_k;
    Step {
        err,
        eta_p,
        eta_q,
        lambda,
    }
}

/// The bias step after factor step `step`: the user's bias `bu` and the
/// item's `bi` each move by η (e − λ_b b), with the step size of its row,
/// written as b ← (1 − ηλ_b) b + ηe. With a step size fixed for the pass
/// the factor 1 − ηλ_b is a constant of the loop and ηe is the product
/// the row update splats, so a bias takes one multiply and one add
/// instead of four operations in a chain (AVX-512 at K = 32, where the
/// scalar work is a large part of a step: 1.09–1.10× on the stratum and
/// Netflix-shaped blocks). One definition for the held and the in-band
/// biases and for every ISA, so that all paths give the same bits.
#[inline(always)]
fn step_bias_pair(bu: &mut f32, bi: &mut f32, step: Step, lambda_b: f32) {
    *bu = (1.0 - step.eta_p * lambda_b) * *bu + step.eta_p * step.err;
    *bi = (1.0 - step.eta_q * lambda_b) * *bi + step.eta_q * step.err;
}

/// The prediction from the factors' dot product and the bias part
/// ([`Rows::offset`]); the plain model has no bias part.
#[inline(always)]
fn predict<const BIASED: bool>(dot: f32, offset: f32) -> f32 {
    if BIASED {
        dot + offset
    } else {
        dot
    }
}

/// The positions of a block of `len` ratings, split into `streams` runs,
/// that [`BlockTrainer::train`](crate::BlockTrainer::train), given a skip list, trains on, in
/// its order: [`block_visit_order`] less the positions in `skip`.
pub fn block_visit_order_skipping(
    len: usize,
    streams: usize,
    skip: &[u32],
) -> impl Iterator<Item = usize> + '_ {
    block_visit_order(len, streams).filter(move |&n| skip.binary_search(&(n as u32)).is_err())
}

/// The order in which [`BlockTrainer::train`](crate::BlockTrainer::train) visits a block of
/// `len` ratings: `streams` contiguous runs of ⌈len / streams⌉ ratings,
/// round-robin (rating 0, then the first of run 1, …, then rating 1, …).
/// `streams` is [`block_streams`](crate::advanced::block_streams) of the
/// ISA and row length trained.
pub fn block_visit_order(len: usize, streams: usize) -> impl Iterator<Item = usize> {
    let run = len.div_ceil(streams.max(1));
    (0..run)
        .flat_map(move |round| (0..streams).map(move |stream| stream * run + round))
        .filter(move |&n| n < len)
}
