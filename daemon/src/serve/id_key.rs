//! Original ids as hash-map keys that are cheap to hash and compare: an
//! id that is a number written the one way numbers are written (decimal
//! digits, no sign, no leading zero, at most 19 digits) is kept as that
//! number, any other id as its text. Two ids are the same string exactly
//! when their keys are equal, since such a number has one spelling: `"7"`
//! is the number 7, while `"007"`, `"+7"` and `"7 "` are other ids and
//! stay text.
//!
//! [`IdRef`] is the borrowed form, for looking a key up without copying
//! the id; both hash alike (see [`hashbrown::Equivalent`]).
//!
//! The maps that use these keys ([`IdMap`]) hash with foldhash seeded at
//! random per process, so that ids sent by clients cannot be chosen to
//! collide.

use std::fmt;
use std::hash::{Hash, Hasher};

/// A hash map with a fast hasher seeded at random per process.
pub type IdMap<K, V> = hashbrown::HashMap<K, V, foldhash::fast::RandomState>;

/// The most digits an id may have to be kept as a number (every 19-digit
/// number fits in a `u64`).
const MAX_DIGITS: usize = 19;

/// An original id, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdKey {
    /// An id that is a number in its one spelling.
    Number(u64),
    /// Any other id.
    Text(Box<str>),
}

/// An original id, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdRef<'a> {
    /// An id that is a number in its one spelling.
    Number(u64),
    /// Any other id.
    Text(&'a str),
}

/// The number `id` spells, if it is written as numbers are (see the
/// module documentation).
pub fn canonical_number(id: &str) -> Option<u64> {
    let bytes = id.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_DIGITS || (bytes[0] == b'0' && bytes.len() > 1) {
        return None;
    }
    let mut n = 0u64;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        // At most 19 digits: no overflow.
        n = n * 10 + u64::from(b - b'0');
    }
    Some(n)
}

impl<'a> IdRef<'a> {
    /// The key of `id`.
    pub fn of(id: &'a str) -> IdRef<'a> {
        match canonical_number(id) {
            Some(n) => IdRef::Number(n),
            None => IdRef::Text(id),
        }
    }

    /// An owned copy.
    pub fn to_key(self) -> IdKey {
        match self {
            IdRef::Number(n) => IdKey::Number(n),
            IdRef::Text(s) => IdKey::Text(s.into()),
        }
    }
}

impl IdKey {
    /// The key of `id`, keeping its text (without copying it) if it is
    /// not a number.
    pub fn from_string(id: String) -> IdKey {
        match canonical_number(&id) {
            Some(n) => IdKey::Number(n),
            None => IdKey::Text(id.into_boxed_str()),
        }
    }

    /// The borrowed form.
    pub fn borrowed(&self) -> IdRef<'_> {
        match self {
            IdKey::Number(n) => IdRef::Number(*n),
            IdKey::Text(s) => IdRef::Text(s),
        }
    }
}

impl Hash for IdRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            IdRef::Number(n) => state.write_u64(*n),
            IdRef::Text(s) => s.hash(state),
        }
    }
}

impl Hash for IdKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.borrowed().hash(state);
    }
}

impl hashbrown::Equivalent<IdKey> for IdRef<'_> {
    fn equivalent(&self, key: &IdKey) -> bool {
        *self == key.borrowed()
    }
}

impl fmt::Display for IdRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdRef::Number(n) => write!(f, "{n}"),
            IdRef::Text(s) => f.write_str(s),
        }
    }
}

impl fmt::Display for IdKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.borrowed().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_one_spelling_of_a_number_becomes_a_number() {
        for (id, want) in [
            ("0", Some(0)),
            ("7", Some(7)),
            ("10", Some(10)),
            ("9", Some(9)),
            ("1234567890123456789", Some(1_234_567_890_123_456_789)),
            ("9999999999999999999", Some(9_999_999_999_999_999_999)),
            ("007", None),
            ("00", None),
            ("+7", None),
            ("-7", None),
            (" 7", None),
            ("7 ", None),
            ("7.0", None),
            ("1e3", None),
            ("", None),
            ("\u{661}", None), // ARABIC-INDIC DIGIT ONE
            ("18446744073709551615", None),
            ("99999999999999999999", None),
        ] {
            assert_eq!(canonical_number(id), want, "{id:?}");
        }
    }

    #[test]
    fn keys_are_equal_exactly_when_the_ids_are() {
        let ids = [
            "0",
            "00",
            "7",
            "007",
            "07",
            "10",
            "9",
            "1e1",
            "x",
            "X",
            "",
            "caf\u{e9}",
            "7 ",
        ];
        for a in ids {
            for b in ids {
                let (ka, kb) = (IdKey::from_string(a.into()), IdRef::of(b));
                assert_eq!(ka.borrowed() == kb, a == b, "{a:?} {b:?}");
                assert_eq!(
                    hashbrown::Equivalent::equivalent(&kb, &ka),
                    a == b,
                    "{a:?} {b:?}"
                );
            }
            // The key spells the id back.
            assert_eq!(IdKey::from_string(a.into()).to_string(), a);
            assert_eq!(IdRef::of(a).to_key(), IdKey::from_string(a.into()));
        }
    }

    #[test]
    fn a_map_finds_owned_keys_by_borrowed_ones() {
        let mut map: IdMap<IdKey, usize> = IdMap::default();
        let ids = ["1", "01", "x", "10", "9"];
        for (i, id) in ids.iter().enumerate() {
            map.insert(IdKey::from_string((*id).into()), i);
        }
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(map.get(&IdRef::of(id)), Some(&i), "{id}");
        }
        assert_eq!(map.get(&IdRef::of("001")), None);
        assert_eq!(map.get(&IdRef::of("2")), None);
    }
}
