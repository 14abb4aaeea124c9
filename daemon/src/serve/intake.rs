//! Taking in ratings: the body of `POST /v1/ratings` parsed and checked
//! as a whole, and what the accepted ratings change at once.
//!
//! - [`parse_batch`]: a JSON array, NDJSON or CSV body (by `Content-Type`)
//!   into ratings, every bad record named by its index; all or none.
//! - [`Overlay`]: the ratings accepted since the served data file was made
//!   (replayed from the ingest log on start), by user. A user with new
//!   ratings is answered from a row folded in against the live item
//!   factors from their train ratings plus the new ones (a re-rated item
//!   takes its new value), and the items they rated are never
//!   recommended to them. Items the model does not know yet cannot be
//!   folded against: they are kept in the log and become recommendable
//!   after the next training round.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use super::ingest_log::{NewRating, MAX_ID_BYTES};
use super::snapshot::Snapshot;

/// The body formats `POST /v1/ratings` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFormat {
    /// `[{"user": U, "item": I, "rating": R}, …]` (`application/json`, the default).
    Json,
    /// One such object per line (`application/x-ndjson`, `application/jsonl`).
    Ndjson,
    /// `user,item,rating` lines, an optional header of those names (`text/csv`).
    Csv,
}

impl BodyFormat {
    /// The format a `Content-Type` names (JSON when none is given).
    pub fn of(content_type: Option<&str>) -> Result<BodyFormat, String> {
        let Some(ct) = content_type else {
            return Ok(BodyFormat::Json);
        };
        let essence = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/json" | "" => Ok(BodyFormat::Json),
            "application/x-ndjson" | "application/ndjson" | "application/jsonl" => {
                Ok(BodyFormat::Ndjson)
            }
            "text/csv" => Ok(BodyFormat::Csv),
            other => Err(format!(
                "content type {other:?} is not read here: send application/json (an array), \
                 application/x-ndjson or text/csv"
            )),
        }
    }
}

/// A record that cannot be taken, by its index in the body (from 0).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordError {
    /// The record's index.
    pub index: usize,
    /// What is wrong with it.
    pub error: String,
}

/// Why a batch is refused as a whole.
#[derive(Clone, Debug, PartialEq)]
pub enum BatchError {
    /// The body itself cannot be read (not JSON, not an array, empty).
    Body(String),
    /// These records are bad (the others are not taken either).
    Records(Vec<RecordError>),
}

/// Parses a body and checks every record: ids non-empty and at most
/// [`MAX_ID_BYTES`] bytes, the rating finite and within `range`.
pub fn parse_batch(
    body: &[u8],
    format: BodyFormat,
    range: Option<(f32, f32)>,
) -> Result<Vec<NewRating>, BatchError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| BatchError::Body(format!("the body is not UTF-8: {e}")))?;
    let parsed: Vec<Result<NewRating, String>> = match format {
        BodyFormat::Json => {
            let value: Value = serde_json::from_str(text)
                .map_err(|e| BatchError::Body(format!("the body is not JSON: {e}")))?;
            let Value::Array(items) = value else {
                return Err(BatchError::Body(
                    "the body must be a JSON array of {\"user\", \"item\", \"rating\"} objects"
                        .into(),
                ));
            };
            items.iter().map(from_json).collect()
        }
        BodyFormat::Ndjson => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                serde_json::from_str::<Value>(line)
                    .map_err(|e| format!("not JSON: {e}"))
                    .and_then(|v| from_json(&v))
            })
            .collect(),
        BodyFormat::Csv => {
            let mut lines = text.lines().filter(|l| !l.trim().is_empty()).peekable();
            if lines.peek().is_some_and(|l| {
                l.split(',')
                    .map(|f| f.trim().to_ascii_lowercase())
                    .eq(["user", "item", "rating"])
            }) {
                lines.next();
            }
            lines.map(from_csv).collect()
        }
    };
    if parsed.is_empty() {
        return Err(BatchError::Body("the body holds no ratings".into()));
    }
    let mut good = Vec::with_capacity(parsed.len());
    let mut bad = Vec::new();
    for (index, record) in parsed.into_iter().enumerate() {
        match record.and_then(|r| check(r, range)) {
            Ok(r) => good.push(r),
            Err(error) => bad.push(RecordError { index, error }),
        }
    }
    if bad.is_empty() {
        Ok(good)
    } else {
        Err(BatchError::Records(bad))
    }
}

