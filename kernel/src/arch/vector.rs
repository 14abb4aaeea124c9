//! The vector every backend provides, and the one entry point through
//! which a backend runs a job: the bottom of the kernel.
//!
//! [`Vector`] is a register of f32 lanes with the handful of operations
//! the kernel's loops need (splat, load, store, add, mul, fused
//! multiply-add and -subtract, a horizontal sum, a prefetch hint, the
//! adaptive step sizes). It is implemented for `__m256` (AVX2+FMA),
//! `__m512` (AVX-512F), `float32x4_t` (NEON) and `f32` (the scalar
//! reference, one lane). The row operations and the training and
//! evaluation loops above it are written once, generically, and every
//! backend gets them.
//!
//! The methods are `#[inline(always)]` and carry no `#[target_feature]`:
//! they are inlined into a backend's one `#[target_feature]` entry point
//! (`run`), which instantiates a [`WithVector`] job with the backend's
//! vector, so the whole job compiles as one loop for that ISA (the shape
//! of memchr's `Vector` and pulp's `WithSimd`).

/// The backends, as the loop-shape table knows them (see
/// `crate::shape::loop_shape`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    /// The portable scalar reference.
    Scalar,
    /// x86-64 AVX2 with FMA.
    Avx2,
    /// x86-64 AVX-512F.
    Avx512,
    /// aarch64 Advanced SIMD.
    Neon,
}

/// A register of [`Vector::LANES`] f32 lanes.
///
/// # Safety (of every method)
///
/// The caller must be running on a CPU with the backend's features, which
/// being inside the backend's `#[target_feature]` entry point proves.
/// Pointers passed to `load` and `store` must be valid for `LANES` f32 and
/// aligned to `LANES` × 4 bytes (factor rows are 64-byte aligned and a
/// whole number of 64-byte lines, so every lane-sized chunk of one is).
pub(crate) trait Vector: Copy {
    /// The backend this vector belongs to.
    const BACKEND: Backend;
    /// f32 lanes per register.
    const LANES: usize;
    /// Independent accumulators a dot product keeps (up to four), so that
    /// one multiply-add's latency overlaps the next.
    const ACCUMULATORS: usize;
    /// Whether [`Vector::mul_add`] and [`Vector::mul_sub`] round once.
    /// Where they do, the SGD step takes its two-operation form,
    /// (1 − η λ) p + (η e) q; the scalar reference, which rounds every
    /// operation, keeps the textbook form p + η (e q − λ p).
    const FUSED: bool;

    /// Every lane `x`.
    unsafe fn splat(x: f32) -> Self;
    /// `LANES` f32 from `at`.
    unsafe fn load(at: *const f32) -> Self;
    /// Writes the lanes to `at`.
    unsafe fn store(self, at: *mut f32);
    /// self + b.
    unsafe fn add(self, b: Self) -> Self;
    /// self · b.
    unsafe fn mul(self, b: Self) -> Self;
    /// self · b + c (one rounding where [`Vector::FUSED`]).
    unsafe fn mul_add(self, b: Self, c: Self) -> Self;
    /// self · b − c (one rounding where [`Vector::FUSED`]).
    unsafe fn mul_sub(self, b: Self, c: Self) -> Self;
    /// The sum of the lanes, in the backend's fixed order.
    unsafe fn reduce_sum(self) -> f32;

    /// [`Vector::reduce_sum`] of each of three vectors (a step's p·q,
    /// ‖p‖² and ‖q‖²), to the bit, where a backend may share one shuffle
    /// tree between them.
    #[inline(always)]
    unsafe fn reduce_sum3(v: [Self; 3]) -> [f32; 3] {
        // SAFETY: the caller's promise.
        unsafe { [v[0].reduce_sum(), v[1].reduce_sum(), v[2].reduce_sum()] }
    }

    /// [`Vector::reduce_sum`] of each of six vectors (two steps' p·q, ‖p‖²
    /// and ‖q‖²), to the bit, where a backend may share one shuffle tree
    /// between them.
    #[inline(always)]
    unsafe fn reduce_sum6(v: [Self; 6]) -> [f32; 6] {
        // SAFETY: the caller's promise.
        unsafe {
            let [a, b] = [
                Self::reduce_sum3([v[0], v[1], v[2]]),
                Self::reduce_sum3([v[3], v[4], v[5]]),
            ];
            [a[0], a[1], a[2], b[0], b[1], b[2]]
        }
    }

    /// Every lane zero.
    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: the caller's promise is forwarded.
        unsafe { Self::splat(0.0) }
    }

    /// Hints that the cache line holding `at` will be read soon. `at` may
    /// point anywhere (even out of bounds): a prefetch never faults. The
    /// default does nothing.
    #[inline(always)]
    unsafe fn prefetch(at: *const u8) {
        let _ = at;
    }

    /// The adaptive step sizes of one update, η / √a_p and η / √a_q.
    /// Square root and division are correctly rounded in IEEE 754, so
    /// every backend gives the same bits; a backend overrides this to
    /// compute them in its own instruction encoding (the x86-64 ones do:
    /// libm's `sqrtf` is a legacy-SSE `sqrtss` there).
    #[inline(always)]
    unsafe fn step_sizes(eta: f32, acc_p: f32, acc_q: f32) -> (f32, f32) {
        (eta / libm::sqrtf(acc_p), eta / libm::sqrtf(acc_q))
    }
}

/// A job that runs with any [`Vector`]: the training pass, the evaluation
/// pass, one dot product or one update. A backend's entry point calls
/// [`WithVector::run`] with its vector type inside its
/// `#[target_feature]` function.
pub(crate) trait WithVector {
    /// What the job returns.
    type Output;
    /// Runs the job with vector type `V`.
    ///
    /// # Safety
    ///
    /// The CPU must have the features `V` needs.
    unsafe fn run<V: Vector>(self) -> Self::Output;
}
