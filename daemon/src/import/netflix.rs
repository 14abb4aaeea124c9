//! The Netflix Prize text formats: the `training_set` directory of
//! `mv_NNNNNNN.txt` files and Kaggle's `combined_data_*.txt` (both a
//! `MOVIE:` line followed by `USER,RATING,DATE` lines), and `probe.txt`
//! (`MOVIE:` then `USER` lines).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::builder::{Builder, Split};
use super::lines::{for_each_line, parse_id, parse_value, InputError};
use crate::report::Counter;

/// The input files of a `--train`/`--test` list: directories are replaced
/// by their `mv_*.txt` files (sorted by name).
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let io = |error| InputError::Io {
                file: path.clone(),
                error,
            };
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(io)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("mv_") && n.ends_with(".txt"))
                })
                .collect();
            if found.is_empty() {
                return Err(InputError::Io {
                    file: path.clone(),
                    error: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "directory holds no mv_*.txt files",
                    ),
                });
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// Reads one file of `MOVIE:` blocks of `USER,RATING[,DATE]` lines.
pub fn read_ratings(
    path: &Path,
    split: Split,
    b: &mut Builder,
    progress: &dyn Counter,
) -> Result<(), InputError> {
    let mut movie: Option<u32> = None;
    let before = b.len(split);
    for_each_line(path, progress, |number, line| {
        b.at_line(number);
        let line = line.trim();
        if line.is_empty() {
            return Ok(());
        }
        if let Some(m) = line.strip_suffix(':') {
            movie = Some(b.item(parse_id(m, "movie")?));
            return Ok(());
        }
        let Some(item) = movie else {
            return Err(format!(
                "expected a \"MOVIE:\" line before ratings, got {line:?}"
            ));
        };
        let mut fields = line.split(',');
        let user = parse_id(fields.next().unwrap_or(""), "user")?;
        let value = parse_value(
            fields
                .next()
                .ok_or_else(|| format!("expected USER,RATING,DATE, got {line:?}"))?,
        )?;
        b.add_to_item(split, user, item, value)
    })?;
    if b.len(split) == before {
        return Err(InputError::Empty {
            file: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Reads `probe.txt`: the (user, item) pairs to hold out. Pairs naming a
/// user or movie never seen in the training files are counted, not kept.
pub fn read_probe(
    path: &Path,
    b: &Builder,
    progress: &dyn Counter,
) -> Result<(HashSet<(u32, u32)>, u64), InputError> {
    let mut pairs = HashSet::new();
    let mut unknown = 0u64;
    let mut movie: Option<Option<u32>> = None;
    let mut lines = 0u64;
    for_each_line(path, progress, |_, line| {
        let line = line.trim();
        if line.is_empty() {
            return Ok(());
        }
        if let Some(m) = line.strip_suffix(':') {
            movie = Some(b.known_item(parse_id(m, "movie")?));
            return Ok(());
        }
        let Some(item) = movie else {
            return Err(format!(
                "expected a \"MOVIE:\" line before users, got {line:?}"
            ));
        };
        let user = parse_id(line.split(',').next().unwrap_or(""), "user")?;
        lines += 1;
        match (b.known_user(user), item) {
            (Some(u), Some(i)) => {
                pairs.insert((u, i));
            }
            _ => unknown += 1,
        }
        Ok(())
    })?;
    if lines == 0 {
        return Err(InputError::Empty {
            file: path.to_path_buf(),
        });
    }
    Ok((pairs, unknown))
}
