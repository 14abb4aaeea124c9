//! Item titles from the files that ship with the public rating sets, so
//! that `recommend` can show names instead of ids.
//!
//! Four formats are recognised from the first non-empty line:
//!
//! | format | file | line |
//! |---|---|---|
//! | MovieLens 100K | `u.item` | `1\|Toy Story (1995)\|01-Jan-1995\|…` |
//! | MovieLens 1M/10M | `movies.dat` | `1::Toy Story (1995)::Animation\|…` |
//! | MovieLens latest | `movies.csv` | `movieId,title,genres` header, RFC 4180 quoting |
//! | Netflix Prize | `movie_titles.txt` | `1,2003,Dinosaur Planet` (titles may hold commas; year may be `NULL`) |
//!
//! Files are read as UTF-8 when they are valid UTF-8 and as Latin-1
//! otherwise (MovieLens 100K/1M and Netflix are Latin-1).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Why a titles file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TitlesError {
    /// The file could not be read.
    #[error("cannot read titles file {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The first line matches none of the known formats.
    #[error(
        "{path}: not a known titles format (u.item, movies.dat, movies.csv or movie_titles.txt)"
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// A line does not follow the file's format.
    #[error("{path}:{line}: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// The layout of a titles file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TitlesFormat {
    /// MovieLens 100K `u.item`: `id|title|date|…`.
    MovieLensItem,
    /// MovieLens 1M/10M `movies.dat`: `id::title::genres`.
    MovieLensDat,
    /// MovieLens latest `movies.csv`: `movieId,title,genres` with quoting.
    MovieLensCsv,
    /// Netflix Prize `movie_titles.txt`: `id,year,title`.
    NetflixTitles,
}

/// Item titles by original item id.
#[derive(Clone, Debug, Default)]
pub struct Titles {
    format: Option<TitlesFormat>,
    by_id: HashMap<String, String>,
}

impl Titles {
    /// Reads and parses a titles file.
    pub fn load(path: &Path) -> Result<Titles, TitlesError> {
        let bytes = std::fs::read(path).map_err(|source| TitlesError::Io {
            path: path.to_owned(),
            source,
        })?;
        Titles::parse(&bytes, path)
    }

    /// Parses the contents of a titles file; `path` is only used in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Titles, TitlesError> {
        let text = decode(bytes);
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let Some((_, first)) = lines.clone().next() else {
            return Ok(Titles::default());
        };
        let format = detect(first).ok_or_else(|| TitlesError::UnknownFormat {
            path: path.to_owned(),
        })?;
        let mut by_id = HashMap::new();
        if format == TitlesFormat::MovieLensCsv {
            lines.next(); // the header
        }
        for (index, line) in lines {
            let malformed = |reason: &str| TitlesError::Malformed {
                path: path.to_owned(),
                line: index + 1,
                reason: reason.to_owned(),
            };
            let (id, title) = match format {
                TitlesFormat::MovieLensItem => {
                    split_two(line, "|").ok_or_else(|| malformed("expected `id|title|…`"))?
                }
                TitlesFormat::MovieLensDat => split_two(line, "::")
                    .ok_or_else(|| malformed("expected `id::title::genres`"))?,
                TitlesFormat::MovieLensCsv => {
                    csv_id_title(line).ok_or_else(|| malformed("expected `id,title,genres`"))?
                }
                TitlesFormat::NetflixTitles => {
                    netflix_id_title(line).ok_or_else(|| malformed("expected `id,year,title`"))?
                }
            };
            if id.is_empty() {
                return Err(malformed("empty item id"));
            }
            by_id.insert(id, title);
        }
        Ok(Titles {
            format: Some(format),
            by_id,
        })
    }

    /// The title of an item by its original id.
    pub fn get(&self, item_id: &str) -> Option<&str> {
        self.by_id.get(item_id).map(String::as_str)
    }

    /// The detected format (`None` for an empty file).
    pub fn format(&self) -> Option<TitlesFormat> {
        self.format
    }

    /// Number of titles.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there are no titles.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// How many of `item_ids` have a title: (with a title, in all).
    pub fn coverage<'a>(&self, item_ids: impl IntoIterator<Item = &'a str>) -> (usize, usize) {
        item_ids.into_iter().fold((0, 0), |(found, all), id| {
            (found + usize::from(self.by_id.contains_key(id)), all + 1)
        })
    }

    /// A warning when fewer than half of `item_ids` (the items of the data
    /// set in use) have a title: most likely the titles file of another
    /// data set. `titles` and `data` name the two files.
    pub fn mismatch_warning<'a>(
        &self,
        item_ids: impl IntoIterator<Item = &'a str>,
        titles: &Path,
        data: &Path,
    ) -> Option<String> {
        let (found, all) = self.coverage(item_ids);
        (found * 2 < all).then(|| {
            format!(
                "only {found} of the {all} items of {} have a title in {} ({:.0}%): is it the titles file of this data set? Items without a title are shown by id",
                data.display(),
                titles.display(),
                100.0 * found as f64 / all.max(1) as f64
            )
        })
    }
}

