//! The id maps: external ids as a string table in internal-id order, and
//! an index of internal ids sorted by external id for lookups.

use std::cmp::Ordering;

/// A string table as written: `offsets[i]..offsets[i + 1]` are the bytes
/// of id `i`; `sorted` lists the ids in external-id order.
pub(crate) struct IdTables {
    pub offsets: Vec<u64>,
    pub bytes: Vec<u8>,
    pub sorted: Vec<u32>,
}

/// Builds the tables for `names` (in internal order). Fails with the first
/// repeated name.
pub(crate) fn encode_ids(names: &[&str]) -> Result<IdTables, String> {
    let mut pacer = crate::courtesy::Pacer::new();
    let mut offsets = Vec::with_capacity(names.len() + 1);
    let mut bytes = Vec::with_capacity(names.iter().map(|n| n.len()).sum());
    offsets.push(0u64);
    for name in names {
        pacer.step();
        bytes.extend_from_slice(name.as_bytes());
        offsets.push(bytes.len() as u64);
    }
    let mut sorted: Vec<u32> = (0..names.len() as u32).collect();
    // Distinct names sort one way only, whatever the pause points do (and
    // equal ones are refused below).
    sorted.sort_unstable_by(|&a, &b| {
        pacer.step();
        names[a as usize].cmp(names[b as usize])
    });
    if let Some(w) = sorted.windows(2).find(|w| {
        pacer.step();
        names[w[0] as usize] == names[w[1] as usize]
    }) {
        return Err(names[w[0] as usize].to_string());
    }
    Ok(IdTables {
        offsets,
        bytes,
        sorted,
    })
}

/// A view of one string table inside the mapped file. Its bounds were
/// checked when the file was opened: offsets start at 0, never decrease,
/// end at the byte length, and every id is valid UTF-8.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IdTable<'a> {
    pub offsets: &'a [u64],
    pub bytes: &'a [u8],
}

impl<'a> IdTable<'a> {
    /// The id with internal number `i` (empty if out of range).
    pub fn get(&self, i: usize) -> &'a str {
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => self
                .bytes
                .get(a as usize..b as usize)
                .and_then(|s| std::str::from_utf8(s).ok())
                .unwrap_or(""),
            _ => "",
        }
    }

    /// The bytes of the id with internal number `i` (empty if out of
    /// range). Byte order is `str` order, so a search can compare these
    /// without decoding them again (they were checked to be UTF-8).
    pub fn bytes_of(&self, i: usize) -> &'a [u8] {
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => self.bytes.get(a as usize..b as usize).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// Checks the table's invariants; says what is wrong otherwise.
    pub fn validate(&self, what: &str) -> Result<(), String> {
        if self.offsets.first() != Some(&0) {
            return Err(format!("{what} offsets do not start at 0"));
        }
        let mut prev = 0u64;
        let mut pacer = crate::courtesy::Pacer::new();
        for (i, w) in self.offsets.windows(2).enumerate() {
            pacer.step();
            if w[1] < w[0] || w[1] > self.bytes.len() as u64 {
                return Err(format!(
                    "{what} offset #{} ({}) is out of order or beyond the {} id bytes",
                    i + 1,
                    w[1],
                    self.bytes.len()
                ));
            }
            if std::str::from_utf8(&self.bytes[w[0] as usize..w[1] as usize]).is_err() {
                return Err(format!("{what} #{i} is not valid UTF-8"));
            }
            prev = w[1];
        }
        if prev != self.bytes.len() as u64 {
            return Err(format!(
                "{what} offsets end at {prev}, but there are {} id bytes",
                self.bytes.len()
            ));
        }
        Ok(())
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }
}

/// Looks up internal ids by external id (binary search over the sorted
/// index stored in the file; nothing is built).
///
/// # Examples
///
/// ```no_run
/// # fn main() -> Result<(), funkd::ratingfile::FormatError> {
/// let file = funkd::ratingfile::RatingFile::open("data.funk".as_ref())?;
/// let users = file.user_index();
/// if let Some(internal) = users.get("1488844") {
///     assert_eq!(file.user_id(internal), "1488844");
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct IdIndex<'a> {
    pub(crate) table: IdTable<'a>,
    pub(crate) sorted: &'a [u32],
}

