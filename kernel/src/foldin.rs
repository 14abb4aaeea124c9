//! Fold-in: a new user's row and bias from their ratings against fixed
//! item factors, the regularised least-squares problem of the user's part
//! of J (see [`fold_in`]), solved on the stack without allocation.

use core::fmt;

use crate::{FactorRow, HyperParams, ModelKind};

/// Largest pivot shrinkage the Cholesky factorisation accepts: a pivot
/// below this fraction of its diagonal entry means the system is singular
/// or so ill-conditioned that an f32 answer would be noise (κ ≳ 10¹⁰).
const PIVOT_FLOOR: f64 = 1e-10;

/// Ratings added to the normal equations per pass over them.
const CHUNK: usize = 4;

/// Why [`fold_in`] (or building its inputs) refused. Nothing is written
/// to the caller's row when it is returned.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum FoldInError {
    /// λ must be finite and ≥ 0.
    RegFactors(f32),
    /// λ_b must be finite and ≥ 0.
    RegBias(f32),
    /// The global mean μ must be finite.
    Mean(f32),
    /// The per-row prior λ₀ must be finite and ≥ 0.
    RegRow(f32),
    /// Item rows are stored `stride` values apart, which cannot hold `rank`
    /// factors (or `stride` is 0).
    Stride {
        /// Values from one item row to the next.
        stride: usize,
        /// Factors used per row.
        rank: usize,
    },
    /// The item factor slice is not a whole number of rows.
    RaggedFactors {
        /// Values in the slice.
        len: usize,
        /// Values per row.
        stride: usize,
    },
    /// The biased model needs exactly one bias per item row.
    ItemBiases {
        /// Biases given.
        len: usize,
        /// Item rows.
        items: usize,
    },
    /// The rank exceeds the capacity `K` the solve was compiled for.
    RankAboveCapacity {
        /// Factors per row.
        rank: usize,
        /// The const-generic capacity `K`.
        capacity: usize,
    },
    /// The output row is shorter than the rank.
    RowTooShort {
        /// Length of the output row.
        len: usize,
        /// Factors to be written.
        rank: usize,
    },
    /// A rating names an item outside the item rows.
    ItemOutOfRange {
        /// Position of the rating in the input.
        rating: usize,
        /// The offending item index.
        item: u32,
        /// Item rows.
        items: usize,
    },
    /// A rating value is NaN or infinite.
    RatingNotFinite {
        /// Position of the rating in the input.
        rating: usize,
        /// The value.
        value: f32,
    },
    /// A rated item's factors or bias contain a NaN or infinity.
    ItemNotFinite {
        /// Position of the first rating of that item in the input.
        rating: usize,
        /// The item index.
        item: u32,
    },
    /// The normal equations are singular or too ill-conditioned for an f32
    /// answer: with λ = 0 (or λ_b = 0), the rated items' rows do not span
    /// the rank. Fold in with λ > 0.
    Singular,
    /// The minimiser exists but a value is outside the f32 range.
    SolutionOverflow,
}

impl fmt::Display for FoldInError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::RegFactors(v) => write!(f, "factor regularisation {v} must be finite and >= 0"),
            Self::RegBias(v) => write!(f, "bias regularisation {v} must be finite and >= 0"),
            Self::Mean(v) => write!(f, "global mean {v} must be finite"),
            Self::RegRow(v) => write!(f, "per-row prior {v} must be finite and >= 0"),
            Self::Stride { stride, rank } => write!(
                f,
                "item rows {stride} values apart cannot hold {rank} factors (stride must be >= rank and > 0)"
            ),
            Self::RaggedFactors { len, stride } => write!(
                f,
                "{len} item factor values are not a whole number of rows of {stride}"
            ),
            Self::ItemBiases { len, items } => write!(
                f,
                "the biased model needs one bias per item: {len} biases for {items} items"
            ),
            Self::RankAboveCapacity { rank, capacity } => write!(
                f,
                "rank {rank} exceeds the fold-in capacity K = {capacity}; call with K >= rank"
            ),
            Self::RowTooShort { len, rank } => {
                write!(f, "output row of {len} values cannot hold {rank} factors")
            }
            Self::ItemOutOfRange {
                rating,
                item,
                items,
            } => write!(
                f,
                "rating {rating}: item index {item} outside the {items} item rows"
            ),
            Self::RatingNotFinite { rating, value } => {
                write!(f, "rating {rating}: value {value} is not finite")
            }
            Self::ItemNotFinite { rating, item } => write!(
                f,
                "rating {rating}: item {item} has a non-finite factor or bias in the model"
            ),
            Self::Singular => f.write_str(
                "fold-in normal equations are singular or ill-conditioned \
                 (the rated items do not determine the row); use a regularisation > 0",
            ),
            Self::SolutionOverflow => {
                f.write_str("the folded-in row has values outside the f32 range")
            }
        }
    }
}