/// UTF-8 when valid, else Latin-1 (every byte is the code point of the
/// same value).
fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.strip_prefix('\u{feff}').unwrap_or(s).to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

fn detect(first: &str) -> Option<TitlesFormat> {
    let lower = first.trim().to_ascii_lowercase();
    if lower.starts_with("movieid,title") {
        return Some(TitlesFormat::MovieLensCsv);
    }
    let numeric_prefix = |sep: &str| {
        first.split_once(sep).is_some_and(|(id, _)| {
            !id.trim().is_empty() && id.trim().bytes().all(|b| b.is_ascii_digit())
        })
    };
    if first.contains("::") && numeric_prefix("::") {
        Some(TitlesFormat::MovieLensDat)
    } else if first.contains('|') && numeric_prefix("|") {
        Some(TitlesFormat::MovieLensItem)
    } else if numeric_prefix(",") && first.splitn(3, ',').count() == 3 {
        Some(TitlesFormat::NetflixTitles)
    } else {
        None
    }
}

/// `id SEP title [SEP …]`.
fn split_two(line: &str, sep: &str) -> Option<(String, String)> {
    let mut fields = line.split(sep);
    let id = fields.next()?.trim();
    let title = fields.next()?.trim();
    Some((id.to_owned(), title.to_owned()))
}

/// `id,year,title` where the title runs to the end of the line.
fn netflix_id_title(line: &str) -> Option<(String, String)> {
    let mut fields = line.splitn(3, ',');
    let id = fields.next()?.trim();
    let year = fields.next()?.trim();
    let title = fields.next()?.trim();
    let title = if year.is_empty() || year.eq_ignore_ascii_case("null") {
        title.to_owned()
    } else {
        format!("{title} ({year})")
    };
    Some((id.to_owned(), title))
}

/// The first two fields of an RFC 4180 CSV line.
fn csv_id_title(line: &str) -> Option<(String, String)> {
    let mut fields = Vec::with_capacity(3);
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => fields.push(std::mem::take(&mut field)),
            (_, c) => field.push(c),
        }
        if fields.len() == 2 {
            break;
        }
    }
    if quoted {
        return None;
    }
    if fields.len() < 2 {
        fields.push(field);
    }
    let mut fields = fields.into_iter();
    let id = fields.next()?;
    let title = fields.next()?;
    Some((id.trim().to_owned(), title.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &[u8]) -> Titles {
        Titles::parse(text, Path::new("t")).unwrap()
    }

    #[test]
    fn movielens_u_item_in_latin1() {
        let t = parse(b"1|Toy Story (1995)|01-Jan-1995||http://x|0|0\n2|Caf\xe9 au lait (1993)|01-Jan-1993||x|0\n");
        assert_eq!(t.format(), Some(TitlesFormat::MovieLensItem));
        assert_eq!(t.get("1"), Some("Toy Story (1995)"));
        assert_eq!(t.get("2"), Some("Café au lait (1993)"));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn movielens_movies_dat() {
        let t = parse(b"1::Toy Story (1995)::Animation|Children's\n10::GoldenEye (1995)::Action\n");
        assert_eq!(t.format(), Some(TitlesFormat::MovieLensDat));
        assert_eq!(t.get("10"), Some("GoldenEye (1995)"));
    }

    #[test]
    fn movielens_csv_with_quoted_commas() {
        let t = parse(
            b"movieId,title,genres\n1,Toy Story (1995),Animation\n11,\"American President, The (1995)\",Comedy\n12,\"Say \"\"Hi\"\" (2000)\",Drama\n",
        );
        assert_eq!(t.format(), Some(TitlesFormat::MovieLensCsv));
        assert_eq!(t.get("11"), Some("American President, The (1995)"));
        assert_eq!(t.get("12"), Some("Say \"Hi\" (2000)"));
        assert_eq!(t.get("movieId"), None);
    }

    #[test]
    fn netflix_titles_keep_commas_and_year() {
        let t = parse(b"1,2003,Dinosaur Planet\n5,NULL,Hello, World: the Movie\n");
        assert_eq!(t.format(), Some(TitlesFormat::NetflixTitles));
        assert_eq!(t.get("1"), Some("Dinosaur Planet (2003)"));
        assert_eq!(t.get("5"), Some("Hello, World: the Movie"));
    }

    #[test]
    fn unknown_format_is_an_error() {
        let err = Titles::parse(b"just some words\n", Path::new("x.txt")).unwrap_err();
        assert!(matches!(err, TitlesError::UnknownFormat { .. }), "{err}");
    }

    #[test]
    fn malformed_line_is_reported_with_its_number() {
        let err = Titles::parse(b"1|A (1990)|x\n\n2\n", Path::new("u.item")).unwrap_err();
        match err {
            TitlesError::Malformed { line, .. } => assert_eq!(line, 3),
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let err = Titles::load(Path::new("/nonexistent/u.item")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/u.item"));
    }
}
