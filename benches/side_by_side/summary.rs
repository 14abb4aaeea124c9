//! The tables: raw results (one JSON line per K × threads × repetition,
//! holding the LIBMF run and every funkd variant measured with it) turned
//! into one markdown table per funkd model.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{json, Value};

/// The median of `xs` (NaN when empty).
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// (E − 1)·N / (t_E − t_1): the updates per second of the epochs after
/// the first, from the wall times `t1` and `te` of a 1-epoch and an
/// E-epoch run over `n` ratings, so that what both runs pay once (loading,
/// set-up, the first epoch's extra work, saving) cancels out. NaN (not a
/// negative or infinite rate) when it cannot be measured: fewer than two
/// epochs, or an E-epoch run no slower than the 1-epoch one.
pub fn differential_rate(n: f64, epochs: u32, t1: f64, te: f64) -> f64 {
    let rate = f64::from(epochs.saturating_sub(1)) * n / (te - t1);
    if epochs >= 2 && te > t1 && rate.is_finite() {
        rate
    } else {
        f64::NAN
    }
}

/// funkd's E-epoch `record` with its rate in LIBMF's scope added: the
/// wall time of its 1-epoch run's `train` call (`one_epoch`'s `call_secs`)
/// as `one_epoch_call_secs`, and [`differential_rate`] of the two calls
/// over `n` ratings as `same_scope_updates_per_sec`.
pub fn with_same_scope(mut record: Value, one_epoch: &Value, n: f64, epochs: u32) -> Value {
    let t1 = one_epoch["call_secs"].as_f64().unwrap_or(f64::NAN);
    let te = record["call_secs"].as_f64().unwrap_or(f64::NAN);
    record["one_epoch_call_secs"] = json!(t1);
    record["same_scope_updates_per_sec"] = json!(differential_rate(n, epochs, t1, te));
    record
}

/// Every group recorded in the raw-results file `path`, in file order.
pub fn read_raw(path: &Path) -> Result<Vec<Value>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read raw results {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).with_context(|| {
                format!(
                    "{}:{}: not a raw result line (JSON); was it cut off?",
                    path.display(),
                    i + 1
                )
            })
        })
        .collect()
}

/// One funkd run and the LIBMF run of its group (absent with `--only funk`).
type Pair<'a> = (&'a Value, Option<&'a Value>);

/// One table row: a funkd variant at one K × threads, and its pairs.
pub struct Row<'a> {
    k: u64,
    threads: u64,
    isa: String,
    pairs: Vec<Pair<'a>>,
}

/// The rows of `model` ("defaults" or "like"), ordered by K, threads and
/// then the ISAs in the order first met.
pub fn rows_for<'a>(groups: &'a [Value], model: &str) -> Vec<Row<'a>> {
    let mut rows: Vec<Row> = Vec::new();
    for g in groups {
        let (k, threads) = (uint(g, "k"), uint(g, "threads"));
        let libmf = g.get("libmf").filter(|v| !v.is_null());
        let runs = g["funkd"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        for f in runs.iter().filter(|f| f["model"] == model) {
            let isa = f["isa"].as_str().unwrap_or("?").to_string();
            match rows
                .iter_mut()
                .find(|r| r.k == k && r.threads == threads && r.isa == isa)
            {
                Some(row) => row.pairs.push((f, libmf)),
                None => rows.push(Row {
                    k,
                    threads,
                    isa,
                    pairs: vec![(f, libmf)],
                }),
            }
        }
    }
    rows.sort_by_key(|r| (r.k, r.threads));
    rows
}

fn uint(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or(0)
}

/// The median of `key` over `records`.
fn field<'a>(records: impl Iterator<Item = &'a Value>, key: &str) -> f64 {
    median(records.filter_map(|m| m[key].as_f64()).collect())
}

/// What the tables were measured on: the data set(s), epochs and LIBMF's
/// compiler flags, as recorded in the groups.
fn describe(groups: &[Value]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    for g in groups {
        let d = &g["data"];
        seen.insert(format!(
            "data: {} — {} users × {} items, {} train / {} test ratings, noise floor {}; {} epochs; LIBMF built with CXXFLAGS={}",
            d["path"].as_str().unwrap_or("?"),
            d["users"],
            d["items"],
            d["train"],
            d["test"],
            d["noise_floor"].as_f64().map_or("unknown".into(), |f| format!("{f:.4}")),
            g["epochs"],
            g["libmf_cxxflags"],
        ));
    }
    seen.into_iter().collect()
}

/// The header of every table.
pub const HEADER: &str = "| K | threads | ISA | funkd M upd/s | LIBMF M upd/s | ratio | ratio per rep | funkd same-scope M upd/s | same-scope ratio | same-scope ratio per rep | funkd in-window M upd/s | funkd test RMSE | LIBMF test RMSE | funkd s to LIBMF's RMSE | LIBMF s to its RMSE | funkd start-up s | LIBMF start-up s | funkd peak MiB | LIBMF peak MiB | reps |";
/// The rule under [`HEADER`], one cell per column.
pub const RULE: &str =
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|";

