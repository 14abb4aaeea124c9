//! One rating per line, fields split by a delimiter: MovieLens `u.data`
//! (tab), `ratings.dat` (`::`), `ratings.csv` (comma, header), generic
//! CSV/TSV (column choice, optional header) and LIBMF text (whitespace).
//!
//! Single-character delimiters (CSV, TSV, `ratings.csv`) are read by the
//! `csv` crate: quoted fields (`"1","10","4"`, `"it,em"`), a byte-order
//! mark, lines with more fields than needed, CRLF. Whitespace and
//! multi-character delimiters (`::`) are split line by line.
//!
//! Ids are text, kept as written, with one exception: an integral number
//! written with a zero fraction (`1.0`, `42.00`) is the integer (`1`,
//! `42`), so that a file written by a tool that turned integer ids into
//! floats does not make two users of `1.0` and `1`. The MovieLens formats
//! have integer ids and refuse anything else, naming the line.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::builder::{Builder, Split};
use super::lines::{for_each_line, parse_value, InputError};
use crate::report::Counter;

/// How fields are separated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delimiter {
    /// Runs of spaces or tabs.
    Whitespace,
    /// Exactly this string.
    Exact(String),
}

/// How to read a delimited file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Field separator.
    pub delimiter: Delimiter,
    /// 0-based field numbers of user, item and value.
    pub columns: [usize; 3],
    /// The first line is a header: skip it.
    pub header: bool,
    /// Skip the first line only when its value field is not a number.
    pub header_if_not_numeric: bool,
    /// `Some(format)`: ids must be integers (the MovieLens formats).
    pub integer_ids: Option<&'static str>,
    /// A first line that looks like a header gets a hint to pass
    /// `--header` (the formats that take it).
    pub header_hint: bool,
}

