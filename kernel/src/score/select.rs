//! Keeping the N best of a stream of scored items: a bounded min-heap in
//! the caller's slots.

use core::cmp::Ordering;

/// One scored item.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Scored {
    /// The item's index.
    pub item: usize,
    /// Its score (for a prediction: unclamped).
    pub score: f32,
}

/// Best first: descending score (NaN lowest), then ascending item.
fn best_first(a: &Scored, b: &Scored) -> Ordering {
    let key = |s: &Scored| {
        if s.score.is_nan() {
            f32::NEG_INFINITY
        } else {
            s.score
        }
    };
    key(b).total_cmp(&key(a)).then_with(|| a.item.cmp(&b.item))
}

/// Whether `a` ranks strictly before `b`.
#[inline]
fn better(a: &Scored, b: &Scored) -> bool {
    best_first(a, b) == Ordering::Less
}

/// The N best items offered so far, N being the number of slots given:
/// better means a higher score (NaN lowest), then a lower item index. An
/// item costs one comparison with the N-th best unless it enters
/// (O(log N) then); [`TopN::finish`] sorts the N best, O(N log N).
///
/// # Examples
///
/// ```
/// use funk_kernel::{Scored, TopN};
/// let mut slots = [Scored::default(); 2];
/// let mut top = TopN::new(&mut slots);
/// for (item, score) in [(0, 1.0), (1, 3.0), (2, 2.0), (3, 3.0)] {
///     top.offer(item, score);
/// }
/// let best = top.finish();
/// assert_eq!(best, [Scored { item: 1, score: 3.0 }, Scored { item: 3, score: 3.0 }]);
/// ```
#[derive(Debug)]
pub struct TopN<'a> {
    /// `slots[..len]` is a heap with the worst kept at the root.
    slots: &'a mut [Scored],
    len: usize,
}

impl<'a> TopN<'a> {
    /// An empty selection of at most `slots.len()` items.
    pub fn new(slots: &'a mut [Scored]) -> TopN<'a> {
        TopN { slots, len: 0 }
    }

    /// Items held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `item` with `score` would be kept if offered now.
    #[inline]
    pub fn would_take(&self, item: usize, score: f32) -> bool {
        if self.len < self.slots.len() {
            return true;
        }
        match self.slots.first() {
            // Strictly below the worst kept: out, whatever the ids (the
            // common case, one comparison; false for NaN on either side).
            Some(worst) if score < worst.score => false,
            Some(worst) => better(&Scored { item, score }, worst),
            None => false,
        }
    }

    /// Offers `item` with `score`; returns whether it was kept (another
    /// item may have made room for it).
    pub fn offer(&mut self, item: usize, score: f32) -> bool {
        if !self.would_take(item, score) {
            return false;
        }
        let candidate = Scored { item, score };
        if self.len < self.slots.len() {
            self.slots[self.len] = candidate;
            self.len += 1;
            self.sift_up(self.len - 1);
        } else {
            self.slots[0] = candidate;
            self.sift_down(0);
        }
        true
    }

    /// The items kept, best first.
    pub fn finish(self) -> &'a mut [Scored] {
        let best = &mut self.slots[..self.len];
        best.sort_unstable_by(best_first);
        best
    }

    fn sift_up(&mut self, mut at: usize) {
        while at > 0 {
            let parent = (at - 1) / 2;
            if better(&self.slots[parent], &self.slots[at]) {
                self.slots.swap(parent, at);
                at = parent;
            } else {
                break;
            }
        }
    }

    fn sift_down(&mut self, mut at: usize) {
        loop {
            let (left, right) = (2 * at + 1, 2 * at + 2);
            let mut worst = at;
            if left < self.len && better(&self.slots[worst], &self.slots[left]) {
                worst = left;
            }
            if right < self.len && better(&self.slots[worst], &self.slots[right]) {
                worst = right;
            }
            if worst == at {
                break;
            }
            self.slots.swap(at, worst);
            at = worst;
        }
    }
}
