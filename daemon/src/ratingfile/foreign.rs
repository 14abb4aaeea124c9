//! What to tell a user who hands a file that is not a rating file to a
//! command that needs one: most often the ratings as text, never imported.
//! The message shows the first line when the file is text (escaped, cut
//! short), never raw binary bytes, and the `funkd import` command that
//! would convert it.

use std::path::{Path, PathBuf};

/// A file that is not a rating file, described for its user.
pub(crate) struct Foreign {
    /// What the file seems to be.
    pub looks_like: String,
    /// What to do instead.
    pub advice: String,
}

/// Characters of the first line quoted in the message.
const QUOTED_CHARS: usize = 60;
/// Bytes looked at to tell text from binary.
const SNIFFED_BYTES: usize = 4096;

/// Describes `bytes`, the start (or all) of the file at `path`.
pub(crate) fn describe(path: &Path, bytes: &[u8]) -> Foreign {
    let Some(first_line) = first_text_line(bytes) else {
        return Foreign {
            looks_like: "a binary file that does not start with \"FUNKRATE\"".into(),
            advice: "rating files are written by `funkd import` (from text ratings) \
                     and `funkd gen`; check the path"
                .into(),
        };
    };
    let format = guess_format(path, &first_line);
    let out = suggested_output(path);
    let quoted: String = first_line.chars().take(QUOTED_CHARS).collect();
    let cut = if first_line.chars().count() > QUOTED_CHARS {
        "…"
    } else {
        ""
    };
    Foreign {
        looks_like: format!("it is text, first line {quoted:?}{cut}"),
        advice: format!(
            "text ratings must be imported first: `funkd import --format {} --train {} -o {}`, \
             then give {} instead (see `funkd import --help` for the formats)",
            format.unwrap_or("FORMAT"),
            path_word(path),
            path_word(&out),
            path_word(&out),
        ),
    }
}

/// The first line of `bytes` when they look like text (UTF-8 without
/// control characters other than tab and line breaks; a byte-order mark is
/// skipped), or `None` for binary data.
fn first_text_line(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(SNIFFED_BYTES)];
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        // A multi-byte character cut by the sniffing window is still text.
        Err(e) if e.error_len().is_none() && e.valid_up_to() > 0 => {
            std::str::from_utf8(&head[..e.valid_up_to()]).ok()?
        }
        Err(_) => return None,
    };
    if text.is_empty()
        || text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return None;
    }
    let line = text.lines().next().unwrap_or("");
    Some(line.trim_end_matches('\r').to_string())
}

/// The `funkd import` format the file's name (or first line) suggests.
fn guess_format(path: &Path, first_line: &str) -> Option<&'static str> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let movielens_100k = name == "u.data"
        || (name.starts_with('u') && matches!(ext.as_deref(), Some("base" | "test")));
    if movielens_100k {
        Some("movielens")
    } else if name == "ratings.dat" || first_line.contains("::") {
        Some("movielens-dat")
    } else if name == "ratings.csv" {
        Some("movielens-csv")
    } else if name.starts_with("combined_data") {
        Some("netflix-combined")
    } else if name.starts_with("mv_") {
        Some("netflix")
    } else {
        match ext.as_deref() {
            Some("csv") => Some("csv"),
            Some("tsv") => Some("tsv"),
            _ if first_line.contains(',') => Some("csv"),
            _ if first_line.contains('\t') => Some("tsv"),
            _ => None,
        }
    }
}

/// Where the imported file could go: next to the input, as `.funk`.
fn suggested_output(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or_else(|| "ratings".into(), |s| s.to_string_lossy().into_owned());
    let name = if path.extension().is_some_and(|e| e == "funk") {
        format!("{stem}-imported.funk")
    } else {
        format!("{stem}.funk")
    };
    path.with_file_name(name)
}

/// A path as one shell word.
fn path_word(path: &Path) -> String {
    shell_word(&path.display().to_string())
}

/// A word as the shell reads it back: as it is when it holds only plain
/// characters, else in single quotes.
pub(crate) fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@%=".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_ratings_get_the_import_command_for_their_format() {
        let f = describe(
            Path::new("ml/u1.base"),
            b"196\t242\t3\t881250949\n1\t2\t3\t4\n",
        );
        assert!(
            f.looks_like.contains(r#""196\t242\t3\t881250949""#),
            "{}",
            f.looks_like
        );
        assert!(
            f.advice
                .contains("funkd import --format movielens --train ml/u1.base -o ml/u1.funk"),
            "{}",
            f.advice
        );
        let f = describe(
            Path::new("my ratings.csv"),
            b"\xEF\xBB\xBFuser,item,rating\n",
        );
        assert!(
            f.looks_like.contains(r#""user,item,rating""#),
            "{}",
            f.looks_like
        );
        assert!(f
            .advice
            .contains("--format csv --train 'my ratings.csv' -o 'my ratings.funk'"));
        let f = describe(Path::new("x.funk"), b"a b c\n");
        assert!(f
            .advice
            .contains("--format FORMAT --train x.funk -o x-imported.funk"));
    }

    #[test]
    fn binary_bytes_are_never_quoted() {
        let f = describe(Path::new("model.bin"), b"\x7fELF\x02\x01\x01\0\0\0garbage");
        assert!(f.looks_like.contains("binary"));
        assert!(!f.looks_like.contains("ELF") && !f.advice.contains("ELF"));
        // A cut multi-byte character at the end of the window is still text.
        let mut long = "é".repeat(SNIFFED_BYTES);
        long.insert(0, 'x');
        assert!(first_text_line(long.as_bytes()).is_some());
    }
}
