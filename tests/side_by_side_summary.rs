//! The arithmetic of the side-by-side benchmark's tables (its rates and
//! ratios), tested without measuring anything: the bench's `summary`
//! module, compiled here as a test.

#[allow(dead_code)]
#[path = "../benches/side_by_side/summary.rs"]
mod summary;

use serde_json::{json, Value};
use summary::*;

#[test]
fn the_differential_rate_is_the_later_epochs_over_their_time() {
    // 19 epochs of 1,000 ratings in 9.5 s more than the 1-epoch run.
    assert_eq!(differential_rate(1000.0, 20, 2.5, 12.0), 2000.0);
    assert_eq!(differential_rate(1000.0, 2, 1.0, 1.5), 2000.0);
}

#[test]
fn a_differential_rate_that_cannot_be_measured_is_nan() {
    assert!(differential_rate(1000.0, 1, 1.0, 2.0).is_nan());
    assert!(differential_rate(1000.0, 20, 2.0, 2.0).is_nan());
    assert!(differential_rate(1000.0, 20, 3.0, 2.0).is_nan());
    assert!(differential_rate(1000.0, 20, f64::NAN, 2.0).is_nan());
}

#[test]
fn the_same_scope_rate_comes_from_the_two_train_calls() {
    let full = json!({ "updates_per_sec": 90.0, "call_secs": 12.0 });
    let one = json!({ "updates_per_sec": 50.0, "call_secs": 2.5 });
    let record = with_same_scope(full, &one, 1000.0, 20);
    assert_eq!(record["one_epoch_call_secs"], 2.5);
    assert_eq!(record["same_scope_updates_per_sec"], 2000.0);
    // The whole-phase rate is left as it was.
    assert_eq!(record["updates_per_sec"], 90.0);
    // Without a 1-epoch run: null, which the tables show as "—".
    let record = with_same_scope(json!({ "call_secs": 12.0 }), &json!({}), 1000.0, 20);
    assert!(record["same_scope_updates_per_sec"].is_null());
}

/// One group: LIBMF at 1 M updates/s and a funkd run given as fields.
fn group(rep: u64, funkd: Value) -> Value {
    json!({
        "k": 32, "threads": 1, "rep": rep,
        "libmf": { "updates_per_sec": 1.0e6, "test_rmse": 0.8 },
        "funkd": [funkd],
    })
}

fn cells(line: &str) -> Vec<String> {
    line.trim_matches('|')
        .split('|')
        .map(|c| c.trim().to_string())
        .collect()
}

#[test]
fn a_row_shows_both_ratios_as_medians_over_repetitions() {
    let groups: Vec<Value> = [(2.0, 3.0), (2.5, 3.5), (3.0, 3.2)]
        .iter()
        .enumerate()
        .map(|(rep, &(whole, same))| {
            group(
                rep as u64 + 1,
                json!({
                    "model": "defaults", "isa": "avx2",
                    "updates_per_sec": whole * 1e6,
                    "same_scope_updates_per_sec": same * 1e6,
                    "window_updates_per_sec": 4.0e6,
                }),
            )
        })
        .collect();
    let rows = rows_for(&groups, "defaults");
    assert_eq!(rows.len(), 1);
    let row = cells(&format_row(&rows[0]));
    let header = cells(HEADER);
    assert_eq!(row.len(), header.len());
    assert_eq!(RULE.matches("---").count(), header.len());
    let at = |name: &str| &row[header.iter().position(|h| h == name).unwrap()];
    assert_eq!(at("funkd M upd/s"), "2.5");
    assert_eq!(at("ratio"), "2.50×");
    assert_eq!(at("ratio per rep"), "2.00, 2.50, 3.00");
    assert_eq!(at("funkd same-scope M upd/s"), "3.2");
    assert_eq!(at("same-scope ratio"), "3.20×");
    assert_eq!(at("same-scope ratio per rep"), "3.00, 3.50, 3.20");
    assert_eq!(at("funkd in-window M upd/s"), "4.0");
}

#[test]
fn raw_lines_without_the_same_scope_rate_still_summarize() {
    let groups = [group(
        1,
        json!({ "model": "like", "isa": "avx512", "updates_per_sec": 1.5e6 }),
    )];
    let rows = rows_for(&groups, "like");
    let row = cells(&format_row(&rows[0]));
    let header = cells(HEADER);
    let at = |name: &str| &row[header.iter().position(|h| h == name).unwrap()];
    assert_eq!(at("ratio"), "1.50×");
    assert_eq!(at("funkd same-scope M upd/s"), "—");
    assert_eq!(at("same-scope ratio"), "—");
    assert_eq!(at("same-scope ratio per rep"), "—");
}
