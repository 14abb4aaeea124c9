//! Taking in ratings: the body of `POST /v1/ratings` parsed and checked
//! as a whole, and what the accepted ratings change at once.
//!
//! - [`parse_batch`]: a JSON array, NDJSON or CSV body (by `Content-Type`)
//!   into ratings, every bad record named by its index; all or none.
//! - [`Overlay`] (in [`super::overlay`]): the ratings accepted since the
//!   served data file was made (replayed from the ingest log on start), by
//!   user. A user with new ratings is answered from a row folded in
//!   against the live item factors from their train ratings plus the new
//!   ones (a re-rated item takes its new value), and the items they rated
//!   are never recommended to them. Items the model does not know yet cannot be
//!   folded against: they are kept in the log and become recommendable
//!   after the next training round.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Serialize;

use super::ingest_log::{NewRating, MAX_ID_BYTES};
use super::json_record::{Fields, JsonRecord, JsonRecords};
pub use super::overlay::Overlay;
use super::snapshot::Snapshot;

/// The body formats `POST /v1/ratings` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFormat {
    /// `[{"user": U, "item": I, "rating": R}, …]` (`application/json`, the default).
    Json,
    /// One such object per line (`application/x-ndjson`, `application/jsonl`).
    Ndjson,
    /// `user,item,rating` lines, an optional header of those names
    /// (`text/csv`); a field may be quoted as RFC 4180 has it
    /// (`"Movie, The"`, `"say ""hi"""`).
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
    let mut batch = Batch::new(range);
    match format {
        BodyFormat::Json => {
            let records = serde_json::from_str::<JsonRecords>(text).map_err(|e| {
                BatchError::Body(if e.classify() == serde_json::error::Category::Data {
                    "the body must be a JSON array of {\"user\", \"item\", \"rating\"} objects"
                        .into()
                } else {
                    format!("the body is not JSON: {e}")
                })
            })?;
            batch.reserve(records.0.len());
            for JsonRecord(record) in records.0 {
                batch.push_json(record);
            }
        }
        BodyFormat::Ndjson => {
            batch.reserve(text.len() / 32);
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                match serde_json::from_str::<JsonRecord>(line) {
                    Ok(JsonRecord(record)) => batch.push_json(record),
                    Err(e) => batch.refuse(format!("not JSON: {e}")),
                }
            }
        }
        BodyFormat::Csv => {
            batch.reserve(text.len() / 12);
            let mut lines = text.lines().filter(|l| !l.trim().is_empty()).peekable();
            if lines.peek().is_some_and(|l| is_csv_header(l)) {
                lines.next();
            }
            // A body without a quote (the bulk case) never looks for one
            // line by line.
            let quoted = text.contains('"');
            for line in lines {
                match csv_fields(line, quoted) {
                    Ok((user, item, value)) => batch.push(user, item, value),
                    Err(e) => batch.refuse(e),
                }
            }
        }
    }
    batch.finish()
}

/// The records of a body as they are read: the good ones owned, the bad
/// ones named by index.
struct Batch {
    range: Option<(f32, f32)>,
    next: usize,
    good: Vec<NewRating>,
    bad: Vec<RecordError>,
}

impl Batch {
    fn new(range: Option<(f32, f32)>) -> Batch {
        Batch {
            range,
            next: 0,
            good: Vec::new(),
            bad: Vec::new(),
        }
    }

    /// Room for about `records` more (an estimate from the body's size).
    fn reserve(&mut self, records: usize) {
        self.good.reserve(records);
    }

    fn push_json(&mut self, record: Result<Fields<'_>, String>) {
        match record {
            Ok(f) => self.push(f.user, f.item, f.value),
            Err(e) => self.refuse(e),
        }
    }

