//! One rating of a JSON (or NDJSON) intake body, read straight from the
//! text into borrowed ids: no `serde_json::Value` tree, no map of fields,
//! and no copy of an id that holds no escape.
//!
//! The reader is lenient on purpose: a record of the wrong shape (not an
//! object, a missing or unknown field, a field of the wrong type) is not a
//! serde error but a [`JsonRecord`] holding the message, so that the
//! caller can name every bad record of a body and still refuse only
//! malformed JSON as a whole.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A record as read: its fields, or what is wrong with its shape.
pub struct JsonRecord<'a>(pub Result<Fields<'a>, String>);

/// The fields of a well-shaped record.
pub struct Fields<'a> {
    /// The user's original id (a JSON integer as its decimal text).
    pub user: Cow<'a, str>,
    /// The item's original id.
    pub item: Cow<'a, str>,
    /// The rating, narrowed to `f32` (a value beyond `f32` is infinite).
    pub value: f32,
}

/// A field's value: only what a record may hold is kept.
enum Scalar<'a> {
    Text(Cow<'a, str>),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    /// `true`, `false`, `null`, an array or an object.
    Other,
}

impl<'a> Scalar<'a> {
    fn id(self, field: &str) -> Result<Cow<'a, str>, String> {
        match self {
            Scalar::Text(s) => Ok(s),
            Scalar::Unsigned(n) => Ok(Cow::Owned(n.to_string())),
            Scalar::Signed(n) => Ok(Cow::Owned(n.to_string())),
            Scalar::Float(_) | Scalar::Other => {
                Err(format!("\"{field}\" must be a string or an integer"))
            }
        }
    }

    fn rating(&self) -> Result<f32, String> {
        match *self {
            Scalar::Unsigned(n) => Ok(n as f64 as f32),
            Scalar::Signed(n) => Ok(n as f64 as f32),
            Scalar::Float(x) => Ok(x as f32),
            Scalar::Text(_) | Scalar::Other => Err("\"rating\" must be a number".into()),
        }
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Unsigned(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Signed(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

/// The records of a JSON array body, in order.
pub struct JsonRecords<'a>(pub Vec<JsonRecord<'a>>);

impl<'de> Deserialize<'de> for JsonRecords<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ArrayVisitor;
        impl<'de> Visitor<'de> for ArrayVisitor {
            type Value = JsonRecords<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON array of {\"user\", \"item\", \"rating\"} objects")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                // A record takes at least 30 bytes of JSON; the hint is
                // whatever serde_json knows (usually nothing).
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(record) = seq.next_element::<JsonRecord<'de>>()? {
                    out.push(record);
                }
                Ok(JsonRecords(out))
            }
        }
        d.deserialize_seq(ArrayVisitor)
    }
}

impl<'de> Deserialize<'de> for JsonRecord<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RecordVisitor)
    }
}

struct RecordVisitor;

const NOT_AN_OBJECT: &str = "not an object {\"user\", \"item\", \"rating\"}";

fn not_an_object<'a, E>() -> Result<JsonRecord<'a>, E> {
    Ok(JsonRecord(Err(NOT_AN_OBJECT.into())))
}

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = JsonRecord<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(NOT_AN_OBJECT)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        not_an_object()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        not_an_object()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        not_an_object()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        not_an_object()
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        not_an_object()
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        not_an_object()
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        not_an_object()
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut user, mut item, mut rating) = (None, None, None);
        // The alphabetically first unknown field is the one named.
        let mut unknown: Option<String> = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let value = map.next_value::<Scalar<'de>>()?;
            // A repeated field takes its last value, as in a JSON object
            // read into a map.
            match key.as_ref() {
                "user" => user = Some(value),
                "item" => item = Some(value),
                "rating" => rating = Some(value),
                other => {
                    if unknown.as_deref().is_none_or(|u| other < u) {
                        unknown = Some(other.to_owned());
                    }
                }
            }
        }
        Ok(JsonRecord(fields(user, item, rating, unknown)))
    }
}

/// The record's fields from its values, checked in the order the
/// messages promise: unknown fields, then the rating, then the ids.
fn fields<'a>(
    user: Option<Scalar<'a>>,
    item: Option<Scalar<'a>>,
    rating: Option<Scalar<'a>>,
    unknown: Option<String>,
) -> Result<Fields<'a>, String> {
    if let Some(extra) = unknown {
        return Err(format!(
            "unknown field {extra:?} (the fields are user, item, rating)"
        ));
    }
    let value = rating.ok_or("\"rating\" is missing")?.rating()?;
    let user = user.ok_or("\"user\" is missing")?.id("user")?;
    let item = item.ok_or("\"item\" is missing")?.id("item")?;
    Ok(Fields { user, item, value })
}