/// Reads one delimited file into `b`.
pub fn read(
    path: &Path,
    layout: &Layout,
    split: Split,
    b: &mut Builder,
    progress: &dyn Counter,
) -> Result<(), InputError> {
    let before = b.len(split);
    match &layout.delimiter {
        Delimiter::Exact(d) if d.len() == 1 => {
            read_csv(path, layout, d.as_bytes()[0], split, b, progress)?
        }
        _ => read_lines(path, layout, split, b, progress)?,
    }
    if b.len(split) == before {
        return Err(InputError::Empty {
            file: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Whitespace and multi-character delimiters, line by line.
fn read_lines(
    path: &Path,
    layout: &Layout,
    split: Split,
    b: &mut Builder,
    progress: &dyn Counter,
) -> Result<(), InputError> {
    let needed = needed(layout);
    let mut first = true;
    for_each_line(path, progress, |number, line| {
        let line = if number == 1 {
            line.strip_prefix('\u{feff}').unwrap_or(line)
        } else {
            line
        };
        if line.trim().is_empty() {
            return Ok(());
        }
        let fields: Vec<&str> = match &layout.delimiter {
            Delimiter::Whitespace => line.split_whitespace().take(needed).collect(),
            Delimiter::Exact(d) => line.split(d.as_str()).take(needed).collect(),
        };
        let record = Record {
            number,
            first: std::mem::replace(&mut first, false),
            fields: &fields,
        };
        add_record(layout, &record, &|| line.to_string(), split, b)
    })
}

/// Single-byte delimiters, with the `csv` crate.
fn read_csv(
    path: &Path,
    layout: &Layout,
    delimiter: u8,
    split: Split,
    b: &mut Builder,
    progress: &dyn Counter,
) -> Result<(), InputError> {
    let file = File::open(path).map_err(|source| InputError::Io {
        file: path.to_path_buf(),
        error: source,
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(LineCounting::new(file));
    let mut record = csv::StringRecord::new();
    let mut reported = 0u64;
    let mut first = true;
    loop {
        let result = reader.read_record(&mut record);
        // The reader's own line numbers skip blank lines and its record
        // positions may point at them: the line is the one the record's
        // last byte (its line break) is on.
        let end = reader.position().byte();
        let number = reader.get_mut().line_at(end.saturating_sub(1));
        match result {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(path, number, e)),
        }
        let mut fields: Vec<&str> = record.iter().collect();
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if first {
            if let Some(first) = fields.first_mut() {
                *first = first.strip_prefix('\u{feff}').unwrap_or(first);
            }
        }
        let text = || fields.join(&*String::from_utf8_lossy(&[delimiter]));
        let parsed = Record {
            number,
            first: std::mem::replace(&mut first, false),
            fields: &fields,
        };
        add_record(layout, &parsed, &text, split, b).map_err(|what| InputError::Malformed {
            file: path.to_path_buf(),
            line: number,
            what,
        })?;
        let at = reader.position().byte();
        if at - reported >= 1 << 20 {
            progress.inc(at - reported);
            reported = at;
        }
    }
    progress.inc(reader.position().byte() - reported);
    Ok(())
}

fn csv_error(path: &Path, line: u64, e: csv::Error) -> InputError {
    let what = match e.kind() {
        csv::ErrorKind::Utf8 { err, .. } => format!("not valid UTF-8 (field {})", err.field() + 1),
        _ => e.to_string(),
    };
    match e.into_kind() {
        csv::ErrorKind::Io(source) => InputError::Io {
            file: path.to_path_buf(),
            error: source,
        },
        _ => InputError::Malformed {
            file: path.to_path_buf(),
            line,
            what,
        },
    }
}

/// A reader that notes where its lines end, so that the line of a byte
/// read recently can be told (the bytes themselves are not kept).
struct LineCounting<R> {
    inner: R,
    /// Bytes read so far.
    read: u64,
    /// Offsets of the line breaks read but not yet passed by
    /// [`LineCounting::line_at`].
    breaks: VecDeque<u64>,
    /// Line breaks passed.
    passed: u64,
}

impl<R> LineCounting<R> {
    fn new(inner: R) -> Self {
        LineCounting {
            inner,
            read: 0,
            breaks: VecDeque::new(),
            passed: 0,
        }
    }

    /// The 1-based line of byte `offset`; offsets must not decrease from
    /// one call to the next.
    fn line_at(&mut self, offset: u64) -> u64 {
        while self.breaks.front().is_some_and(|&b| b < offset) {
            self.breaks.pop_front();
            self.passed += 1;
        }
        self.passed + 1
    }
}

impl<R: Read> Read for LineCounting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let at = self.read;
        self.breaks.extend(
            buf[..n]
                .iter()
                .enumerate()
                .filter(|(_, &b)| b == b'\n')
                .map(|(k, _)| at + k as u64),
        );
        self.read += n as u64;
        Ok(n)
    }
}

/// Fields needed on a line: up to the last column used.
fn needed(layout: &Layout) -> usize {
    layout.columns.iter().max().copied().unwrap_or(0) + 1
}

/// One line's (or quoted record's) fields.
struct Record<'a> {
    /// Its 1-based line number.
    number: u64,
    /// Whether it is the first non-blank one of the file.
    first: bool,
    /// The fields.
    fields: &'a [&'a str],
}

/// Adds the rating of `record` (`line` rebuilds its text for errors).
fn add_record(
    layout: &Layout,
    record: &Record<'_>,
    line: &dyn Fn() -> String,
    split: Split,
    b: &mut Builder,
) -> Result<(), String> {
    let needed = needed(layout);
    let [uc, ic, vc] = layout.columns;
    let fields = record.fields;
    if record.first {
        if layout.header {
            return Ok(());
        }
        if layout.header_if_not_numeric && fields.get(vc).is_none_or(|v| parse_value(v).is_err()) {
            return Ok(());
        }
    }
    let parsed = (|| {
        if fields.len() < needed {
            return Err(format!(
                "expected at least {needed} fields, found {} in {:?}",
                fields.len(),
                truncate(&line())
            ));
        }
        let user = parse_id(fields[uc], "user", layout.integer_ids)?;
        let item = parse_id(fields[ic], "item", layout.integer_ids)?;
        let value = parse_value(fields[vc])?;
        Ok((user, item, value))
    })();
    match parsed {
        Ok((user, item, value)) => {
            b.at_line(record.number);
            b.add(split, &user, &item, value)
        }
        Err(what) if record.first && layout.header_hint && looks_like_header(fields, vc) => Err(
            format!("{what}; the first line looks like a header: pass --header to skip it"),
        ),
        Err(what) => Err(what),
    }
}

/// A first line whose value field is not a number but a word (`rating`).
fn looks_like_header(fields: &[&str], value_column: usize) -> bool {
    fields.get(value_column).is_some_and(|v| {
        let v = v.trim();
        parse_value(v).is_err() && v.chars().any(char::is_alphabetic)
    })
}

/// An id field: trimmed, not empty; an integral number written with a
/// zero fraction (`1.0`) is the integer (`1`). With `integer_ids` (the
/// name of a format whose ids are integers) anything but an integer is
/// refused.
pub fn parse_id<'a>(
    field: &'a str,
    what: &str,
    integer_ids: Option<&str>,
) -> Result<Cow<'a, str>, String> {
    let id = field.trim();
    if id.is_empty() {
        return Err(format!("empty {what} id"));
    }
    let id = match integral_part(id) {
        Some(int) => Cow::Owned(int.to_string()),
        None => Cow::Borrowed(id),
    };
    if let Some(format) = integer_ids {
        let digits = id.strip_prefix('-').unwrap_or(&id);
        if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "{what} id {:?} is not an integer (the {format} format has integer ids; for other ids import with --format csv or tsv)",
                field.trim()
            ));
        }
    }
    Ok(id)
}