    /// Takes a record whose shape is right, if its values are.
    fn push(&mut self, user: Cow<'_, str>, item: Cow<'_, str>, value: f32) {
        match check(&user, &item, value, self.range) {
            // Once the batch is refused, the good records are not kept.
            Ok(()) if self.bad.is_empty() => {
                self.good.push(NewRating {
                    user: user.into_owned(),
                    item: item.into_owned(),
                    value,
                });
                self.next += 1;
            }
            Ok(()) => self.next += 1,
            Err(e) => self.refuse(e),
        }
    }

    fn refuse(&mut self, error: String) {
        self.bad.push(RecordError {
            index: self.next,
            error,
        });
        self.next += 1;
    }

    fn finish(self) -> Result<Vec<NewRating>, BatchError> {
        if self.next == 0 {
            Err(BatchError::Body("the body holds no ratings".into()))
        } else if self.bad.is_empty() {
            Ok(self.good)
        } else {
            Err(BatchError::Records(self.bad))
        }
    }
}

/// Whether a CSV line is the header `user,item,rating` (any case, spaces
/// around the names allowed, quoted or not).
fn is_csv_header(line: &str) -> bool {
    let is = |names: &mut dyn Iterator<Item = &str>| {
        ["user", "item", "rating"].iter().all(|want| {
            names
                .next()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case(want))
        }) && names.next().is_none()
    };
    if line.contains('"') {
        unquoted(line).is_ok_and(|fields| is(&mut fields.iter().map(String::as_str)))
    } else {
        is(&mut line.split(','))
    }
}

/// The three fields of a CSV line, trimmed: borrowed from the line when
/// it holds no quote (the fast path), unquoted by the `csv` crate when it
/// does. `quoted`: whether the body holds a quote anywhere.
fn csv_fields(line: &str, quoted: bool) -> Result<(Cow<'_, str>, Cow<'_, str>, f32), String> {
    if quoted && line.contains('"') {
        let fields = unquoted(line)?;
        let [user, item, value] = fields.as_slice() else {
            return Err(field_count(fields.len()));
        };
        return Ok((
            Cow::Owned(user.trim().to_string()),
            Cow::Owned(item.trim().to_string()),
            rating(value.trim())?,
        ));
    }
    let mut fields = line.split(',').map(str::trim);
    let (Some(user), Some(item), Some(value), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(field_count(line.split(',').count()));
    };
    Ok((user.into(), item.into(), rating(value)?))
}

/// The refusal of a line of `n` fields.
fn field_count(n: usize) -> String {
    format!("{n} fields, expected 3 (user,item,rating; quote a field that holds a comma)")
}

/// The rating field, read.
fn rating(value: &str) -> Result<f32, String> {
    value
        .parse()
        .map_err(|_| format!("rating {value:?} is not a number"))
}

/// The fields of a CSV line that holds a quote, unquoted as `funkd import`
/// reads CSV (the `csv` crate: a field that begins with `"` runs to the
/// next lone `"`, and `""` inside it is one `"`). The crate reads any line
/// somehow; a line it would read otherwise than RFC 4180 means (a quote
/// not closed, a quote inside an unquoted field, text after a closing
/// quote) is refused instead, its field named.
fn unquoted(line: &str) -> Result<Vec<String>, String> {
    check_quoting(line)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(line.as_bytes());
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(_) => Ok(record.iter().map(str::to_string).collect()),
        Err(e) => Err(format!("cannot read the line as CSV: {e}")),
    }
}

