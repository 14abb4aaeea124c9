//! Collecting parsed ratings into a [`RatingSet`]: id interning, the
//! duplicate policy, the rating range and the train/test split.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::ratingfile::{Meta, RatingSet, Triple};

/// What to do when a (user, item) pair appears more than once in a split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DuplicatePolicy {
    /// The last occurrence (in file order) wins.
    KeepLast,
    /// The first occurrence wins.
    KeepFirst,
    /// The mean of all occurrences.
    Mean,
    /// Refuse the input.
    Error,
}

/// Which split a rating goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// Training data.
    Train,
    /// Held-out test data.
    Test,
}

/// Interns ids and collects ratings in input order.
#[derive(Debug, Default)]
pub struct Builder {
    users: HashMap<Box<str>, u32, BuildIdHasher>,
    items: HashMap<Box<str>, u32, BuildIdHasher>,
    user_ids: Vec<String>,
    item_ids: Vec<String>,
    train: Vec<Triple>,
    test: Vec<Triple>,
    range: Option<(f32, f32)>,
    /// The input files seen so far; the last is being read.
    files: Vec<PathBuf>,
    /// The line being read (1-based; 0 before the first).
    line: u64,
    /// With `--duplicates error`: where each (user, item) pair was first
    /// seen, per split (file number, line), to name both places.
    first_seen: Option<[FirstSeen; 2]>,
}

/// Where each (user, item) pair was first seen: (file number, line).
type FirstSeen = HashMap<(u32, u32), (u32, u64), BuildIdHasher>;

/// Counts of what `finish` dropped or merged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DuplicateCounts {
    /// Extra occurrences of pairs in the train input.
    pub train: u64,
    /// Extra occurrences of pairs in the test input.
    pub test: u64,
    /// Pairs rated in both the train and the test split (each split keeps
    /// its own rating; the test error then measures memory, not
    /// prediction).
    pub in_both_splits: u64,
}

impl Builder {
    /// A builder that refuses values outside `range` (if given).
    pub fn new(range: Option<(f32, f32)>) -> Builder {
        Builder {
            range,
            ..Builder::default()
        }
    }

    /// Refuses a (user, item) pair seen before in the same split, naming
    /// both places (`--duplicates error`).
    pub fn refuse_duplicates(&mut self) {
        self.first_seen = Some(Default::default());
    }

    /// Ratings added from now on come from `file`.
    pub fn start_file(&mut self, file: &Path) {
        self.files.push(file.to_path_buf());
        self.line = 0;
    }

    /// Ratings added from now on come from line `line` (1-based).
    pub fn at_line(&mut self, line: u64) {
        self.line = line;
    }

    /// The internal number of user `id`, interning it if new.
    pub fn user(&mut self, id: &str) -> u32 {
        intern(&mut self.users, &mut self.user_ids, id)
    }

    /// The internal number of item `id`, interning it if new.
    pub fn item(&mut self, id: &str) -> u32 {
        intern(&mut self.items, &mut self.item_ids, id)
    }

    /// The number of user `id` if it was seen.
    pub fn known_user(&self, id: &str) -> Option<u32> {
        self.users.get(id).copied()
    }

    /// The number of item `id` if it was seen.
    pub fn known_item(&self, id: &str) -> Option<u32> {
        self.items.get(id).copied()
    }

    /// Adds one rating; refuses values outside the rating range.
    pub fn add(&mut self, split: Split, user: &str, item: &str, value: f32) -> Result<(), String> {
        let item = self.item(item);
        self.add_to_item(split, user, item, value)
    }

    /// Adds one rating of an item already interned (see [`Builder::item`]).
    pub fn add_to_item(
        &mut self,
        split: Split,
        user: &str,
        item: u32,
        value: f32,
    ) -> Result<(), String> {
        self.check_range(value)?;
        let user = self.user(user);
        self.push(split, user, item, value)
    }

