//! Divergence detection: non-finite values and a loss that grows.

use heapless::Deque;

use crate::FactorRow;

/// The verdict on one observed loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Health {
    /// Finite, and not above every recent loss.
    Ok,
    /// NaN or infinite.
    NonFinite,
    /// Above every one of the last `N` losses (by more than the tolerance).
    Growing,
}

/// Watches the loss of successive epochs (or blocks) and says when
/// training is diverging. Keeps the last `N` finite losses in a
/// fixed-capacity history (no allocation).
///
/// A loss is [`Health::Growing`] when it exceeds the largest of the last
/// `N` losses by more than a relative tolerance (0 by default): a single
/// upward blip after a decrease is tolerated when `N ≥ 2`, a sustained or
/// sudden climb is not.
///
/// # Examples
///
/// ```
/// use funk_kernel::{DivergenceMonitor, Health};
/// let mut monitor = DivergenceMonitor::<2>::new();
/// assert_eq!(monitor.observe(4.0), Health::Ok);
/// assert_eq!(monitor.observe(3.0), Health::Ok);
/// assert_eq!(monitor.observe(3.5), Health::Ok); // a blip, below 4.0
/// assert_eq!(monitor.observe(5.0), Health::Growing);
/// assert_eq!(monitor.observe(f64::NAN), Health::NonFinite);
/// ```
#[derive(Clone, Debug)]
pub struct DivergenceMonitor<const N: usize> {
    history: Deque<f64, N>,
    tolerance: f64,
}

impl<const N: usize> DivergenceMonitor<N> {
    const NONEMPTY: () = assert!(N >= 1, "DivergenceMonitor<N> needs N >= 1");

    /// A monitor with an empty history and no tolerance.
    pub const fn new() -> Self {
        let () = Self::NONEMPTY;
        Self {
            history: Deque::new(),
            tolerance: 0.0,
        }
    }

    /// The same monitor, calling a loss growing only when it exceeds the
    /// recent maximum by more than `relative` (e.g. 0.01 = 1%). A negative
    /// or non-finite tolerance counts as 0.
    pub fn with_tolerance(mut self, relative: f64) -> Self {
        self.tolerance = if relative.is_finite() && relative > 0.0 {
            relative
        } else {
            0.0
        };
        self
    }

    /// Records `loss` and judges it against the history before it.
    /// Non-finite losses are not recorded.
    pub fn observe(&mut self, loss: f64) -> Health {
        if !loss.is_finite() {
            return Health::NonFinite;
        }
        let recent_max = self
            .history
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let growing =
            !self.history.is_empty() && loss > recent_max + recent_max.abs() * self.tolerance;
        if self.history.is_full() {
            self.history.pop_front();
        }
        // Room was made above: the push cannot fail.
        let _ = self.history.push_back(loss);
        if growing {
            Health::Growing
        } else {
            Health::Ok
        }
    }

    /// Forgets the history (e.g. after backing off the learning rate).
    pub fn reset(&mut self) {
        self.history.clear();
    }
}

impl<const N: usize> Default for DivergenceMonitor<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether every value of every row is finite.
///
/// # Examples
///
/// ```
/// use funk_kernel::{all_finite, FactorRow};
/// let mut rows = [FactorRow::<16>::splat(1.0); 3];
/// assert!(all_finite(&rows));
/// rows[2].0[5] = f32::INFINITY;
/// assert!(!all_finite(&rows));
/// ```
pub fn all_finite<const K: usize>(rows: &[FactorRow<K>]) -> bool {
    rows.iter().all(|row| row.0.iter().all(|v| v.is_finite()))
}