/// Where a line's quoting breaks RFC 4180, if it does (fields counted
/// from 1). A quoted field begins with its quote; spaces after its closing
/// quote are allowed (fields are trimmed).
fn check_quoting(line: &str) -> Result<(), String> {
    #[derive(Clone, Copy, PartialEq)]
    enum At {
        Start,
        Unquoted,
        Quoted,
        /// A quote inside a quoted field: its end, or the first of `""`.
        Quote,
        AfterQuoted,
    }
    let mut at = At::Start;
    let mut field = 1;
    for c in line.bytes() {
        at = match (at, c) {
            (At::Quoted, b'"') => At::Quote,
            (At::Quoted, _) => At::Quoted,
            (At::Quote, b'"') => At::Quoted,
            (_, b',') => {
                field += 1;
                At::Start
            }
            (At::Start, b'"') => At::Quoted,
            (At::Unquoted, b'"') => {
                return Err(format!(
                    "bad quoting in field {field}: a quote inside an unquoted field \
                     (a quoted field begins with its quote and doubles the quotes it holds)"
                ))
            }
            (At::Start | At::Unquoted, _) => At::Unquoted,
            (At::Quote | At::AfterQuoted, b' ' | b'\t' | b'\r') => At::AfterQuoted,
            (At::Quote | At::AfterQuoted, _) => {
                return Err(format!(
                    "bad quoting in field {field}: text after its closing quote \
                     (a quote inside a quoted field is doubled)"
                ))
            }
        };
    }
    if at == At::Quoted {
        return Err(format!(
            "bad quoting in field {field}: its quote is not closed on this line \
             (a CSV body holds one rating a line: send an id with a line break in it \
             as JSON or NDJSON)"
        ));
    }
    Ok(())
}

