//! Lists of (user, item) pairs for `funkd predict`.
//!
//! One pair per line, the user id and the item id (original ids, as in the
//! imported data) separated by a tab, a comma, or spaces. Further fields
//! are ignored, so a ratings file such as MovieLens `u1.test`
//! (`user item rating timestamp`) is a valid pair list. Blank lines and
//! lines starting with `#` are skipped.

use std::io::BufRead;

/// Why a pair list could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PairsError {
    /// Reading failed.
    #[error("cannot read pairs from {source_name}")]
    Io {
        /// Where the pairs come from (a path or `stdin`).
        source_name: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A line is not a pair.
    #[error("{source_name}:{line}: {reason}")]
    Malformed {
        /// Where the pairs come from.
        source_name: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// One (user, item) pair by original ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    /// The user's original id.
    pub user: String,
    /// The item's original id.
    pub item: String,
}

/// Reads a whole pair list; `source_name` names it in errors.
pub fn read_pairs(reader: impl BufRead, source_name: &str) -> Result<Vec<Pair>, PairsError> {
    let mut pairs = Vec::new();
    for (index, line) in reader.split(b'\n').enumerate() {
        let line = line.map_err(|source| PairsError::Io {
            source_name: source_name.to_owned(),
            source,
        })?;
        let malformed = |reason: String| PairsError::Malformed {
            source_name: source_name.to_owned(),
            line: index + 1,
            reason,
        };
        let line = std::str::from_utf8(&line)
            .map_err(|_| malformed("not valid UTF-8".to_owned()))?
            .trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        pairs.push(parse_pair(line).map_err(malformed)?);
    }
    Ok(pairs)
}

fn parse_pair(line: &str) -> Result<Pair, String> {
    let mut fields = line
        .split([',', '\t', ' '])
        .map(str::trim)
        .filter(|f| !f.is_empty());
    match (fields.next(), fields.next()) {
        (Some(user), Some(item)) => Ok(Pair {
            user: user.to_owned(),
            item: item.to_owned(),
        }),
        _ => Err(format!(
            "expected `USER ITEM` (tab, comma or space separated), found {line:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(u: &str, i: &str) -> Pair {
        Pair {
            user: u.into(),
            item: i.into(),
        }
    }

    #[test]
    fn accepts_tabs_commas_spaces_comments_and_extra_fields() {
        let text = "# header comment\n1\t2\n\n 3,4 \r\nu5   i6  5  881250949\n";
        let pairs = read_pairs(text.as_bytes(), "t").unwrap();
        assert_eq!(
            pairs,
            vec![pair("1", "2"), pair("3", "4"), pair("u5", "i6")]
        );
    }

    #[test]
    fn a_line_with_one_field_is_malformed_with_its_line_number() {
        let err = read_pairs("1 2\n# c\n77\n".as_bytes(), "pairs.txt").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("pairs.txt:3:"), "{msg}");
        assert!(msg.contains("77"), "{msg}");
    }

    #[test]
    fn invalid_utf8_is_malformed() {
        let err = read_pairs(&b"1 2\n\xff\xfe 3\n"[..], "stdin").unwrap_err();
        assert!(
            matches!(err, PairsError::Malformed { line: 2, .. }),
            "{err}"
        );
    }
}