/// `Some("42")` for `42.0`, `42.000` or `-3.0` (→ `-3`); `None` for
/// anything else (including plain integers, which need no change).
fn integral_part(id: &str) -> Option<&str> {
    let (int, frac) = id.split_once('.')?;
    let digits = int.strip_prefix('-').unwrap_or(int);
    let integral = !digits.is_empty()
        && digits.bytes().all(|c| c.is_ascii_digit())
        && !frac.is_empty()
        && frac.bytes().all(|c| c == b'0');
    integral.then_some(int)
}

fn truncate(line: &str) -> String {
    line.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_counted_across_blank_lines_and_crlf() {
        let text = b"a\r\n\r\n\nb\nc";
        let mut r = LineCounting::new(&text[..]);
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        assert_eq!(r.line_at(0), 1);
        assert_eq!(r.line_at(5), 3);
        assert_eq!(r.line_at(6), 4);
        assert_eq!(r.line_at(8), 5);
    }

    #[test]
    fn integral_numbers_are_one_id_however_written() {
        for (field, id) in [("1", "1"), ("1.0", "1"), (" 42.000 ", "42"), ("-3.0", "-3")] {
            assert_eq!(parse_id(field, "user", None).unwrap(), id);
        }
        for kept in ["1.5", "1.", ".0", "a.0", "u1", "007"] {
            assert_eq!(parse_id(kept, "user", None).unwrap(), kept);
        }
        assert!(parse_id("  ", "user", None).is_err());
    }

    #[test]
    fn integer_formats_refuse_other_ids() {
        assert_eq!(parse_id("12", "user", Some("movielens")).unwrap(), "12");
        assert_eq!(parse_id("12.0", "user", Some("movielens")).unwrap(), "12");
        let err = parse_id("abc", "user", Some("movielens")).unwrap_err();
        assert!(err.contains("\"abc\" is not an integer"), "{err}");
        assert!(parse_id("1.5", "item", Some("movielens")).is_err());
    }
}
