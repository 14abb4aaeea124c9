//! The ratings accepted since the served data file was made, by user
//! (replayed from the ingest log on start, added to by the log's writer
//! as each batch becomes durable, forgotten once a published model's data
//! holds them).
//!
//! Every accepted rating passes through here on the writer thread, so the
//! layout is chosen for that: users are keyed by [`IdKey`] (a number
//! where the id is one, hashed and compared without touching its text),
//! item ids are interned once into small numbers, and each user's items
//! are a map of those numbers.

use super::id_key::{IdKey, IdMap, IdRef};
use super::ingest_log::NewRating;

/// A user's new ratings: interned item → (latest value, the log segment
/// that holds it).
type UserNews = IdMap<u32, (f32, u64)>;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct Overlay {
    users: IdMap<IdKey, UserNews>,
    items: Interner,
}

/// Item ids by number, and numbers by item id.
#[derive(Debug, Default)]
struct Interner {
    numbers: IdMap<IdKey, u32>,
    ids: Vec<IdKey>,
}

impl Interner {
    /// The number of `id`, given one if it has none yet.
    fn intern(&mut self, id: IdRef<'_>, owned: impl FnOnce() -> IdKey) -> u32 {
        if let Some(&n) = self.numbers.get(&id) {
            return n;
        }
        let n = u32::try_from(self.ids.len()).expect("fewer than 2^32 distinct new item ids");
        let key = owned();
        self.ids.push(key.clone());
        self.numbers.insert(key, n);
        n
    }
}

impl Overlay {
    /// Adds accepted ratings of log segment `segment`, in log order.
    pub fn apply(&mut self, batch: &[NewRating], segment: u64) {
        for r in batch {
            let user = IdRef::of(&r.user);
            let item = IdRef::of(&r.item);
            let item = self.items.intern(item, || item.to_key());
            self.news_of(user, || user.to_key())
                .insert(item, (r.value, segment));
        }
    }

    /// Adds accepted ratings of log segment `segment`, in log order,
    /// keeping their ids (as [`Overlay::apply`], without copying one).
    pub fn take(&mut self, batch: Vec<NewRating>, segment: u64) {
        for r in batch {
            let NewRating { user, item, value } = r;
            let item_ref = IdRef::of(&item);
            let item = self
                .items
                .intern(item_ref, || owned_key(item_ref, item.clone()));
            let user_ref = IdRef::of(&user);
            self.news_of(user_ref, || owned_key(user_ref, user.clone()))
                .insert(item, (value, segment));
        }
    }

    /// The news of `user`, made empty if there are none yet.
    fn news_of(&mut self, user: IdRef<'_>, owned: impl FnOnce() -> IdKey) -> &mut UserNews {
        // Looked up first so that a user already held costs no copy of
        // their id; the second hash is only paid by new users.
        if self.users.contains_key(&user) {
            return self.users.get_mut(&user).expect("just found");
        }
        self.users.entry(owned()).or_default()
    }

    /// Forgets the ratings whose latest value is in a segment up to
    /// `last`: the published model's data holds them. The item ids no
    /// user still refers to are forgotten too.
    pub fn applied_through(&mut self, last: u64) {
        self.users.retain(|_, items| {
            items.retain(|_, (_, segment)| *segment > last);
            !items.is_empty()
        });
        // Renumber the items still referred to.
        let mut renumbered = vec![u32::MAX; self.items.ids.len()];
        let mut kept = Interner::default();
        for news in self.users.values_mut() {
            let old = std::mem::take(news);
            news.reserve(old.len());
            for (item, slot) in old {
                let n = &mut renumbered[item as usize];
                if *n == u32::MAX {
                    let id = &self.items.ids[item as usize];
                    *n = kept.intern(id.borrowed(), || id.clone());
                }
                news.insert(*n, slot);
            }
        }
        self.items = kept;
    }

    /// Users with new ratings.
    pub fn users(&self) -> usize {
        self.users.len()
    }

    /// Item ids the overlay holds (each once).
    pub fn items(&self) -> usize {
        self.items.ids.len()
    }

    /// Whether `user` has new ratings.
    pub fn has(&self, user: &str) -> bool {
        self.users.contains_key(&IdRef::of(user))
    }