    /// Adds one rating of a user and an item already interned (see
    /// [`Builder::user`] and [`Builder::item`]), by their numbers: for
    /// callers that number ids themselves, in order of first appearance,
    /// and intern the names in that order. The same checks as
    /// [`Builder::add`], without looking the ids up.
    pub fn add_interned(
        &mut self,
        split: Split,
        user: u32,
        item: u32,
        value: f32,
    ) -> Result<(), String> {
        if user as usize >= self.user_ids.len() || item as usize >= self.item_ids.len() {
            return Err(format!(
                "user number {user} / item number {item} is beyond the {} users and {} items interned",
                self.user_ids.len(),
                self.item_ids.len()
            ));
        }
        self.check_range(value)?;
        self.push(split, user, item, value)
    }

    /// Refuses a value outside the rating range.
    fn check_range(&self, value: f32) -> Result<(), String> {
        if let Some((lo, hi)) = self.range {
            if !(lo..=hi).contains(&value) {
                return Err(format!("rating {value} is outside the rating range {lo}..{hi} (use --rating-range to change it)"));
            }
        }
        Ok(())
    }

    /// Collects a rating whose value passed [`Builder::check_range`];
    /// refuses a repeated pair under `--duplicates error`.
    fn push(&mut self, split: Split, user: u32, item: u32, value: f32) -> Result<(), String> {
        let t = Triple { user, item, value };
        if let Some(seen) = &mut self.first_seen {
            let (which, seen) = match split {
                Split::Train => ("train", &mut seen[0]),
                Split::Test => ("test", &mut seen[1]),
            };
            let here = (self.files.len().saturating_sub(1) as u32, self.line);
            if let Some(&(file, line)) = seen.get(&(t.user, t.item)) {
                let first = self
                    .files
                    .get(file as usize)
                    .map_or_else(|| "the input".to_string(), |f| f.display().to_string());
                return Err(format!(
                    "user {:?} rated item {:?} more than once in the {which} input (first at {first}:{line}); \
                     --duplicates error refuses repeated pairs (keep-last, keep-first or mean accept them)",
                    self.user_ids[t.user as usize], self.item_ids[t.item as usize]
                ));
            }
            seen.insert((t.user, t.item), here);
        }
        match split {
            Split::Train => self.train.push(t),
            Split::Test => self.test.push(t),
        }
        Ok(())
    }

    /// Ratings collected so far in `split`.
    pub fn len(&self, split: Split) -> usize {
        match split {
            Split::Train => self.train.len(),
            Split::Test => self.test.len(),
        }
    }

    /// Whether no rating was collected.
    pub fn is_empty(&self) -> bool {
        self.train.is_empty() && self.test.is_empty()
    }

    /// Moves the train ratings whose (user, item) is in `pairs` to test
    /// (for the Netflix probe set). Returns how many moved.
    pub fn hold_out(&mut self, pairs: &std::collections::HashSet<(u32, u32)>) -> u64 {
        let (test, train): (Vec<Triple>, Vec<Triple>) = std::mem::take(&mut self.train)
            .into_iter()
            .partition(|t| pairs.contains(&(t.user, t.item)));
        self.train = train;
        let moved = test.len() as u64;
        self.test.extend(test);
        moved
    }

    /// Applies the duplicate policy, then (if `test_fraction` > 0) moves a
    /// seeded random fraction of train to test, and returns the set.
    pub fn finish(
        self,
        policy: DuplicatePolicy,
        test_fraction: f64,
        seed: u64,
        source: String,
    ) -> Result<(RatingSet, DuplicateCounts), String> {
        let Builder {
            user_ids,
            item_ids,
            train,
            test,
            range,
            ..
        } = self;
        let (mut train, dup_train) = dedup(train, policy, &user_ids, &item_ids, "train")?;
        let (mut test, dup_test) = dedup(test, policy, &user_ids, &item_ids, "test")?;
        let in_both_splits = pairs_in_both(&train, &test);
        if test_fraction > 0.0 {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x5EED_7E57);
            let (held, kept): (Vec<Triple>, Vec<Triple>) = train
                .into_iter()
                .partition(|_| rng.random::<f64>() < test_fraction);
            train = kept;
            test.extend(held);
        }
        let set = RatingSet {
            user_ids,
            item_ids,
            train,
            test,
            meta: Meta {
                rating_range: range,
                noise_floor: None,
                mean_rmse: None,
                source,
            },
        }
        .with_mean_rmse();
        Ok((
            set,
            DuplicateCounts {
                train: dup_train,
                test: dup_test,
                in_both_splits,
            },
        ))
    }
}

