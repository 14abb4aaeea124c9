//! How many distinct ids a batch of ratings names, and how many of them
//! the model does not know, for the answer to `POST /v1/ratings`.
//!
//! The rating file's id index is sorted by id text, so the general way is
//! to sort the batch's ids and walk the index once
//! ([`crate::ratingfile::IdIndex::count_missing`]). Most data sets number
//! their users and items, though: when every id of an index is a number in
//! its one spelling (see [`super::id_key`]) and the numbers are not too
//! sparse, [`KnownIds`] keeps a table from number to internal id, and an
//! id of a batch is found with one look into it. An id that is not such a
//! number (`"007"`, `"x"`) cannot be in that data, so it is new; this is
//! the same answer the index gives, found without comparing text.

use crate::courtesy;
use crate::ratingfile::IdIndex;

use super::id_key::canonical_number;

/// Internal ids by number (see the module documentation).
#[derive(Debug)]
pub struct KnownIds {
    /// `by_number[n]` is 1 + the internal id of the id that spells `n`,
    /// or 0; `None` when the index's ids are not all numbers, or too
    /// sparse ones.
    by_number: Option<Vec<u32>>,
}

/// What [`KnownIds::count`] found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counted {
    /// Distinct ids.
    pub distinct: usize,
    /// Distinct ids the index does not hold.
    pub unknown: usize,
}

/// The table may have at most this many slots per id of the index (and
/// a little more for small indexes).
const SLOTS_PER_ID: usize = 16;
const MIN_SLOTS: usize = 1 << 16;

impl KnownIds {
    /// Frees the table; on a background thread a piece of its memory at
    /// a time ([`courtesy::release`]).
    pub fn release(self) {
        if let Some(table) = self.by_number {
            courtesy::release(table);
        }
    }

    /// The table of `index`'s ids, if they are numbers.
    pub fn new(index: IdIndex<'_>) -> KnownIds {
        KnownIds {
            by_number: number_table(index),
        }
    }

    /// Whether ids are found by number.
    pub fn by_number(&self) -> bool {
        self.by_number.is_some()
    }

    /// The distinct ids among `ids` and how many of them `index` (the
    /// index this was built from) does not hold.
    pub fn count<'a>(&self, index: IdIndex<'_>, ids: impl Iterator<Item = &'a str>) -> Counted {
        let Some(table) = &self.by_number else {
            let mut ids: Vec<&str> = ids.collect();
            sort_ids(&mut ids);
            ids.dedup();
            return Counted {
                distinct: ids.len(),
                unknown: index.count_missing(&ids),
            };
        };
        let mut known = Vec::new();
        let mut unknown = Vec::new();
        for id in ids {
            match canonical_number(id)
                .and_then(|n| table.get(usize::try_from(n).ok()?))
                .copied()
            {
                Some(slot) if slot != 0 => known.push(slot - 1),
                _ => unknown.push(id),
            }
        }
        sort_ids(&mut unknown);
        unknown.dedup();
        Counted {
            distinct: count_distinct(known, index.len()) + unknown.len(),
            unknown: unknown.len(),
        }
    }
}

/// The table from number to 1 + internal id, when every id of `index` is
/// a number in its one spelling and the largest is not far above the
/// number of ids.
fn number_table(index: IdIndex<'_>) -> Option<Vec<u32>> {
    let numbers: Vec<u64> = index.iter().map(canonical_number).collect::<Option<_>>()?;
    let largest = usize::try_from(*numbers.iter().max()?).ok()?;
    let slots = largest.checked_add(1)?;
    if slots > (numbers.len() * SLOTS_PER_ID).max(MIN_SLOTS) || numbers.len() >= u32::MAX as usize {
        return None;
    }
    let mut table = vec![0u32; slots];
    for (internal, &n) in numbers.iter().enumerate() {
        // Ids are distinct, so are their numbers; internal < u32::MAX.
        table[n as usize] = internal as u32 + 1;
    }
    Some(table)
}

/// How many distinct values `ids` (internal ids below `len`) holds.
fn count_distinct(mut ids: Vec<u32>, len: usize) -> usize {
    if ids.len() < len / 256 {
        ids.sort_unstable();
        ids.dedup();
        return ids.len();
    }
    // A batch that is large against the index: one bit per id.
    let mut seen = vec![0u64; len.div_ceil(64)];
    let mut distinct = 0;
    for id in ids {
        let (word, bit) = (id as usize / 64, 1u64 << (id % 64));
        if let Some(w) = seen.get_mut(word) {
            distinct += usize::from(*w & bit == 0);
            *w |= bit;
        }
    }
    distinct
}

/// Sorts ids in string order (the id index's order), comparing their
/// first eight bytes as one number and the rest only where those tie.
pub fn sort_ids(ids: &mut Vec<&str>) {
    let mut keyed: Vec<(u64, &str)> = ids.iter().map(|id| (prefix(id), *id)).collect();
    keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    ids.clear();
    ids.extend(keyed.into_iter().map(|(_, id)| id));
}