    /// The new ratings of `user` (original item id, value).
    pub fn ratings_of(&self, user: &str) -> Option<Vec<(String, f32)>> {
        self.users.get(&IdRef::of(user)).map(|news| {
            news.iter()
                .map(|(&item, &(value, _))| (self.items.ids[item as usize].to_string(), value))
                .collect()
        })
    }

    /// The value and segment of `user`'s new rating of `item`.
    pub fn rating(&self, user: &str, item: &str) -> Option<(f32, u64)> {
        let item = *self.items.numbers.get(&IdRef::of(item))?;
        self.users.get(&IdRef::of(user))?.get(&item).copied()
    }
}

/// The owned key of `id` (whose borrowed key is `key`), reusing the
/// string's allocation for a text id.
fn owned_key(key: IdRef<'_>, id: String) -> IdKey {
    match key {
        IdRef::Number(n) => IdKey::Number(n),
        IdRef::Text(_) => IdKey::Text(id.into_boxed_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(user: &str, item: &str, value: f32) -> NewRating {
        NewRating {
            user: user.into(),
            item: item.into(),
            value,
        }
    }

    fn sorted(o: &Overlay, user: &str) -> Option<Vec<(String, f32)>> {
        o.ratings_of(user).map(|mut v| {
            v.sort_by(|p, q| p.0.cmp(&q.0));
            v
        })
    }

    #[test]
    fn taking_a_batch_keeps_the_same_ratings_as_applying_it() {
        let batches = [
            vec![r("a", "x", 1.0), r("b", "x", 2.0), r("a", "y", 3.0)],
            vec![r("a", "x", 4.0), r("c", "z", 5.0)],
        ];
        let (mut applied, mut taken) = (Overlay::default(), Overlay::default());
        for (segment, b) in batches.iter().enumerate() {
            applied.apply(b, segment as u64);
            taken.take(b.clone(), segment as u64);
        }
        for user in ["a", "b", "c", "d"] {
            assert_eq!(sorted(&applied, user), sorted(&taken, user), "{user}");
        }
        assert_eq!(
            taken.rating("a", "x"),
            Some((4.0, 1)),
            "a re-rated item keeps its latest value and segment"
        );
    }

    #[test]
    fn ids_that_spell_the_same_number_differently_are_different_ids() {
        let mut o = Overlay::default();
        o.take(
            vec![
                r("7", "10", 1.0),
                r("007", "10", 2.0),
                r("7", "010", 3.0),
                r("07", "9", 4.0),
                r("7", "10", 5.0),
            ],
            1,
        );
        assert_eq!(o.users(), 3);
        assert_eq!(o.items(), 3);
        assert_eq!(
            sorted(&o, "7"),
            Some(vec![("010".to_string(), 3.0), ("10".to_string(), 5.0)])
        );
        assert_eq!(sorted(&o, "007"), Some(vec![("10".to_string(), 2.0)]));
        assert_eq!(sorted(&o, "07"), Some(vec![("9".to_string(), 4.0)]));
        assert!(!o.has("0007"));
        assert_eq!(o.rating("7", "0010"), None);
    }

    #[test]
    fn a_publish_forgets_exactly_the_ratings_its_data_holds() {
        let mut overlay = Overlay::default();
        overlay.apply(&[r("a", "x", 1.0), r("b", "x", 2.0), r("b", "w", 2.0)], 1);
        overlay.apply(&[r("a", "x", 3.0), r("c", "y", 4.0)], 2);
        overlay.applied_through(1);
        // "a" re-rated x in segment 2: the newer value stays.
        assert_eq!(overlay.ratings_of("a"), Some(vec![("x".to_string(), 3.0)]));
        assert!(!overlay.has("b"));
        assert_eq!(overlay.users(), 2);
        // w is no one's any more; x and y are renumbered and still found.
        assert_eq!(overlay.items(), 2);
        assert_eq!(overlay.rating("c", "y"), Some((4.0, 2)));
        overlay.apply(&[r("d", "w", 5.0), r("a", "y", 1.5)], 3);
        assert_eq!(
            sorted(&overlay, "a"),
            Some(vec![("x".to_string(), 3.0), ("y".to_string(), 1.5)])
        );
        assert_eq!(overlay.rating("d", "w"), Some((5.0, 3)));
        overlay.applied_through(3);
        assert_eq!((overlay.users(), overlay.items()), (0, 0));
    }
}
