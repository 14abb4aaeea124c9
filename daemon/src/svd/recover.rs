//! From trained factors Û (users × ρ) and V̂ (items × ρ) to the truncated
//! SVD of A ≈ ÛV̂ᵀ = UΣVᵀ without ever forming A.
//!
//! Thin QR of each side, Û = Q_u R_u and V̂ = Q_v R_v, leaves the small
//! ρ×ρ core C = R_u R_vᵀ, whose SVD C = U_c Σ V_cᵀ gives U = Q_u U_c and
//! V = Q_v V_c. Only the R factors are needed, and they come from a
//! streaming tall-skinny QR (TSQR): the rows are taken a chunk at a time
//! and each chunk is stacked under the R so far and re-factorised, so the
//! memory is O(chunk × ρ) however many users there are.
//!
//! Q_u is never formed either: from UΣ = ÛR_vᵀV_c (substitute
//! Q_u = ÛR_u⁻¹ and U_cΣ = CV_c), each row of U is a user's factor row
//! times the ρ×s matrix R_vᵀV_cΣ⁻¹, and each row of V an item's row times
//! R_uᵀU_cΣ⁻¹, for the s singular values that are numerically non-zero.
//! No R is inverted, so a rank-deficient Û or V̂ costs nothing but the
//! vanished directions. Everything is done in f64.

use nalgebra::DMatrix;

/// Rows per TSQR step.
const CHUNK_ROWS: usize = 2048;

/// Singular values below this fraction of the largest are treated as
/// zero when forming singular vectors (the factors are f32).
pub const RELATIVE_RANK_TOLERANCE: f64 = 1e-6;

/// The upper-triangular R of a thin QR of the matrix whose rows are
/// `rows` (each `cols` long): min(rows, cols) × cols, with RᵀR = AᵀA.
pub fn r_factor<'a>(rows: impl IntoIterator<Item = &'a [f32]>, cols: usize) -> DMatrix<f64> {
    let mut r = DMatrix::<f64>::zeros(0, cols);
    let mut chunk: Vec<&[f32]> = Vec::with_capacity(CHUNK_ROWS);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        chunk.clear();
        chunk.extend(rows.by_ref().take(CHUNK_ROWS));
        let stacked_rows = r.nrows() + chunk.len();
        let stacked = DMatrix::<f64>::from_fn(stacked_rows, cols, |i, j| {
            if i < r.nrows() {
                r[(i, j)]
            } else {
                f64::from(chunk[i - r.nrows()][j])
            }
        });
        r = stacked.qr().unpack_r();
    }
    r
}

/// A truncated SVD recovered from factors.
#[derive(Clone, Debug)]
pub struct RecoveredSvd {
    /// All min(ρ, users, items) singular values, largest first.
    pub singular_values: Vec<f64>,
    /// ρ × s: a user's factor row times this is its row of U.
    user_map: DMatrix<f64>,
    /// ρ × s: an item's factor row times this is its row of V.
    item_map: DMatrix<f64>,
}

impl RecoveredSvd {
    /// Recovers the SVD of ÛV̂ᵀ from the rows of Û and of V̂ (each `rank`
    /// values long).
    pub fn from_factors<'a, 'b>(
        user_rows: impl IntoIterator<Item = &'a [f32]>,
        item_rows: impl IntoIterator<Item = &'b [f32]>,
        rank: usize,
    ) -> RecoveredSvd {
        let r_u = r_factor(user_rows, rank);
        let r_v = r_factor(item_rows, rank);
        let core = &r_u * r_v.transpose();
        let svd = core.svd(true, true);
        let singular_values: Vec<f64> = svd.singular_values.iter().copied().collect();
        let largest = singular_values.first().copied().unwrap_or(0.0);
        let kept = singular_values
            .iter()
            .take_while(|&&s| s > largest * RELATIVE_RANK_TOLERANCE && s > 0.0)
            .count();
        // `svd(true, true)` always computes both factors.
        let (Some(u_c), Some(v_t_c)) = (svd.u, svd.v_t) else {
            unreachable!("nalgebra computes U and Vᵀ when asked to")
        };
        let inv_sigma = DMatrix::<f64>::from_diagonal(&nalgebra::DVector::from_iterator(
            kept,
            singular_values[..kept].iter().map(|s| 1.0 / s),
        ));
        let v_c = v_t_c.transpose();
        let user_map = r_v.transpose() * v_c.columns(0, kept) * &inv_sigma;
        let item_map = r_u.transpose() * u_c.columns(0, kept) * &inv_sigma;
        RecoveredSvd {
            singular_values,
            user_map,
            item_map,
        }
    }