impl IdIndex<'_> {
    /// The internal id of external id `external`, if there is one.
    pub fn get(&self, external: &str) -> Option<usize> {
        let mut lo = 0usize;
        let mut hi = self.sorted.len();
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let internal = self.sorted[mid] as usize;
            match self.table.bytes_of(internal).cmp(external.as_bytes()) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Some(internal),
            }
        }
        None
    }

    /// How many of `ids` are not in the index. `ids` must be sorted and
    /// distinct: the searches are one walk through the index, each
    /// starting where the last ended and galloping from there, so a batch
    /// of ids touches few of the index's pages and compares few ids.
    pub fn count_missing(&self, ids: &[&str]) -> usize {
        debug_assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let mut from = 0;
        let mut missing = 0;
        for id in ids {
            from = self.lower_bound_from(from, id.as_bytes());
            if from < self.sorted.len() && self.key_at(from) == id.as_bytes() {
                from += 1;
            } else {
                missing += 1;
            }
        }
        missing
    }

    /// The bytes of the id at position `pos` of the sorted index.
    fn key_at(&self, pos: usize) -> &[u8] {
        self.table.bytes_of(self.sorted[pos] as usize)
    }

    /// The first position at or after `from` whose id is not less than
    /// `key` (every id before `from` must be less than `key`).
    fn lower_bound_from(&self, from: usize, key: &[u8]) -> usize {
        let len = self.sorted.len();
        // Gallop: ids before `lo` are less than `key`; `hi` is `len` or an
        // id not less than it.
        let (mut lo, mut hi, mut step) = (from, from, 1usize);
        loop {
            if hi >= len {
                hi = len;
                break;
            }
            if self.key_at(hi) >= key {
                break;
            }
            lo = hi + 1;
            hi = from.saturating_add(step);
            step = step.saturating_mul(2);
        }
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.key_at(mid) < key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether there are no ids.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every external id, in internal-id order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.table.get(i))
    }

    /// The smallest and largest external id in string order.
    pub fn first_last(&self) -> Option<(&str, &str)> {
        let first = *self.sorted.first()? as usize;
        let last = *self.sorted.last()? as usize;
        Some((self.table.get(first), self.table.get(last)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_every_id_and_nothing_else() {
        let names = ["b", "10", "a", "2", "zz"];
        let t = encode_ids(&names).unwrap();
        let table = IdTable {
            offsets: &t.offsets,
            bytes: &t.bytes,
        };
        table.validate("test id").unwrap();
        let index = IdIndex {
            table,
            sorted: &t.sorted,
        };
        for (i, n) in names.iter().enumerate() {
            assert_eq!(index.get(n), Some(i));
        }
        assert_eq!(index.get("c"), None);
        assert_eq!(index.get(""), None);
        assert_eq!(index.first_last(), Some(("10", "zz")));
    }

    #[test]
    fn counting_missing_ids_in_one_walk_agrees_with_lookups() {
        let names: Vec<String> = (0..300).map(|i| format!("{}", i * 7 % 1000)).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let t = encode_ids(&refs).unwrap();
        let index = IdIndex {
            table: IdTable {
                offsets: &t.offsets,
                bytes: &t.bytes,
            },
            sorted: &t.sorted,
        };
        // Queries of every density, known and unknown ids mixed, before,
        // inside and after the index's range.
        for stride in [1, 2, 3, 17, 150, 999] {
            let asked: Vec<String> = (0..1100).step_by(stride).map(|i| i.to_string()).collect();
            let mut asked: Vec<&str> = asked.iter().map(String::as_str).collect();
            asked.extend(["", "!", "~", "0a"]);
            asked.sort_unstable();
            asked.dedup();
            let expected = asked.iter().filter(|id| index.get(id).is_none()).count();
            assert_eq!(index.count_missing(&asked), expected, "stride {stride}");
        }
        assert_eq!(index.count_missing(&[]), 0);
    }

    #[test]
    fn repeated_names_are_refused() {
        assert_eq!(encode_ids(&["x", "y", "x"]).err(), Some("x".to_string()));
    }
}
