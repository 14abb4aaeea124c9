//! The divergence checks at their edges: a tolerance that is negative or
//! not finite counts as none (as `DivergenceMonitor::with_tolerance`
//! documents), so it can neither call a flat loss growing nor hide a
//! climb; and `all_finite` is false exactly when a value is NaN or ±∞.

use funk_kernel::{all_finite, DivergenceMonitor, FactorRow, Health};

#[test]
fn a_negative_or_non_finite_tolerance_counts_as_zero() {
    for tolerance in [-0.5, f64::NEG_INFINITY, f64::INFINITY, f64::NAN, 0.0, -0.0] {
        let mut monitor = DivergenceMonitor::<2>::new().with_tolerance(tolerance);
        assert_eq!(monitor.observe(4.0), Health::Ok, "{tolerance}");
        // Equal to the recent maximum: not growing (a negative tolerance
        // would lower the bar below it).
        assert_eq!(monitor.observe(4.0), Health::Ok, "{tolerance}");
        assert_eq!(monitor.observe(3.0), Health::Ok, "{tolerance}");
        // Above it by any amount: growing (an infinite tolerance would
        // raise the bar out of reach).
        assert_eq!(monitor.observe(4.5), Health::Growing, "{tolerance}");
    }
}

#[test]
fn all_finite_is_false_exactly_when_a_value_is_nan_or_infinite() {
    assert!(all_finite::<16>(&[]));
    let mut rows = vec![FactorRow::<16>::splat(1.5); 3];
    rows[1].0[7] = f32::MAX;
    rows[0].0[0] = -0.0;
    assert!(all_finite(&rows));
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut damaged = rows.clone();
        damaged[2].0[15] = bad;
        assert!(!all_finite(&damaged), "{bad}");
    }
}
