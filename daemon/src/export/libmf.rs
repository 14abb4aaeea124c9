//! `export --format libmf`: LIBMF's model text format, as `mf_save_model`
//! writes it and `mf_load_model` / `mf-predict` read it:
//!
//! ```text
//! f 0            loss: real-valued squared error (P_L2_MFR)
//! m <rows>
//! n <columns>
//! k <factors>
//! b <value predicted for unknown rows/columns>
//! p0 T v v v …   one line per row; `F` and zeros for a row LIBMF treats as unknown
//! q0 T v v v …
//! ```
//!
//! LIBMF predicts p·q, with no mean and no biases, so a biased model is
//! written with two extra dimensions that carry them exactly:
//! p' = (p, μ + b_u, 1) and q' = (q, 1, b_i) give p'·q' = μ + b_u + b_i + p·q.
//! `b` is μ (biased) or the mean train rating (plain, with `--data`).
//!
//! Rows: when `--data` is given and every user and item id is a
//! non-negative integer (MovieLens, Netflix), row `u` of P is the user
//! whose original id is `u`, so `mf-predict` works on files in the
//! original ids; ids that do not occur are `F` rows. Otherwise rows are in
//! internal-id order, and with `--data` `user_ids.txt` / `item_ids.txt`
//! say which original id each row is. `libmf.json` records which.

use std::io::Write;
use std::path::Path;

use anyhow::{ensure, Context, Result};
use funk_kernel::ModelKind;
use serde::Serialize;

use super::{write_id_list, write_json_file};
use crate::atomic::write_atomically;
use crate::model::Model;
use crate::ratingfile::RatingFile;

/// How rows of the LIBMF model map to ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowLayout {
    /// Row index = the original (integer) id.
    OriginalId,
    /// Row index = funkd's internal id.
    InternalId,
}

/// What was written.
#[derive(Debug, Serialize)]
pub struct LibmfSummary {
    /// File names written.
    pub files: Vec<String>,
    /// How rows map to ids.
    pub layout: RowLayout,
    /// LIBMF's m (rows of P).
    pub m: usize,
    /// LIBMF's n (rows of Q).
    pub n: usize,
    /// LIBMF's k (values per row).
    pub k: usize,
    /// LIBMF's b.
    pub b: f32,
}

/// For each internal id, its row in the LIBMF model, and the number of
/// rows; `None` when some id is not a non-negative integer LIBMF can index.
fn original_rows(count: usize, id: impl Fn(usize) -> String) -> Option<(Vec<usize>, usize)> {
    let mut rows = Vec::with_capacity(count);
    let mut m = 0usize;
    for i in 0..count {
        let row: u32 = id(i).parse().ok()?;
        if row >= i32::MAX as u32 {
            return None;
        }
        rows.push(row as usize);
        m = m.max(row as usize + 1);
    }
    Some((rows, m))
}