impl core::error::Error for FoldInError {}

/// The fixed quantities of a fold-in: the model kind, the regularisation
/// λ and λ_b (per rating) and λ₀ (per row) it was trained with, and its
/// global mean μ.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FoldIn {
    model: ModelKind,
    reg_factors: f32,
    reg_bias: f32,
    reg_row: f32,
    mu: f32,
}

impl FoldIn {
    /// Validates the parameters: λ and λ_b finite and ≥ 0, μ finite (μ and
    /// λ_b are ignored by the plain model). No per-row prior (λ₀ = 0): the
    /// user's part of the kernel's J exactly.
    pub fn new(
        model: ModelKind,
        reg_factors: f32,
        reg_bias: f32,
        mu: f32,
    ) -> Result<Self, FoldInError> {
        if !(reg_factors.is_finite() && reg_factors >= 0.0) {
            return Err(FoldInError::RegFactors(reg_factors));
        }
        if !(reg_bias.is_finite() && reg_bias >= 0.0) {
            return Err(FoldInError::RegBias(reg_bias));
        }
        if !mu.is_finite() {
            return Err(FoldInError::Mean(mu));
        }
        Ok(Self {
            model,
            reg_factors,
            reg_bias,
            reg_row: 0.0,
            mu,
        })
    }

    /// The same with a per-row prior λ₀‖p‖² on the factors (finite, ≥ 0),
    /// counted once for the row whatever its number of ratings: pass the
    /// λ₀ the model was trained with (funkd's `reg_row`), so that a user
    /// with a handful of ratings is held as near zero as trained users
    /// with as few were.
    pub fn with_row_prior(self, reg_row: f32) -> Result<Self, FoldInError> {
        if !(reg_row.is_finite() && reg_row >= 0.0) {
            return Err(FoldInError::RegRow(reg_row));
        }
        Ok(Self { reg_row, ..self })
    }

    /// The parameters a model was trained with, and its mean μ.
    pub fn from_params(params: &HyperParams, mu: f32) -> Result<Self, FoldInError> {
        Self::new(params.model(), params.reg_factors(), params.reg_bias(), mu)
    }

    /// The model kind.
    pub const fn model(&self) -> ModelKind {
        self.model
    }
    /// λ.
    pub const fn reg_factors(&self) -> f32 {
        self.reg_factors
    }
    /// λ_b.
    pub const fn reg_bias(&self) -> f32 {
        self.reg_bias
    }
    /// λ₀.
    pub const fn reg_row(&self) -> f32 {
        self.reg_row
    }
    /// μ.
    pub const fn mu(&self) -> f32 {
        self.mu
    }
}

/// The fixed item side of a model, borrowed in place: item `i`'s factors
/// are `factors[i·stride .. i·stride + rank]` (a row-major matrix whose
/// rows may be padded past the rank), and its bias `biases[i]`.
#[derive(Clone, Copy, Debug)]
pub struct ItemFactors<'a> {
    factors: &'a [f32],
    stride: usize,
    rank: usize,
    biases: &'a [f32],
}

impl<'a> ItemFactors<'a> {
    /// Checks the layout: `0 < stride`, `rank ≤ stride`, `factors` a whole
    /// number of rows, and `biases` empty or one per row (the biased model
    /// requires one per row; [`fold_in`] checks that).
    pub fn new(
        factors: &'a [f32],
        stride: usize,
        rank: usize,
        biases: &'a [f32],
    ) -> Result<Self, FoldInError> {
        if stride == 0 || rank > stride {
            return Err(FoldInError::Stride { stride, rank });
        }
        if !factors.len().is_multiple_of(stride) {
            return Err(FoldInError::RaggedFactors {
                len: factors.len(),
                stride,
            });
        }
        let items = factors.len() / stride;
        if !(biases.is_empty() || biases.len() == items) {
            return Err(FoldInError::ItemBiases {
                len: biases.len(),
                items,
            });
        }
        Ok(Self {
            factors,
            stride,
            rank,
            biases,
        })
    }

    /// The same view over a band of aligned rows, using their first `rank`
    /// values.
    pub fn from_rows<const K: usize>(
        rows: &'a [FactorRow<K>],
        rank: usize,
        biases: &'a [f32],
    ) -> Result<Self, FoldInError> {
        Self::new(bytemuck::cast_slice(rows), K, rank, biases)
    }