    /// How many singular values are numerically non-zero (the number of
    /// columns of U and V).
    pub fn numerical_rank(&self) -> usize {
        self.user_map.ncols()
    }

    /// The row of U for a user with factor row `p`.
    pub fn user_vector(&self, p: &[f32]) -> Vec<f64> {
        row_times(p, &self.user_map)
    }

    /// The row of V for an item with factor row `q`.
    pub fn item_vector(&self, q: &[f32]) -> Vec<f64> {
        row_times(q, &self.item_map)
    }
}

fn row_times(row: &[f32], map: &DMatrix<f64>) -> Vec<f64> {
    (0..map.ncols())
        .map(|j| {
            row.iter()
                .enumerate()
                .map(|(i, &x)| f64::from(x) * map[(i, j)])
                .sum()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_rows(n: usize, r: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut state = seed | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        (0..n).map(|_| (0..r).map(|_| next()).collect()).collect()
    }

    fn dense(rows: &[Vec<f32>]) -> DMatrix<f64> {
        DMatrix::from_fn(rows.len(), rows[0].len(), |i, j| f64::from(rows[i][j]))
    }

    #[test]
    fn r_factor_reproduces_the_gram_matrix_across_chunks() {
        let rows = random_rows(CHUNK_ROWS * 2 + 37, 6, 7);
        let r = r_factor(rows.iter().map(Vec::as_slice), 6);
        assert_eq!(r.shape(), (6, 6));
        let a = dense(&rows);
        let diff = (r.transpose() * &r - a.transpose() * &a).abs().max();
        assert!(diff < 1e-9, "{diff}");
    }

    #[test]
    fn singular_values_and_vectors_match_a_dense_reference() {
        let (users, items, rank) = (300, 120, 5);
        let p = random_rows(users, rank, 11);
        let q = random_rows(items, rank, 12);
        let svd = RecoveredSvd::from_factors(
            p.iter().map(Vec::as_slice),
            q.iter().map(Vec::as_slice),
            rank,
        );
        let a = dense(&p) * dense(&q).transpose();
        let reference = a.clone().svd(false, false).singular_values;
        assert_eq!(svd.singular_values.len(), rank);
        for (got, want) in svd.singular_values.iter().zip(reference.iter()) {
            assert!((got - want).abs() <= 1e-10 * want, "{got} vs {want}");
        }
        assert_eq!(svd.numerical_rank(), rank);
        let u = DMatrix::from_fn(users, rank, |i, j| svd.user_vector(&p[i])[j]);
        let v = DMatrix::from_fn(items, rank, |i, j| svd.item_vector(&q[i])[j]);
        let identity = DMatrix::<f64>::identity(rank, rank);
        assert!((u.transpose() * &u - &identity).abs().max() < 1e-9);
        assert!((v.transpose() * &v - &identity).abs().max() < 1e-9);
        let sigma =
            DMatrix::from_diagonal(&nalgebra::DVector::from_column_slice(&svd.singular_values));
        assert!((u * sigma * v.transpose() - a).abs().max() < 1e-9);
    }

    #[test]
    fn a_rank_deficient_factor_gives_zero_singular_values_and_fewer_vectors() {
        let mut p = random_rows(40, 4, 3);
        for row in &mut p {
            row[3] = row[0] * 2.0; // column 3 repeats column 0 (exact in f32)
        }
        let q = random_rows(30, 4, 4);
        let svd =
            RecoveredSvd::from_factors(p.iter().map(Vec::as_slice), q.iter().map(Vec::as_slice), 4);
        assert_eq!(svd.numerical_rank(), 3);
        assert!(svd.singular_values[3] < 1e-12 * svd.singular_values[0]);
        assert!(svd.user_vector(&p[0]).iter().all(|v| v.is_finite()));
    }

    #[test]
    fn fewer_users_than_rank_still_works() {
        let p = random_rows(2, 5, 5);
        let q = random_rows(9, 5, 6);
        let svd =
            RecoveredSvd::from_factors(p.iter().map(Vec::as_slice), q.iter().map(Vec::as_slice), 5);
        assert_eq!(svd.singular_values.len(), 2);
        assert_eq!(svd.numerical_rank(), 2);
    }
}