fn intern(
    map: &mut HashMap<Box<str>, u32, BuildIdHasher>,
    names: &mut Vec<String>,
    id: &str,
) -> u32 {
    if let Some(&n) = map.get(id) {
        return n;
    }
    let n = names.len() as u32;
    map.insert(id.into(), n);
    names.push(id.to_string());
    n
}

/// How many (user, item) pairs of `test` are in `train` too (each list
/// holds a pair at most once).
fn pairs_in_both(train: &[Triple], test: &[Triple]) -> u64 {
    if test.is_empty() {
        return 0;
    }
    let test: HashSet<(u32, u32), BuildIdHasher> = test.iter().map(|t| (t.user, t.item)).collect();
    train
        .iter()
        .filter(|t| test.contains(&(t.user, t.item)))
        .count() as u64
}

/// Sorts by (user, item) (stable: input order among equals) and merges
/// repeated pairs by `policy`. Returns the ratings and the number dropped.
fn dedup(
    ratings: Vec<Triple>,
    policy: DuplicatePolicy,
    users: &[String],
    items: &[String],
    which: &str,
) -> Result<(Vec<Triple>, u64), String> {
    let ratings = sort_by_pair(ratings, users.len(), items.len());
    let mut out: Vec<Triple> = Vec::with_capacity(ratings.len());
    let mut dropped = 0u64;
    let mut run = 0u32; // occurrences of the current pair so far
    let mut sum = 0f64;
    for t in ratings {
        match out.last_mut() {
            Some(last) if (last.user, last.item) == (t.user, t.item) => {
                dropped += 1;
                run += 1;
                match policy {
                    DuplicatePolicy::KeepFirst => {}
                    DuplicatePolicy::KeepLast => last.value = t.value,
                    DuplicatePolicy::Mean => {
                        sum += f64::from(t.value);
                        last.value = (sum / f64::from(run)) as f32;
                    }
                    DuplicatePolicy::Error => {
                        return Err(format!(
                            "user {:?} rated item {:?} more than once in the {which} input (see --duplicates)",
                            users[t.user as usize], items[t.item as usize]
                        ))
                    }
                }
            }
            _ => {
                run = 1;
                sum = f64::from(t.value);
                out.push(t);
            }
        }
    }
    Ok((out, dropped))
}

/// `ratings` sorted by (user, item), stably (input order among equal
/// pairs): what `sort_by_key(|t| (t.user, t.item))` gives, in two
/// counting-sort passes (by item, then by user) that take time linear in
/// the ratings and the ids rather than n log n comparisons. Every user is
/// below `users`, every item below `items` (they index the id lists).
fn sort_by_pair(ratings: Vec<Triple>, users: usize, items: usize) -> Vec<Triple> {
    let by_item = counting_sort(&ratings, items, |t| t.item);
    counting_sort(&by_item, users, |t| t.user)
}