/// Writes `model.txt` and `libmf.json` (and id lists in the internal
/// layout with data) into `dir`.
pub fn write(model: &Model, data: Option<&RatingFile>, dir: &Path) -> Result<LibmfSummary> {
    let biased = model.kind == ModelKind::Biased;
    let k = model.rank + if biased { 2 } else { 0 };
    let b = match (model.kind, data) {
        (ModelKind::Biased, _) => model.mu,
        (ModelKind::Plain, Some(data)) => data.mean() as f32,
        (ModelKind::Plain, None) => 0.0,
    };
    let original = data.and_then(|data| {
        let users = original_rows(data.users(), |u| data.user_id(u).to_owned())?;
        let items = original_rows(data.items(), |i| data.item_id(i).to_owned())?;
        Some((users, items))
    });
    let (layout, (user_rows, m), (item_rows, n)) = match original {
        Some((users, items)) => (RowLayout::OriginalId, users, items),
        None => (
            RowLayout::InternalId,
            ((0..model.users()).collect(), model.users()),
            ((0..model.items()).collect(), model.items()),
        ),
    };
    let user_line = |u: usize, line: &mut String| {
        push_row(line, model.user_row(u));
        if biased {
            push_value(line, model.mu + model.user_bias[u]);
            push_value(line, 1.0);
        }
    };
    let item_line = |i: usize, line: &mut String| {
        push_row(line, model.item_row(i));
        if biased {
            push_value(line, 1.0);
            push_value(line, model.item_bias[i]);
        }
    };
    let path = dir.join("model.txt");
    write_atomically(&path, |w| {
        let io = || format!("cannot write {}", path.display());
        write!(w, "f 0\nm {m}\nn {n}\nk {k}\nb {b}\n").with_context(io)?;
        write_matrix(w, 'p', m, k, &user_rows, user_line).with_context(io)?;
        write_matrix(w, 'q', n, k, &item_rows, item_line).with_context(io)?;
        Ok(())
    })?;
    let mut files = vec!["model.txt".to_owned()];
    if let (RowLayout::InternalId, Some(data)) = (layout, data) {
        write_id_list(&dir.join("user_ids.txt"), data.users(), |u| data.user_id(u))?;
        write_id_list(&dir.join("item_ids.txt"), data.items(), |i| data.item_id(i))?;
        files.push("user_ids.txt".to_owned());
        files.push("item_ids.txt".to_owned());
    }
    files.push("libmf.json".to_owned());
    let summary = LibmfSummary {
        files,
        layout,
        m,
        n,
        k,
        b,
    };
    write_json_file(&dir.join("libmf.json"), &summary)?;
    Ok(summary)
}

/// Writes `rows` lines `{prefix}{row} T …`, putting internal id `i` on line
/// `row_of[i]` and `F` rows where no id lands.
fn write_matrix(
    w: &mut impl Write,
    prefix: char,
    rows: usize,
    k: usize,
    row_of: &[usize],
    mut line_of: impl FnMut(usize, &mut String),
) -> Result<()> {
    let mut internal_at = vec![usize::MAX; rows];
    for (internal, &row) in row_of.iter().enumerate() {
        ensure!(
            internal_at[row] == usize::MAX,
            "two ids map to LIBMF row {row} (duplicate ids?)"
        );
        internal_at[row] = internal;
    }
    let mut line = String::with_capacity(16 * k + 16);
    for (row, &internal) in internal_at.iter().enumerate() {
        line.clear();
        if internal == usize::MAX {
            line.push_str(&format!("{prefix}{row} F "));
            for _ in 0..k {
                line.push_str("0 ");
            }
        } else {
            line.push_str(&format!("{prefix}{row} T "));
            line_of(internal, &mut line);
        }
        line.push('\n');
        w.write_all(line.as_bytes())?;
    }
    Ok(())
}

fn push_row(line: &mut String, values: &[f32]) {
    for &v in values {
        push_value(line, v);
    }
}

fn push_value(line: &mut String, v: f32) {
    use std::fmt::Write as _;
    // Shortest round-trip form, as LIBMF's `>>` reads it back.
    let _ = write!(line, "{v} ");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_ids_map_to_rows_and_others_do_not() {
        let ids = ["3", "0", "7"];
        let (rows, m) = original_rows(3, |i| ids[i].to_owned()).unwrap();
        assert_eq!((rows, m), (vec![3, 0, 7], 8));
        let ids = ["3", "u1"];
        assert!(original_rows(2, |i| ids[i].to_owned()).is_none());
        let ids = ["-1"];
        assert!(original_rows(1, |i| ids[i].to_owned()).is_none());
    }

    #[test]
    fn missing_rows_are_written_as_unknown() {
        let mut out = Vec::new();
        write_matrix(&mut out, 'p', 3, 2, &[2, 0], |i, line| {
            push_row(line, &[i as f32, 0.5]);
        })
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "p0 T 1 0.5 \np1 F 0 0 \np2 T 0 0.5 \n");
    }

    #[test]
    fn duplicate_rows_are_refused() {
        let mut out = Vec::new();
        let err = write_matrix(&mut out, 'q', 2, 1, &[1, 1], |_, _| {}).unwrap_err();
        assert!(err.to_string().contains("row 1"));
    }
}
