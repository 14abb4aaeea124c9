//! The portable scalar reference.

use crate::FactorRow;

/// p·q, summed left to right.
#[inline]
pub fn dot<const K: usize>(p: &FactorRow<K>, q: &FactorRow<K>) -> f32 {
    let mut sum = 0.0f32;
    for k in 0..K {
        sum += p.0[k] * q.0[k];
    }
    sum
}

/// p += η_p (e q − λ p), q += η_q (e p − λ q), both from the old values.
#[inline]
pub fn update<const K: usize>(
    p: &mut FactorRow<K>,
    q: &mut FactorRow<K>,
    err: f32,
    eta_p: f32,
    eta_q: f32,
    lambda: f32,
) {
    for k in 0..K {
        let pk = p.0[k];
        let qk = q.0[k];
        p.0[k] = pk + eta_p * (err * qk - lambda * pk);
        q.0[k] = qk + eta_q * (err * pk - lambda * qk);
    }
}