fn id_of(v: Option<&Value>, field: &str) -> Result<String, String> {
    match v {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => Ok(n.to_string()),
        Some(_) => Err(format!("\"{field}\" must be a string or an integer")),
        None => Err(format!("\"{field}\" is missing")),
    }
}

fn from_json(v: &Value) -> Result<NewRating, String> {
    let Value::Object(o) = v else {
        return Err("not an object {\"user\", \"item\", \"rating\"}".into());
    };
    if let Some(extra) = o
        .keys()
        .find(|k| !["user", "item", "rating"].contains(&k.as_str()))
    {
        return Err(format!(
            "unknown field {extra:?} (the fields are user, item, rating)"
        ));
    }
    let value = match o.get("rating") {
        Some(Value::Number(n)) => n.as_f64().map(|x| x as f32).unwrap_or(f32::NAN),
        Some(_) => return Err("\"rating\" must be a number".into()),
        None => return Err("\"rating\" is missing".into()),
    };
    Ok(NewRating {
        user: id_of(o.get("user"), "user")?,
        item: id_of(o.get("item"), "item")?,
        value,
    })
}

fn from_csv(line: &str) -> Result<NewRating, String> {
    let mut fields = line.split(',').map(str::trim);
    let (Some(user), Some(item), Some(value), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(format!(
            "{} fields, expected 3 (user,item,rating; quoting is not supported)",
            line.split(',').count()
        ));
    };
    let value: f32 = value
        .parse()
        .map_err(|_| format!("rating {value:?} is not a number"))?;
    Ok(NewRating {
        user: user.to_owned(),
        item: item.to_owned(),
        value,
    })
}

fn check(r: NewRating, range: Option<(f32, f32)>) -> Result<NewRating, String> {
    for (what, id) in [("user", &r.user), ("item", &r.item)] {
        if id.is_empty() {
            return Err(format!("empty {what} id"));
        }
        if id.len() > MAX_ID_BYTES {
            return Err(format!("{what} id longer than {MAX_ID_BYTES} bytes"));
        }
    }
    if !r.value.is_finite() {
        return Err(format!("rating {} is not a finite number", r.value));
    }
    if let Some((lo, hi)) = range {
        if !(lo..=hi).contains(&r.value) {
            return Err(format!(
                "rating {} is outside the data's range {lo}..{hi}",
                r.value
            ));
        }
    }
    Ok(r)
}

/// The ratings accepted since the served data file was made, by user:
/// item → the latest value of a re-rated item, and the log segment that
/// holds it.
#[derive(Debug, Default)]
pub struct Overlay {
    users: HashMap<String, HashMap<String, (f32, u64)>>,
}

/// A user's row refreshed by fold-in, and the items to leave out of
/// their recommendations.
#[derive(Debug)]
pub struct Refreshed {
    /// The folded-in factor row (`rank` values).
    pub row: Vec<f32>,
    /// The folded-in bias.
    pub bias: f32,
    /// Items the user rated (data and new ratings), as a mask.
    pub excluded: Vec<bool>,
}

impl Overlay {
    /// Adds accepted ratings of log segment `segment`, in log order.
    pub fn apply(&mut self, batch: &[NewRating], segment: u64) {
        for r in batch {
            // Look up before inserting, so that a user (or item) already
            // held costs no copy of its id.
            let items = match self.users.get_mut(&r.user) {
                Some(items) => items,
                None => self.users.entry(r.user.clone()).or_default(),
            };
            match items.get_mut(&r.item) {
                Some(slot) => *slot = (r.value, segment),
                None => {
                    items.insert(r.item.clone(), (r.value, segment));
                }
            }
        }
    }

    /// Forgets the ratings whose latest value is in a segment up to
    /// `last`: the published model's data holds them now.
    pub fn applied_through(&mut self, last: u64) {
        self.users.retain(|_, items| {
            items.retain(|_, (_, segment)| *segment > last);
            !items.is_empty()
        });
    }

    /// Users with new ratings.
    pub fn users(&self) -> usize {
        self.users.len()
    }

    /// Whether `user` has new ratings.
    pub fn has(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }

    /// The new ratings of `user` (original item id, value).
    pub fn ratings_of(&self, user: &str) -> Option<Vec<(String, f32)>> {
        self.users
            .get(user)
            .map(|m| m.iter().map(|(i, (v, _))| (i.clone(), *v)).collect())
    }
}

