//! `export --format csv`: `users.csv` and `items.csv`, one row per user or
//! item keyed by its original id: `id[,bias],f0,…,f{rank-1}` (the bias
//! column only for the biased model), sorted by id (numerically when every
//! id is a number). Ids are quoted as RFC 4180 asks when
//! they hold a comma, a quote or a line break; numbers are written in the
//! shortest form that reads back to the same f32.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use funk_kernel::ModelKind;

use crate::atomic::write_atomically;
use crate::model::Model;
use crate::ratingfile::RatingFile;

/// Writes `users.csv` and `items.csv` into `dir`; returns their names.
pub fn write(model: &Model, data: &RatingFile, dir: &Path) -> Result<Vec<String>> {
    let biased = model.kind == ModelKind::Biased;
    write_side(
        &dir.join("users.csv"),
        "user",
        model.rank,
        biased,
        &id_order(data.users(), |u| data.user_id(u)),
        |u| (data.user_id(u), model.user_bias[u], model.user_row(u)),
    )?;
    write_side(
        &dir.join("items.csv"),
        "item",
        model.rank,
        biased,
        &id_order(data.items(), |i| data.item_id(i)),
        |i| (data.item_id(i), model.item_bias[i], model.item_row(i)),
    )?;
    Ok(vec!["users.csv".to_owned(), "items.csv".to_owned()])
}

fn write_side<'a>(
    path: &Path,
    key: &str,
    rank: usize,
    biased: bool,
    order: &[usize],
    row: impl Fn(usize) -> (&'a str, f32, &'a [f32]),
) -> Result<()> {
    write_atomically(path, |w| {
        let mut line = String::with_capacity(16 * (rank + 2));
        line.push_str(key);
        if biased {
            line.push_str(",bias");
        }
        for d in 0..rank {
            line.push_str(&format!(",f{d}"));
        }
        line.push('\n');
        w.write_all(line.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        for &r in order {
            let (id, bias, factors) = row(r);
            line.clear();
            push_field(&mut line, id);
            if biased {
                line.push_str(&format!(",{bias}"));
            }
            for v in factors {
                line.push_str(&format!(",{v}"));
            }
            line.push('\n');
            w.write_all(line.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    })
}

/// Internal ids `0..count` ordered by their original id: numerically
/// when every id is an unsigned integer, else by string.
pub fn id_order<'a>(count: usize, id: impl Fn(usize) -> &'a str) -> Vec<usize> {
    let mut order: Vec<usize> = (0..count).collect();
    let numeric: Option<Vec<u64>> = (0..count).map(|i| id(i).parse().ok()).collect();
    match numeric {
        Some(keys) => order.sort_by_key(|&i| keys[i]),
        None => order.sort_by(|&a, &b| id(a).cmp(id(b))),
    }
    order
}

/// Appends `field`, quoted when it needs to be.
pub fn push_field(line: &mut String, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        line.push('"');
        line.push_str(&field.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_numerically_when_all_are_numbers() {
        let ids = ["10", "9", "100"];
        assert_eq!(id_order(3, |i| ids[i]), vec![1, 0, 2]);
        let ids = ["b", "10", "a"];
        assert_eq!(id_order(3, |i| ids[i]), vec![1, 2, 0]);
    }

    #[test]
    fn fields_are_quoted_only_when_needed() {
        let mut s = String::new();
        push_field(&mut s, "u17");
        s.push(',');
        push_field(&mut s, "a,b \"c\"");
        assert_eq!(s, "u17,\"a,b \"\"c\"\"\"");
    }
}