fn check(user: &str, item: &str, value: f32, range: Option<(f32, f32)>) -> Result<(), String> {
    for (what, id) in [("user", user), ("item", item)] {
        if id.is_empty() {
            return Err(format!("empty {what} id"));
        }
        if id.len() > MAX_ID_BYTES {
            return Err(format!("{what} id longer than {MAX_ID_BYTES} bytes"));
        }
    }
    if !value.is_finite() {
        return Err(format!("rating {value} is not a finite number"));
    }
    if let Some((lo, hi)) = range {
        if !(lo..=hi).contains(&value) {
            return Err(format!(
                "rating {value} is outside the data's range {lo}..{hi}"
            ));
        }
    }
    Ok(())
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

    fn refused(body: &[u8], format: BodyFormat) -> Vec<RecordError> {
        match parse_batch(body, format, Some((1.0, 5.0))) {
            Err(BatchError::Records(bad)) => bad,
            other => panic!("must be refused by record: {other:?}"),
        }
    }

    #[test]
    fn odd_but_valid_json_is_read() {
        // Escaped and raw unicode ids, negative integer ids, whitespace
        // everywhere, a repeated field taking its last value.
        let body = " [ {\"user\" : \"\\u00e9l\\\"o\" , \"item\":\"\u{65e5}\u{672c}\", \"rating\": 4.5e0 } ,\n\
                    {\"rating\":1,\"item\":-3,\"user\":18446744073709551615,\"rating\":2} ] ";
        let got = parse_batch(body.as_bytes(), BodyFormat::Json, Some((1.0, 5.0))).unwrap();
        assert_eq!(
            got,
            [
                NewRating {
                    user: "\u{e9}l\"o".into(),
                    item: "\u{65e5}\u{672c}".into(),
                    value: 4.5
                },
                NewRating {
                    user: "18446744073709551615".into(),
                    item: "-3".into(),
                    value: 2.0
                },
            ]
        );
        let ndjson = body
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .replace("} ,", "}");
        assert_eq!(
            parse_batch(ndjson.as_bytes(), BodyFormat::Ndjson, None).unwrap(),
            got
        );
    }

    #[test]
    fn every_misshapen_json_record_is_named() {
        let body = br#"[1, "x", null, [1, {"user": 1}], {"user": {"a": [1]}, "item": "i", "rating": 3},
            {"user": 1.5, "item": "i", "rating": 3}, {"user": "u", "item": true, "rating": 3},
            {"user": "u", "item": "i", "rating": [3]}, {"zz": 1, "when": 2, "user": "u", "item": "i", "rating": 3},
            {"user": "u", "item": "i"}, {"item": "i", "rating": 2}, {"user": "u", "rating": 2},
            {"user": "u", "item": "i", "rating": 1e40}, {"user": "u", "item": "i", "rating": 3}]"#;
        let bad = refused(body, BodyFormat::Json);
        let named: Vec<(usize, &str)> = bad.iter().map(|e| (e.index, e.error.as_str())).collect();
        let not_object = "not an object {\"user\", \"item\", \"rating\"}";
        assert_eq!(
            named,
            [
                (0, not_object),
                (1, not_object),
                (2, not_object),
                (3, not_object),
                (4, "\"user\" must be a string or an integer"),
                (5, "\"user\" must be a string or an integer"),
                (6, "\"item\" must be a string or an integer"),
                (7, "\"rating\" must be a number"),
                (
                    8,
                    "unknown field \"when\" (the fields are user, item, rating)"
                ),
                (9, "\"rating\" is missing"),
                (10, "\"user\" is missing"),
                (11, "\"item\" is missing"),
                (12, "rating inf is not a finite number"),
            ]
        );
        let long = "x".repeat(MAX_ID_BYTES + 1);
        let body = format!(
            r#"[{{"user":"{long}","item":"i","rating":3}},{{"user":"u","item":"{}","rating":3}}]"#,
            &long[1..]
        );
        assert!(parse_batch(body.as_bytes(), BodyFormat::Json, None).is_err());
        assert_eq!(refused(body.as_bytes(), BodyFormat::Json).len(), 1);
    }

    #[test]
    fn a_body_that_is_not_an_array_of_json_is_refused_whole() {
        for (body, says) in [
            (&b"{\"user\":1}"[..], "must be a JSON array"),
            (&b"\"text\""[..], "must be a JSON array"),
            (&b"[{\"user\":1,"[..], "not JSON"),
            (&b"[] []"[..], "not JSON"),
            (&b""[..], "not JSON"),
            (&b"[\"\xff\"]"[..], "not UTF-8"),
        ] {
            match parse_batch(body, BodyFormat::Json, None) {
                Err(BatchError::Body(e)) => assert!(e.contains(says), "{e}"),
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(body)),
            }
        }
        let bad = refused(
            b"{\"user\":1,\"item\":2,\"rating\":3}\n{\"user\":1,\n[]\n",
            BodyFormat::Ndjson,
        );
        assert_eq!(bad.len(), 2);
        assert!(bad[0].error.starts_with("not JSON"), "{}", bad[0].error);
        assert_eq!((bad[0].index, bad[1].index), (1, 2));
        assert!(
            bad[1].error.starts_with("not an object"),
            "{}",
            bad[1].error
        );
    }

    #[test]
    fn odd_but_valid_csv_is_read_and_bad_lines_are_named() {
        let body = "\u{feff}USER , Item,RATING\r\n\r\n  caf\u{e9} ,\u{65e5}, 4.5 \r\n\t7\t,9,1\n\n";
        // A byte-order mark is part of the first field: this header is data.
        assert_eq!(refused(body.as_bytes(), BodyFormat::Csv)[0].index, 0);
        let body = &body[3..];
        let got = parse_batch(body.as_bytes(), BodyFormat::Csv, Some((1.0, 5.0))).unwrap();
        assert_eq!(
            got,
            [
                NewRating {
                    user: "caf\u{e9}".into(),
                    item: "\u{65e5}".into(),
                    value: 4.5
                },
                NewRating {
                    user: "7".into(),
                    item: "9".into(),
                    value: 1.0
                },
            ]
        );
        let bad = refused(
            b"u,i,3\nu,i,x\nu,1,i,3\n,i,3\nu,i,3,\nu,i,9\nu,i,inf\n\"u\",\"\",3\n\"u,1\",i,3,4\n",
            BodyFormat::Csv,
        );
        let named: Vec<(usize, &str)> = bad.iter().map(|e| (e.index, e.error.as_str())).collect();
        assert_eq!(
            named,
            [
                (1, "rating \"x\" is not a number"),
                (2, FOUR_FIELDS),
                (3, "empty user id"),
                (4, FOUR_FIELDS),
                (5, "rating 9 is outside the data's range 1..5"),
                (6, "rating inf is not a finite number"),
                (7, "empty item id"),
                (8, FOUR_FIELDS),
            ]
        );
    }

    /// The refusal of a line of four fields.
    const FOUR_FIELDS: &str =
        "4 fields, expected 3 (user,item,rating; quote a field that holds a comma)";

    #[test]
    fn quoted_csv_fields_are_read_as_rfc_4180_has_them() {
        let body = "user,item,rating\n\
                    \"Movie, The\",\"say \"\"hi\"\"\",4\n\
                    7,\"a,b\" ,\"2.5\"\r\n\
                    \"\u{65e5}\",plain,1\n";
        let got = parse_batch(body.as_bytes(), BodyFormat::Csv, Some((1.0, 5.0))).unwrap();
        let want = |user: &str, item: &str, value| NewRating {
            user: user.into(),
            item: item.into(),
            value,
        };
        assert_eq!(
            got,
            [
                want("Movie, The", "say \"hi\"", 4.0),
                want("7", "a,b", 2.5),
                want("\u{65e5}", "plain", 1.0),
            ]
        );
        // The same ratings as JSON: quoting changes how an id is written,
        // not which id it is.
        let json = r#"[{"user": "Movie, The", "item": "say \"hi\"", "rating": 4},
                        {"user": 7, "item": "a,b", "rating": 2.5},
                        {"user": "日", "item": "plain", "rating": 1}]"#;
        assert_eq!(
            parse_batch(json.as_bytes(), BodyFormat::Json, None).unwrap(),
            got
        );
        // A quoted header is a header.
        let headed = parse_batch(
            b"\"user\",\"item\",\"rating\"\n\"u\",i,3\n",
            BodyFormat::Csv,
            None,
        )
        .unwrap();
        assert_eq!(headed, [want("u", "i", 3.0)]);
    }

    const UNCLOSED: &str = "bad quoting in field 1: its quote is not closed on this line \
                            (a CSV body holds one rating a line: send an id with a line break \
                            in it as JSON or NDJSON)";

    #[test]
    fn an_id_with_a_line_break_is_refused_in_csv_with_the_way_to_send_it() {
        // RFC 4180 allows a quoted field over two lines; a CSV body is read
        // a line at a time, so the first line is refused with the way out.
        let bad = refused(b"\"two\nlines\",i,3\n", BodyFormat::Csv);
        assert_eq!((bad[0].index, bad[0].error.as_str()), (0, UNCLOSED));
        assert!(bad[0].error.contains("JSON or NDJSON"));
        // The way out works: the same id as NDJSON.
        let ndjson = b"{\"user\": \"two\\nlines\", \"item\": \"i\", \"rating\": 3}\n";
        let got = parse_batch(ndjson, BodyFormat::Ndjson, Some((1.0, 5.0))).unwrap();
        assert_eq!(
            got,
            [NewRating {
                user: "two\nlines".into(),
                item: "i".into(),
                value: 3.0,
            }]
        );
    }

    #[test]
    fn bad_quoting_is_refused_with_its_line_and_field() {
        let bad = refused(
            b"u,i,3\n\"u,i,3\nu,ab\"c,3\nu, \"i\",3\n\"u\"x,i,3\nu,\"i\" ,3\nu,\"i\"\"\",3\n",
            BodyFormat::Csv,
        );
        let named: Vec<(usize, &str)> = bad.iter().map(|e| (e.index, e.error.as_str())).collect();
        let inside = "a quote inside an unquoted field \
                      (a quoted field begins with its quote and doubles the quotes it holds)";
        assert_eq!(
            named,
            [
                (1, UNCLOSED),
                (2, &*format!("bad quoting in field 2: {inside}")),
                (3, &*format!("bad quoting in field 2: {inside}")),
                (
                    4,
                    "bad quoting in field 1: text after its closing quote \
                     (a quote inside a quoted field is doubled)"
                ),
            ]
        );
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