/// `user`'s row folded in against `snapshot`'s item factors from their
/// train ratings in the data (if known) and `news` (original item ids;
/// items the model does not know are left out). `None` when none of the
/// user's items is known to the model, a block of their band is damaged,
/// or the solve fails.
pub fn refresh(snapshot: &Snapshot, user: &str, news: &[(String, f32)]) -> Option<Refreshed> {
    let known = snapshot.user(user);
    let mut ratings: HashMap<usize, f32> = match known {
        Some(u) => snapshot.train_ratings_of(u).into_iter().collect(),
        None => HashMap::new(),
    };
    let mut excluded = match known {
        Some(u) => snapshot.rated_by(u).ok()?,
        None => vec![false; snapshot.model.items()],
    };
    for (item, value) in news {
        if let Some(i) = snapshot.item(item) {
            ratings.insert(i, *value);
            excluded[i] = true;
        }
    }
    if ratings.is_empty() {
        return None;
    }
    let mut list: Vec<(usize, f32)> = ratings.into_iter().collect();
    // The solve sums in this order: sort it, so the row does not depend
    // on hashing.
    list.sort_by_key(|&(i, _)| i);
    let (row, bias) = snapshot.fold_in(&list).ok()?;
    Some(Refreshed {
        row,
        bias,
        excluded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_body_formats_read_the_same_batch() {
        let json =
            br#"[{"user": 7, "item": "a", "rating": 4}, {"user": "x", "item": 9, "rating": 2.5}]"#;
        let ndjson = b"{\"user\": 7, \"item\": \"a\", \"rating\": 4}\n\n{\"user\": \"x\", \"item\": 9, \"rating\": 2.5}\n";
        let csv = b"user,item,rating\n7,a,4\nx, 9 ,2.5\n";
        let a = parse_batch(json, BodyFormat::Json, Some((1.0, 5.0))).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a[1].item, "9");
        assert_eq!(parse_batch(ndjson, BodyFormat::Ndjson, None).unwrap(), a);
        assert_eq!(parse_batch(csv, BodyFormat::Csv, None).unwrap(), a);
    }

    #[test]
    fn a_publish_forgets_exactly_the_ratings_its_data_holds() {
        let r = |user: &str, item: &str, value: f32| NewRating {
            user: user.into(),
            item: item.into(),
            value,
        };
        let mut overlay = Overlay::default();
        overlay.apply(&[r("a", "x", 1.0), r("b", "x", 2.0)], 1);
        overlay.apply(&[r("a", "x", 3.0), r("c", "y", 4.0)], 2);
        overlay.applied_through(1);
        // "a" re-rated x in segment 2: the newer value stays.
        assert_eq!(overlay.ratings_of("a"), Some(vec![("x".to_string(), 3.0)]));
        assert!(!overlay.has("b"));
        assert_eq!(overlay.users(), 2);
        overlay.applied_through(2);
        assert_eq!(overlay.users(), 0);
    }

    #[test]
    fn every_bad_record_is_named_and_nothing_is_taken() {
        let body = br#"[{"user": "u", "item": "i", "rating": 3},
                        {"user": "u", "item": "i", "rating": 6},
                        {"user": "", "item": "i", "rating": 3},
                        {"user": "u", "rating": 3},
                        {"user": "u", "item": "i", "rating": "3"},
                        {"user": "u", "item": "i", "rating": 3, "when": 1}]"#;
        let Err(BatchError::Records(bad)) = parse_batch(body, BodyFormat::Json, Some((1.0, 5.0)))
        else {
            panic!("must be refused");
        };
        let indices: Vec<usize> = bad.iter().map(|e| e.index).collect();
        assert_eq!(indices, [1, 2, 3, 4, 5]);
        assert!(bad[0].error.contains("outside"));
        assert!(matches!(
            parse_batch(b"[]", BodyFormat::Json, None),
            Err(BatchError::Body(_))
        ));
        assert!(matches!(
            parse_batch(b"{}", BodyFormat::Json, None),
            Err(BatchError::Body(_))
        ));
        let Err(BatchError::Records(bad)) = parse_batch(b"u,i,nan\nu,i\n", BodyFormat::Csv, None)
        else {
            panic!("must be refused");
        };
        assert_eq!(bad.len(), 2);
        assert!(BodyFormat::of(Some("text/plain")).is_err());
        assert_eq!(
            BodyFormat::of(Some("application/x-ndjson; charset=utf-8")),
            Ok(BodyFormat::Ndjson)
        );
    }
}