/// The first eight bytes of `id`, big-endian, zeros after a shorter id:
/// if `prefix(a) < prefix(b)` then `a < b` in byte order (a tie says
/// nothing: compare the whole ids).
fn prefix(id: &str) -> u64 {
    let mut head = [0u8; 8];
    let n = id.len().min(8);
    head[..n].copy_from_slice(&id.as_bytes()[..n]);
    u64::from_be_bytes(head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratingfile::ids::{encode_ids, IdTable, IdTables};

    fn index(t: &IdTables) -> IdIndex<'_> {
        IdIndex {
            table: IdTable {
                offsets: &t.offsets,
                bytes: &t.bytes,
            },
            sorted: &t.sorted,
        }
    }

    /// The answer of the general way: sort, dedup, walk the index.
    fn by_text(index: IdIndex<'_>, ids: &[&str]) -> Counted {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        Counted {
            distinct: ids.len(),
            unknown: ids.iter().filter(|id| index.get(id).is_none()).count(),
        }
    }

    const ASKED: [&str; 22] = [
        "10",
        "9",
        "007",
        "7",
        "7",
        "0",
        "00",
        "-1",
        "+1",
        " 7",
        "7 ",
        "1e3",
        "x",
        "",
        "100",
        "99",
        "1000000",
        "18446744073709551616",
        "99999999999999999999",
        "9",
        "10",
        "\u{661}",
    ];

    #[test]
    fn numbered_data_is_counted_by_number_with_the_index_answers() {
        let names: Vec<String> = (0..300).map(|i| (i * 7 % 1000).to_string()).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let t = encode_ids(&refs).unwrap();
        let known = KnownIds::new(index(&t));
        assert!(known.by_number());
        let mut asked: Vec<String> = ASKED.iter().map(|s| s.to_string()).collect();
        asked.extend((0..2000).map(|i| (i * 3 % 1100).to_string()));
        asked.extend((0..50).map(|i| format!("0{i}")));
        let asked: Vec<&str> = asked.iter().map(String::as_str).collect();
        for n in [0, 1, 2, 5, 22, 100, asked.len()] {
            let some = &asked[..n];
            let got = known.count(index(&t), some.iter().copied());
            assert_eq!(got, by_text(index(&t), some), "first {n}");
        }
    }

    #[test]
    fn data_with_other_ids_is_counted_by_text() {
        for names in [
            // A leading zero, a letter, a sign: not all numbers.
            vec!["1", "7", "007", "10"],
            vec!["1", "7", "x", "10"],
            vec!["1", "-7", "9"],
            // Numbers, but too sparse for a table.
            vec!["1", "99999999999"],
        ] {
            let t = encode_ids(&names).unwrap();
            let known = KnownIds::new(index(&t));
            assert!(!known.by_number(), "{names:?}");
            let got = known.count(index(&t), ASKED.iter().copied());
            assert_eq!(got, by_text(index(&t), &ASKED), "{names:?}");
        }
        // "007" is known in the data that holds it, and is not "7".
        let t = encode_ids(&["1", "7", "007", "10"]).unwrap();
        let known = KnownIds::new(index(&t));
        let got = known.count(index(&t), ["007", "0007", "7"].into_iter());
        assert_eq!(
            got,
            Counted {
                distinct: 3,
                unknown: 1
            }
        );
    }

    #[test]
    fn counting_a_large_batch_by_bits_agrees_with_sorting() {
        let ids: Vec<u32> = (0..5000).map(|i| (i * 7919) % 1000).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(count_distinct(ids.clone(), 1000), sorted.len());
        assert_eq!(count_distinct(ids[..3].to_vec(), 1000), 3);
    }

    #[test]
    fn sorting_by_prefix_gives_string_order() {
        let mut words: Vec<String> = vec![
            "",
            "a",
            "a\0",
            "a\0\0\0\0\0\0\0\0",
            "abcdefgh",
            "abcdefg",
            "abcdefghi",
            "abcdefgh\0",
            "10",
            "9",
            "007",
            "7",
            "\u{ff}",
            "\u{e9}t\u{e9}",
            "\u{65e5}\u{672c}",
            "zz",
            "aaaaaaaab",
            "aaaaaaaaa",
            "aaaaaaaa",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        // Many ids sharing long prefixes, in a scrambled order.
        words.extend((0..500).map(|i| format!("user-{:05}", (i * 7919) % 1000)));
        words.extend((0..500).map(|i| ((i * 104_729) % 100_000).to_string()));
        let mut got: Vec<&str> = words.iter().map(String::as_str).collect();
        let mut want = got.clone();
        sort_ids(&mut got);
        want.sort_unstable();
        assert_eq!(got, want);
    }
}