/// `ratings` stably sorted by `key`, whose values are below `keys`.
fn counting_sort(ratings: &[Triple], keys: usize, key: impl Fn(&Triple) -> u32) -> Vec<Triple> {
    let mut starts = vec![0usize; keys + 1];
    for t in ratings {
        starts[key(t) as usize + 1] += 1;
    }
    for k in 0..keys {
        starts[k + 1] += starts[k];
    }
    let mut sorted = vec![Triple::default(); ratings.len()];
    for t in ratings {
        let at = &mut starts[key(t) as usize];
        sorted[*at] = *t;
        *at += 1;
    }
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(policy: DuplicatePolicy) -> Result<(RatingSet, DuplicateCounts), String> {
        let mut b = Builder::new(None);
        b.add(Split::Train, "u", "i", 1.0).unwrap();
        b.add(Split::Train, "v", "i", 2.0).unwrap();
        b.add(Split::Train, "u", "i", 3.0).unwrap();
        b.add(Split::Train, "u", "i", 5.0).unwrap();
        b.finish(policy, 0.0, 0, String::new())
    }

    #[test]
    fn duplicate_policies_keep_merge_or_refuse() {
        let value = |p| build(p).unwrap().0.train[0].value;
        assert_eq!(value(DuplicatePolicy::KeepFirst), 1.0);
        assert_eq!(value(DuplicatePolicy::KeepLast), 5.0);
        assert_eq!(value(DuplicatePolicy::Mean), 3.0);
        assert_eq!(build(DuplicatePolicy::KeepLast).unwrap().1.train, 2);
        assert!(build(DuplicatePolicy::Error).unwrap_err().contains("\"u\""));
    }

    #[test]
    fn refused_duplicates_name_both_places() {
        let mut b = Builder::new(None);
        b.refuse_duplicates();
        b.start_file(Path::new("a.csv"));
        b.at_line(3);
        b.add(Split::Train, "u", "i", 1.0).unwrap();
        b.add(Split::Test, "u", "i", 1.0).unwrap();
        b.start_file(Path::new("b.csv"));
        b.at_line(9);
        let err = b.add(Split::Train, "u", "i", 2.0).unwrap_err();
        assert!(err.contains("first at a.csv:3"), "{err}");
        assert!(err.contains("train input"), "{err}");
    }

    #[test]
    fn pairs_in_both_splits_are_counted() {
        let mut b = Builder::new(None);
        b.add(Split::Train, "u", "i", 1.0).unwrap();
        b.add(Split::Train, "u", "j", 1.0).unwrap();
        b.add(Split::Test, "u", "i", 2.0).unwrap();
        b.add(Split::Test, "v", "i", 2.0).unwrap();
        let (_, counts) = b
            .finish(DuplicatePolicy::KeepLast, 0.0, 0, String::new())
            .unwrap();
        assert_eq!(counts.in_both_splits, 1);
    }

    #[test]
    fn ratings_added_by_number_build_what_adding_by_name_builds() {
        let ratings = [
            ("u", "i", 1.0),
            ("v", "i", 2.0),
            ("u", "j", 3.0),
            ("u", "i", 5.0),
        ];
        let mut by_name = Builder::new(Some((1.0, 5.0)));
        for (u, i, v) in ratings {
            by_name.add(Split::Train, u, i, v).unwrap();
        }
        let mut by_number = Builder::new(Some((1.0, 5.0)));
        for u in ["u", "v"] {
            by_number.user(u);
        }
        for i in ["i", "j"] {
            by_number.item(i);
        }
        for (u, i, v) in ratings {
            let (u, i) = (
                by_number.known_user(u).unwrap(),
                by_number.known_item(i).unwrap(),
            );
            by_number.add_interned(Split::Train, u, i, v).unwrap();
        }
        assert!(by_number.add_interned(Split::Train, 2, 0, 1.0).is_err());
        assert!(by_number.add_interned(Split::Train, 0, 2, 1.0).is_err());
        assert!(by_number.add_interned(Split::Train, 0, 0, 5.5).is_err());
        let finish = |b: Builder| {
            b.finish(DuplicatePolicy::Mean, 0.5, 3, String::new())
                .unwrap()
        };
        assert_eq!(finish(by_number), finish(by_name));
    }

    #[test]
    fn sorting_by_pair_is_the_stable_sort_by_user_then_item() {
        // Repeated pairs with different values: their order must survive.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        let ratings: Vec<Triple> = (0..5000)
            .map(|n| Triple {
                user: rng.random_range(0..40),
                item: rng.random_range(0..30),
                value: n as f32,
            })
            .collect();
        let mut expected = ratings.clone();
        expected.sort_by_key(|t| (t.user, t.item));
        assert_eq!(sort_by_pair(ratings, 40, 30), expected);
        assert_eq!(sort_by_pair(Vec::new(), 0, 0), Vec::new());
    }

    #[test]
    fn values_outside_the_range_are_refused() {
        let mut b = Builder::new(Some((1.0, 5.0)));
        assert!(b.add(Split::Train, "u", "i", 5.5).is_err());
        assert!(b.add(Split::Train, "u", "i", 5.0).is_ok());
    }
}

/// A fast hasher for short id strings (the Fx multiply-rotate scheme).
/// Ids come from the user's own files, so hash flooding is not a concern;
/// SipHash made interning the largest cost of an import.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        // Full avalanche (MurmurHash3's fmix64): the product above only
        // mixes upwards, and hashbrown takes buckets from the low bits.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// Builds [`IdHasher`]s.
pub type BuildIdHasher = std::hash::BuildHasherDefault<IdHasher>;