    /// Number of item rows.
    pub fn items(&self) -> usize {
        self.factors.len() / self.stride
    }
    /// Factors used per row.
    pub const fn rank(&self) -> usize {
        self.rank
    }
    /// Values from one row to the next.
    pub const fn stride(&self) -> usize {
        self.stride
    }

    /// Item `i`'s `rank` factors (`i` checked by the caller).
    fn row(&self, i: usize) -> &'a [f32] {
        &self.factors[i * self.stride..][..self.rank]
    }
}

/// One rating of the user being folded in.
///
/// Plain old data: 8 bytes, `repr(C)`, every bit pattern valid (an
/// out-of-range item or a non-finite value is refused by [`fold_in`]), so
/// a foreign caller's array of `{uint32_t item; float value;}` can be
/// viewed as a slice of these without a copy.
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct ItemRating {
    /// Item index into the [`ItemFactors`].
    pub item: u32,
    /// The rating.
    pub value: f32,
}

/// Folds a new user in: writes the user's factors into `row[..rank]`,
/// zeroes `row[rank..]` (padding), and returns the user's bias (0 for the
/// plain model).
///
/// With the item rows q_i and biases b_i fixed, the result is the exact
/// minimiser of the user's part of the objective J (n = |I_u| ratings)
/// plus the optional per-row prior of [`FoldIn::with_row_prior`]:
///
/// J_u(p, b) = Σ_i∈I_u [ (r_ui − μ − b − b_i − p·q_i)² + λ‖p‖² + λ_b b² ] + λ₀‖p‖²,
///
/// found from the normal equations, with q̃_i = (q_i, 1) and x = (p, b),
///
/// (Σ_i q̃_i q̃_iᵀ + diag(nλ + λ₀, …, nλ + λ₀, nλ_b)) x = Σ_i q̃_i (r_ui − μ − b_i)
///
/// (the plain model: no μ, b_i or bias row), by a Cholesky factorisation.
/// Sums and the solve are in f64 (products of f32 are exact in f64), the
/// answer rounded to f32 once. A pivot below 10⁻¹⁰ of its diagonal entry
/// (a singular system, or κ ≳ 10¹⁰, where an f32 answer would be noise)
/// is refused with [`FoldInError::Singular`]; with λ > 0 or λ₀ > 0 that
/// cannot happen for ordinary data.
///
/// `K` is the capacity of the solve (`rank ≤ K`): the system lives on the
/// stack, 8·K² bytes (8 KiB at K = 32, 128 KiB at K = 128, 512 KiB at
/// K = 256), so pass the model's padded row length, not a generous
/// maximum. Work: n·r(r+1)/2 multiply-adds to build the system (r the
/// rank), r³/6 to factorise it; at K = r = 32 with 200 ratings about
/// 30 µs on one x86-64 core (`examples/foldin_time.rs`).
///
/// An item rated twice counts twice. No ratings give the zero row and
/// bias (the minimiser of the regularisation alone). Every input is
/// checked before any work; on error `row` is untouched.
///
/// # Examples
///
/// ```
/// use funk_kernel::{fold_in, FoldIn, ItemFactors, ItemRating, ModelKind};
/// // Three items of rank 2, rows padded to 4 values, with biases.
/// let factors = [
///     1.0, 0.0, 0.0, 0.0, // item 0
///     0.0, 2.0, 0.0, 0.0, // item 1
///     1.0, 1.0, 0.0, 0.0, // item 2
/// ];
/// let biases = [0.5, -0.5, 0.0];
/// let items = ItemFactors::new(&factors, 4, 2, &biases).unwrap();
/// let params = FoldIn::new(ModelKind::Biased, 0.0, 0.0, 3.0).unwrap();
/// let ratings = [
///     ItemRating { item: 0, value: 4.5 },
///     ItemRating { item: 1, value: 2.5 },
///     ItemRating { item: 2, value: 4.0 },
/// ];
/// let mut p = [f32::NAN; 4];
/// let bias = fold_in::<16>(&params, &items, &ratings, &mut p).unwrap();
/// // Unregularised, three ratings and three unknowns (p₀, p₁, b): an
/// // exact fit, μ + b + b_i + p·q_i = r for every rating.
/// for r in &ratings {
///     let (q, b_i) = (&factors[4 * r.item as usize..], biases[r.item as usize]);
///     let predicted = 3.0 + bias + b_i + q[0] * p[0] + q[1] * p[1];
///     assert!((predicted - r.value).abs() < 1e-5, "{predicted} vs {}", r.value);
/// }
/// assert_eq!(&p[2..], &[0.0, 0.0]);
/// // With λ > 0 the row shrinks towards zero.
/// let shrunk = FoldIn::new(ModelKind::Biased, 0.5, 0.5, 3.0).unwrap();
/// let mut s = [0.0; 2];
/// fold_in::<16>(&shrunk, &items, &ratings, &mut s).unwrap();
/// assert!(s[0].hypot(s[1]) < p[0].hypot(p[1]));
/// ```
pub fn fold_in<const K: usize>(
    params: &FoldIn,
    items: &ItemFactors<'_>,
    ratings: &[ItemRating],
    row: &mut [f32],
) -> Result<f32, FoldInError> {
    let rank = items.rank;
    let biased = params.model == ModelKind::Biased;
    if rank > K {
        return Err(FoldInError::RankAboveCapacity { rank, capacity: K });
    }
    if row.len() < rank {
        return Err(FoldInError::RowTooShort {
            len: row.len(),
            rank,
        });
    }
    let n_items = items.items();
    if biased && items.biases.len() != n_items {
        return Err(FoldInError::ItemBiases {
            len: items.biases.len(),
            items: n_items,
        });
    }
    for (rating, r) in ratings.iter().enumerate() {
        if r.item as usize >= n_items {
            return Err(FoldInError::ItemOutOfRange {
                rating,
                item: r.item,
                items: n_items,
            });
        }
        if !r.value.is_finite() {
            return Err(FoldInError::RatingNotFinite {
                rating,
                value: r.value,
            });
        }
    }
    if ratings.is_empty() {
        row.fill(0.0);
        return Ok(0.0);
    }

    let mut system = NormalEquations::<K>::new(rank, biased);
    for chunk in ratings.chunks(CHUNK) {
        // The chunk's rows in f64, zero rows past its end.
        let mut q = [[0.0f64; K]; CHUNK];
        let mut t = [0.0f64; CHUNK];
        for ((qc, tc), r) in q.iter_mut().zip(&mut t).zip(chunk) {
            let i = r.item as usize;
            for (d, &v) in qc.iter_mut().zip(items.row(i)) {
                *d = f64::from(v);
            }
            *tc = if biased {
                f64::from(r.value) - f64::from(params.mu) - f64::from(items.biases[i])
            } else {
                f64::from(r.value)
            };
        }
        system.add_chunk(&q, &t, chunk.len());
    }
    if !system.is_finite() {
        return Err(first_non_finite_item(items, ratings, biased));
    }
    let n = ratings.len() as f64;
    system.regularise(
        n * f64::from(params.reg_factors) + f64::from(params.reg_row),
        n * f64::from(params.reg_bias),
    );
    let (p, bias) = system.solve()?;

    let bias = if biased { to_f32(bias)? } else { 0.0 };
    let mut out = [0.0f32; K];
    for (o, &x) in out.iter_mut().zip(&p[..rank]) {
        *o = to_f32(x)?;
    }
    row[..rank].copy_from_slice(&out[..rank]);
    row[rank..].fill(0.0);
    Ok(bias)
}

