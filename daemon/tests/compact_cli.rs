//! `funkd compact` by hand: what it prints on stdout, as text and as JSON,
//! for the counts the compaction returns.

mod serve_support;

use funkd::ratingfile::RatingFile;
use serde_json::{json, Value};
use serve_support::{funkd, trained, Server};

#[test]
fn compact_prints_one_line_of_text_or_one_json_object_on_one_line() {
    let t = trained(2);
    let old = RatingFile::open(&t.data).unwrap();
    let known_item = old.item_id(0).to_string();
    {
        let server = Server::start(&t.dir, &["--intake", "--no-auto-rounds"]);
        let body = json!([
            {"user": "newcomer", "item": known_item, "rating": 4},
            {"user": "newcomer", "item": "fresh-item", "rating": 3},
        ]);
        assert_eq!(server.post("/v1/ratings", &body.to_string()).0, 200);
    }
    let compact = |out: &std::path::Path, json: bool| {
        let mut cmd = funkd(["compact", "--dir"]);
        cmd.arg(&t.dir).arg("--out").arg(out);
        if json {
            cmd.arg("--json");
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };

    let out = t.tmp.path().join("compacted.funk");
    let text = compact(&out, false);
    let new = RatingFile::open(&out).unwrap();
    assert_eq!(new.train_count(), old.train_count() + 2);
    assert_eq!(
        text,
        format!(
            "wrote {}: {} train + {} test ratings; from the log 2 ratings (0 replacing earlier ones), 1 new users, 1 new items\n",
            out.display(),
            new.train_count(),
            new.test_count()
        )
    );

    let again = t.tmp.path().join("again.funk");
    let text = compact(&again, true);
    assert_eq!(text.lines().count(), 1, "one line: {text}");
    assert!(text.ends_with('\n'));
    let counts: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        counts,
        json!({
            "train": new.train_count(),
            "test": new.test_count(),
            "log_ratings": 2,
            "replaced": 0,
            "new_users": 1,
            "new_items": 1,
        })
    );
}
