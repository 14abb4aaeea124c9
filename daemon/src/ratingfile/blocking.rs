//! Renumbering and blocking: the balanced random permutation of ids, and
//! grouping records into sorted blocks.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::Path;

use funk_kernel::Rating;
use rand::seq::SliceRandom;
use rand_xoshiro::Xoshiro256PlusPlus;

use super::layout::{band_of, band_range};
use super::{FormatError, Triple};

/// A seeded random renumbering that also balances the bands: rows are
/// dealt, heaviest first (ties in random order), to the band with the
/// least load that still has room (bands keep their sizes from
/// [`band_range`]); within a band the order is random. Returns
/// `perm[external] = internal`.
pub(crate) fn balanced_permutation(
    load: &[u64],
    grid: usize,
    rng: &mut Xoshiro256PlusPlus,
) -> Vec<u32> {
    let n = load.len();
    let mut pacer = crate::courtesy::Pacer::new();
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.shuffle(rng);
    // Stable: the order is the same whatever the pause points do.
    order.sort_by(|&a, &b| {
        pacer.step();
        load[b as usize].cmp(&load[a as usize])
    });
    let mut members: Vec<Vec<u32>> = (0..grid)
        .map(|b| Vec::with_capacity(band_range(n, grid, b).len()))
        .collect();
    let mut heap: BinaryHeap<Reverse<(u64, usize)>> = (0..grid).map(|b| Reverse((0, b))).collect();
    for r in order {
        pacer.step();
        // Every band popped here has room: full bands are not pushed back.
        let Some(Reverse((weight, b))) = heap.pop() else {
            break;
        };
        members[b].push(r);
        if members[b].len() < band_range(n, grid, b).len() {
            heap.push(Reverse((weight + load[r as usize], b)));
        }
    }
    let mut perm = vec![0u32; n];
    for (b, mut rows) in members.into_iter().enumerate() {
        rows.shuffle(rng);
        let start = band_range(n, grid, b).start;
        for (k, r) in rows.into_iter().enumerate() {
            pacer.step();
            perm[r as usize] = (start + k) as u32;
        }
    }
    perm
}

pub(crate) struct Blocking<'a> {
    pub(crate) grid: usize,
    pub(crate) users: usize,
    pub(crate) items: usize,
    pub(crate) user_perm: &'a [u32],
    pub(crate) item_perm: &'a [u32],
    pub(crate) user_ids: &'a [String],
    pub(crate) item_ids: &'a [String],
}

impl Blocking<'_> {
    /// Groups `triples` by block (row-major), converts them to band-local
    /// records and sorts each block by (user, item). Returns the records
    /// and each block's range.
    pub(crate) fn block(
        &self,
        path: &Path,
        triples: &[Triple],
        which: &str,
    ) -> Result<(Vec<Rating>, Vec<std::ops::Range<usize>>), FormatError> {
        let p = self.grid;
        let user_at = placements(self.user_perm, self.users, p);
        let item_at = placements(self.item_perm, self.items, p);
        // The block (row-major) of a rating and its band-local indices.
        let block_of = |t: &Triple| {
            let (ub, u) = user_at[t.user as usize];
            let (ib, i) = item_at[t.item as usize];
            (ub as usize * p + ib as usize, u, i)
        };
        let mut counts = vec![0usize; p * p];
        for t in triples {
            counts[block_of(t).0] += 1;
        }
        let mut starts = Vec::with_capacity(p * p + 1);
        let mut acc = 0;
        for c in &counts {
            starts.push(acc);
            acc += c;
        }
        starts.push(acc);
        let mut fill = starts.clone();
        let mut records = vec![Rating::default(); triples.len()];
        for t in triples {
            let (b, user, item) = block_of(t);
            records[fill[b]] = Rating {
                user,
                item,
                value: t.value,
            };
            fill[b] += 1;
        }
        let spans: Vec<_> = (0..p * p).map(|b| starts[b]..starts[b + 1]).collect();
        sort_blocks(&mut records, &spans);
        for (b, span) in spans.iter().enumerate() {
            if let Some(w) = records[span.clone()]
                .windows(2)
                .find(|w| (w[0].user, w[0].item) == (w[1].user, w[1].item))
            {
                let (ub, ib) = (b / p, b % p);
                let u = band_range(self.users, p, ub).start + w[0].user as usize;
                let i = band_range(self.items, p, ib).start + w[0].item as usize;
                let ext_u = self
                    .user_perm
                    .iter()
                    .position(|&x| x as usize == u)
                    .unwrap_or(0);
                let ext_i = self
                    .item_perm
                    .iter()
                    .position(|&x| x as usize == i)
                    .unwrap_or(0);
                return Err(FormatError::invalid(
                    path,
                    format!(
                        "duplicate {which} rating for user {:?}, item {:?} (remove duplicates before writing)",
                        self.user_ids[ext_u], self.item_ids[ext_i]
                    ),
                ));
            }
        }
        Ok((records, spans))
    }
}

/// Where each row of an axis of `n` rows cut into `p` bands goes, by
/// external number: its band and its index inside the band, given
/// `perm[external] = internal`.
fn placements(perm: &[u32], n: usize, p: usize) -> Vec<(u32, u32)> {
    perm.iter()
        .map(|&internal| {
            let band = band_of(n, p, internal as usize);
            let local = internal as usize - band_range(n, p, band).start;
            (band as u32, local as u32)
        })
        .collect()
}

/// Sorts each block by (user, item), spreading the blocks over the
/// available cores (the result does not depend on how many).
fn sort_blocks(records: &mut [Rating], spans: &[std::ops::Range<usize>]) {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(spans.len().max(1));
    // Cut the records into `threads` contiguous runs of whole blocks.
    let mut slices: Vec<&mut [Rating]> = Vec::new();
    let mut rest = records;
    for span in spans {
        let (head, tail) = rest.split_at_mut(span.len());
        slices.push(head);
        rest = tail;
    }
    let per = slices.len().div_ceil(threads);
    std::thread::scope(|s| {
        let mut slices = slices;
        while !slices.is_empty() {
            let take = per.min(slices.len());
            let group: Vec<&mut [Rating]> = slices.drain(..take).collect();
            s.spawn(move || {
                for block in group {
                    block.sort_unstable_by_key(|r| (u64::from(r.user) << 32) | u64::from(r.item));
                }
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn balanced_permutation_is_a_permutation_with_even_band_loads() {
        // Heavy-tailed loads: row r carries about 10⁴/(r+1) ratings.
        let load: Vec<u64> = (0..1000u64).map(|r| 10_000 / (r + 1) + 1).collect();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let perm = balanced_permutation(&load, 8, &mut rng);
        let mut seen = perm.clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..1000).collect::<Vec<u32>>());
        let mut band_load = [0u64; 8];
        for (r, &p) in perm.iter().enumerate() {
            band_load[band_of(1000, 8, p as usize)] += load[r];
        }
        let (min, max) = (
            band_load.iter().min().unwrap(),
            band_load.iter().max().unwrap(),
        );
        // The heaviest row alone is 10,001: bands may differ by at most that.
        assert!(max - min <= 10_001, "{band_load:?}");
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(8);
        assert_ne!(
            perm,
            balanced_permutation(&load, 8, &mut rng),
            "seed must matter"
        );
    }
}