/// `x` as f32, or an error if it leaves the f32 range.
fn to_f32(x: f64) -> Result<f32, FoldInError> {
    let y = x as f32;
    if y.is_finite() {
        Ok(y)
    } else {
        Err(FoldInError::SolutionOverflow)
    }
}

/// Names the first rating whose item has a non-finite factor or bias (the
/// only way finite f32 inputs make the f64 system non-finite).
fn first_non_finite_item(
    items: &ItemFactors<'_>,
    ratings: &[ItemRating],
    biased: bool,
) -> FoldInError {
    for (rating, r) in ratings.iter().enumerate() {
        let i = r.item as usize;
        let bias_ok = !biased || items.biases[i].is_finite();
        if !(bias_ok && items.row(i).iter().all(|v| v.is_finite())) {
            return FoldInError::ItemNotFinite {
                rating,
                item: r.item,
            };
        }
    }
    // Unreachable with finite f32 inputs: |q|² ≤ 1.2e77 per term cannot
    // overflow f64 for any slice length. Reported as the nearest cause.
    FoldInError::SolutionOverflow
}

/// The normal equations of one fold-in, the factor block `a` (lower
/// triangle) and right-hand side `b`, bordered by the bias row
/// (`border`, `corner`, `b_bias`) in the biased model.
struct NormalEquations<const K: usize> {
    rank: usize,
    biased: bool,
    a: [[f64; K]; K],
    b: [f64; K],
    border: [f64; K],
    corner: f64,
    b_bias: f64,
}