/// Prints the description and one table per funkd model found in
/// `groups`; with `curves`, the test RMSE per epoch of each row's first
/// pair below its table.
pub fn print(groups: &[Value], curves: bool) {
    for line in describe(groups) {
        println!("{line}");
    }
    for (model, title) in [
        ("defaults", "funkd: its defaults against LIBMF's"),
        (
            "like",
            "funkd: LIBMF's model (plain, adaptive schedule, learning rate 0.1, reg 0.1) against LIBMF",
        ),
    ] {
        let rows = rows_for(groups, model);
        if rows.is_empty() {
            continue;
        }
        println!();
        println!("{title}");
        println!();
        println!("{HEADER}");
        println!("{RULE}");
        for row in &rows {
            println!("{}", format_row(row));
        }
        if curves {
            print_curves(&rows);
        }
    }
}

/// funkd's `funk_key` ÷ LIBMF's `updates_per_sec` of each pair that has
/// both (a NaN rate, one not measured, counts as absent).
fn ratios(row: &Row, funk_key: &str) -> Vec<f64> {
    let rate = |m: &Value, key: &str| m[key].as_f64().filter(|x| !x.is_nan());
    row.pairs
        .iter()
        .filter_map(|&(f, l)| Some(rate(f, funk_key)? / rate(l?, "updates_per_sec")?))
        .collect()
}

/// The median of `ratios` as a table cell (`2.50×`, or "—").
fn ratio_cell(ratios: &[f64]) -> String {
    let ratio = median(ratios.to_vec());
    if ratio.is_nan() {
        "—".to_string()
    } else {
        format!("{ratio:.2}×")
    }
}

/// `ratios` in order, as a table cell ("—" when there are none).
fn per_rep_cell(ratios: &[f64]) -> String {
    if ratios.is_empty() {
        return "—".to_string();
    }
    let cells: Vec<String> = ratios.iter().map(|&r| cell(r, 2)).collect();
    cells.join(", ")
}

/// funkd's median seconds to the LIBMF RMSE of each pair (∞ in a pair
/// where it never gets there), as a table cell.
fn time_to_libmf_rmse(row: &Row) -> String {
    let reached: Vec<f64> = row
        .pairs
        .iter()
        .filter_map(|&(f, l)| {
            let target = l?["test_rmse"].as_f64()?;
            let epochs = f["epochs_at"].as_array()?;
            Some(
                epochs
                    .iter()
                    .find(|e| e[1].as_f64().is_some_and(|r| r <= target))
                    .and_then(|e| e[0].as_f64())
                    .unwrap_or(f64::INFINITY),
            )
        })
        .collect();
    let tta = median(reached);
    if tta.is_finite() {
        format!("{tta:.1}")
    } else {
        "—".to_string()
    }
}

/// `x` with `decimals` decimals, or "—" when it was not measured (NaN).
fn cell(x: f64, decimals: usize) -> String {
    if x.is_nan() {
        "—".to_string()
    } else {
        format!("{x:.decimals$}")
    }
}

/// One table row as markdown: medians over the row's pairs ("—" for what
/// was not measured).
pub fn format_row(row: &Row) -> String {
    let funk = || row.pairs.iter().map(|p| p.0);
    let libmf = || row.pairs.iter().filter_map(|p| p.1);
    let whole = ratios(row, "updates_per_sec");
    let same_scope = ratios(row, "same_scope_updates_per_sec");
    let cells = [
        row.k.to_string(),
        row.threads.to_string(),
        row.isa.clone(),
        cell(field(funk(), "updates_per_sec") / 1e6, 1),
        cell(field(libmf(), "updates_per_sec") / 1e6, 1),
        ratio_cell(&whole),
        per_rep_cell(&whole),
        cell(field(funk(), "same_scope_updates_per_sec") / 1e6, 1),
        ratio_cell(&same_scope),
        per_rep_cell(&same_scope),
        cell(field(funk(), "window_updates_per_sec") / 1e6, 1),
        cell(field(funk(), "test_rmse"), 4),
        cell(field(libmf(), "test_rmse"), 4),
        time_to_libmf_rmse(row),
        cell(field(libmf(), "tta_secs"), 1),
        cell(field(funk(), "startup_secs"), 2),
        cell(field(libmf(), "startup_secs"), 2),
        cell(field(funk(), "peak_rss_mib"), 0),
        cell(field(libmf(), "peak_rss_mib"), 0),
        row.pairs.len().to_string(),
    ];
    format!("| {} |", cells.join(" | "))
}

/// The test RMSE per epoch of each row's first pair (LIBMF's only when it
/// was measured with `--curves`).
fn print_curves(rows: &[Row]) {
    println!();
    for row in rows {
        let (f, l) = row.pairs[0];
        for (name, record) in [("funkd", Some(f)), ("LIBMF", l)] {
            let Some(curve) = record.and_then(|r| r["curve"].as_array()) else {
                continue;
            };
            if curve.is_empty() {
                continue;
            }
            let text: Vec<String> = curve
                .iter()
                .filter_map(Value::as_f64)
                .map(|x| format!("{x:.4}"))
                .collect();
            println!(
                "K={} threads={} {} {name} test RMSE per epoch: {}",
                row.k,
                row.threads,
                row.isa,
                text.join(" ")
            );
        }
    }
}
