//! One rating per line, fields split by a delimiter: MovieLens `u.data`
//! (tab), `ratings.dat` (`::`), `ratings.csv` (comma, header), generic
//! CSV/TSV (column choice, optional header) and LIBMF text (whitespace).

use std::path::Path;

use super::builder::{Builder, Split};
use super::lines::{for_each_line, parse_id, parse_value, InputError};
use crate::progress::Progress;

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
}

/// Reads one delimited file into `b`.
pub fn read(
    path: &Path,
    layout: &Layout,
    split: Split,
    b: &mut Builder,
    progress: &Progress,
) -> Result<(), InputError> {
    let before = b.len(split);
    let needed = layout.columns.iter().max().copied().unwrap_or(0) + 1;
    for_each_line(path, progress, |number, line| {
        if line.trim().is_empty() {
            return Ok(());
        }
        let f: Vec<&str> = match &layout.delimiter {
            Delimiter::Whitespace => line.split_whitespace().take(needed).collect(),
            Delimiter::Exact(d) => line.split(d.as_str()).take(needed).collect(),
        };
        if number == 1 {
            if layout.header {
                return Ok(());
            }
            if layout.header_if_not_numeric
                && f.get(layout.columns[2])
                    .is_none_or(|v| parse_value(v).is_err())
            {
                return Ok(());
            }
        }
        if f.len() < needed {
            return Err(format!(
                "expected at least {needed} fields, found {} in {:?}",
                f.len(),
                truncate(line)
            ));
        }
        let user = parse_id(f[layout.columns[0]], "user")?;
        let item = parse_id(f[layout.columns[1]], "item")?;
        let value = parse_value(f[layout.columns[2]])?;
        b.add(split, user, item, value)
    })?;
    if b.len(split) == before {
        return Err(InputError::Empty {
            file: path.to_path_buf(),
        });
    }
    Ok(())
}

fn truncate(line: &str) -> String {
    line.chars().take(80).collect()
}