impl<const K: usize> NormalEquations<K> {
    fn new(rank: usize, biased: bool) -> Self {
        Self {
            rank,
            biased,
            a: [[0.0; K]; K],
            b: [0.0; K],
            border: [0.0; K],
            corner: 0.0,
            b_bias: 0.0,
        }
    }

    /// Adds [`CHUNK`] ratings (the first `count` real, the rest zero rows
    /// with target 0): Σ q̃q̃ᵀ to the matrix and Σ q̃·target to the right
    /// side. Four ratings per pass over the triangle load and store each
    /// entry once for four products.
    fn add_chunk(&mut self, q: &[[f64; K]; CHUNK], t: &[f64; CHUNK], count: usize) {
        let r = self.rank;
        let [q0, q1, q2, q3] = q.each_ref().map(|row| &row[..r]);
        for j in 0..r {
            let (c0, c1, c2, c3) = (q0[j], q1[j], q2[j], q3[j]);
            let lanes = q0.iter().zip(q1).zip(q2).zip(q3);
            for (a, (((&x0, &x1), &x2), &x3)) in self.a[j][..=j].iter_mut().zip(lanes) {
                *a += c0 * x0 + c1 * x1 + c2 * x2 + c3 * x3;
            }
            self.b[j] += c0 * t[0] + c1 * t[1] + c2 * t[2] + c3 * t[3];
        }
        if self.biased {
            for (j, g) in self.border[..r].iter_mut().enumerate() {
                *g += q0[j] + q1[j] + q2[j] + q3[j];
            }
            self.corner += count as f64;
            self.b_bias += t[0] + t[1] + t[2] + t[3];
        }
    }

    /// Whether every accumulated value is finite (a NaN or infinite item
    /// value reaches a diagonal entry or the right side).
    fn is_finite(&self) -> bool {
        let r = self.rank;
        (0..r).all(|j| self.a[j][j].is_finite() && self.b[j].is_finite()) && self.b_bias.is_finite()
    }

    /// Adds `factors` to the factor diagonal and `bias` to the corner.
    fn regularise(&mut self, factors: f64, bias: f64) {
        for j in 0..self.rank {
            self.a[j][j] += factors;
        }
        self.corner += bias;
    }

    /// Cholesky-factorises the system in place and solves it: the factors
    /// and the bias (0 without the bias row).
    fn solve(mut self) -> Result<([f64; K], f64), FoldInError> {
        let r = self.rank;
        // Factor block: A = L Lᵀ, row by row (Cholesky–Banachiewicz).
        for i in 0..r {
            let (upper, lower) = self.a.split_at_mut(i);
            let row_i = &mut lower[0];
            for (j, row_j) in upper.iter().enumerate() {
                row_i[j] = (row_i[j] - dot(&row_i[..j], &row_j[..j])) / row_j[j];
            }
            let s = row_i[i] - dot(&row_i[..i], &row_i[..i]);
            if !pivot_holds(s, row_i[i]) {
                return Err(FoldInError::Singular);
            }
            row_i[i] = libm::sqrt(s);
        }
        // Bias border: l = L⁻¹ g, pivot √(c − ‖l‖²).
        let mut pivot = 0.0;
        if self.biased {
            forward(&self.a, r, &mut self.border);
            let s = self.corner - dot(&self.border[..r], &self.border[..r]);
            if !pivot_holds(s, self.corner) {
                return Err(FoldInError::Singular);
            }
            pivot = libm::sqrt(s);
        }
        // Forward: L y = b.
        forward(&self.a, r, &mut self.b);
        let mut bias = 0.0;
        if self.biased {
            let y = (self.b_bias - dot(&self.border[..r], &self.b[..r])) / pivot;
            bias = y / pivot;
            for (b, &l) in self.b[..r].iter_mut().zip(&self.border[..r]) {
                *b -= l * bias;
            }
        }
        // Backward: Lᵀ x = y − l·bias.
        for i in (0..r).rev() {
            let mut s = self.b[i];
            for k in i + 1..r {
                s -= self.a[k][i] * self.b[k];
            }
            self.b[i] = s / self.a[i][i];
        }
        Ok((self.b, bias))
    }
}

/// Whether a Cholesky pivot `s` (before the square root) is large enough
/// beside its diagonal entry `diagonal` (false for NaN).
fn pivot_holds(s: f64, diagonal: f64) -> bool {
    s > PIVOT_FLOOR * diagonal
}

/// Solves L y = v in place for the lower-triangular `l` of order `r`.
fn forward<const K: usize>(l: &[[f64; K]; K], r: usize, v: &mut [f64; K]) {
    for i in 0..r {
        let s = v[i] - dot(&l[i][..i], &v[..i]);
        v[i] = s / l[i][i];
    }
}

fn dot(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}
