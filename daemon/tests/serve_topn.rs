//! `funkd serve`'s top-N answers against the command line's and the
//! model's: the same items and the same score bits as `funkd recommend`,
//! no rated item, and predictions equal to the scores they are ranked by.

mod serve_support;

use funkd::ratingfile::RatingFile;
use serde_json::Value;
use serve_support::*;

/// `funkd recommend --json` for `user`.
fn cli_recommend(t: &Trained, user: &str, top: usize, include_rated: bool) -> Value {
    let mut args = vec![
        "recommend".to_string(),
        "--model".into(),
        t.dir.to_str().unwrap().into(),
        "--data".into(),
        t.data.to_str().unwrap().into(),
        "--user".into(),
        user.into(),
        "--top".into(),
        top.to_string(),
        "--json".into(),
    ];
    if include_rated {
        args.push("--include-rated".into());
    }
    let out = funkd(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// (item, score bits) of a list answer.
fn ranked(items: &Value) -> Vec<(String, u32)> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|it| {
            let score = it["score"].as_f64().unwrap() as f32;
            (it["item"].as_str().unwrap().to_string(), score.to_bits())
        })
        .collect()
}

#[test]
fn serve_recommends_what_the_command_line_does_and_never_a_rated_item() {
    let t = trained(3);
    let server = Server::start(&t.dir, &[]);
    let data = RatingFile::open(&t.data).unwrap();
    let index = data.item_index();
    for internal in [0, 7, 150, 299] {
        let user = data.user_id(internal).to_string();
        let rated = data.items_rated_by(internal).unwrap();
        assert!(!rated.is_empty(), "user {user} rated nothing");
        for include_rated in [false, true] {
            let flag = if include_rated {
                "&include_rated=true"
            } else {
                ""
            };
            let served = server.ok(&format!("/v1/recommend?user={user}&n=60{flag}"));
            let cli = cli_recommend(&t, &user, 60, include_rated);
            assert_eq!(
                ranked(&served["items"]),
                ranked(&cli["items"]),
                "user {user}"
            );
            assert_eq!(served["excluded"], cli["excluded"], "user {user}");
            let listed: Vec<u32> = served["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|it| index.get(it["item"].as_str().unwrap()).unwrap() as u32)
                .collect();
            let listed_rated = listed.iter().filter(|i| rated.contains(i)).count();
            if include_rated {
                // All 60 items are listed, rated ones included.
                assert_eq!(listed.len(), data.items());
                assert_eq!(listed_rated, rated.len());
            } else {
                assert_eq!(listed_rated, 0, "user {user}: a rated item recommended");
                assert_eq!(listed.len(), data.items() - rated.len());
                assert_eq!(served["excluded"].as_u64().unwrap() as usize, rated.len());
            }
        }
    }
}

#[test]
fn a_served_prediction_is_the_score_its_item_is_ranked_by() {
    let t = trained(3);
    let server = Server::start(&t.dir, &[]);
    let data = RatingFile::open(&t.data).unwrap();
    let (lo, hi) = data.rating_range().unwrap();
    let user = data.user_id(11).to_string();
    let served = server.ok(&format!("/v1/recommend?user={user}&n=20"));
    for it in served["items"].as_array().unwrap() {
        let item = it["item"].as_str().unwrap();
        let score = it["score"].as_f64().unwrap() as f32;
        let p = server.ok(&format!("/v1/predict?user={user}&item={item}"));
        assert_eq!(p["source"], "model");
        let prediction = p["prediction"].as_f64().unwrap() as f32;
        assert_eq!(
            prediction.to_bits(),
            score.max(lo).min(hi).to_bits(),
            "item {item}"
        );
    }
}

#[test]
fn similar_lists_the_nearest_items_by_cosine_best_first() {
    let t = trained(3);
    let server = Server::start(&t.dir, &[]);
    let data = RatingFile::open(&t.data).unwrap();
    let model = funkd::checkpoint::load_model(&t.dir).unwrap().model;
    let norm = |i: usize| funk_kernel::row_norm(model.item_row(i));
    let cosine = |a: usize, b: usize| {
        funk_kernel::dot(model.item_row(a), model.item_row(b)) / (norm(a) * norm(b))
    };
    let item = 4;
    let mut want: Vec<(usize, f32)> = (0..data.items())
        .filter(|&j| j != item)
        .map(|j| (j, cosine(item, j)))
        .collect();
    want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let served = server.ok(&format!("/v1/similar?item={}&n=12", data.item_id(item)));
    let got = ranked(&served["items"]);
    let want: Vec<(String, u32)> = want[..12]
        .iter()
        .map(|&(j, c)| (data.item_id(j).to_string(), c.to_bits()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn loading_a_snapshot_checks_every_block_before_any_query_needs_it() {
    use funkd::serve::snapshot::{DataSource, Snapshot};
    let t = trained(1);
    let snapshot = Snapshot::load_newest(
        &t.dir,
        &DataSource::Given(t.data.clone()),
        &funkd::serve::Log::silent(),
    )
    .unwrap();
    let blocks = snapshot.data.grid().pow(2);
    assert!(blocks > 1);
    // No query has run: the blocks are checked by the snapshot's own thread.
    wait_until(
        "every block checked",
        std::time::Duration::from_secs(30),
        || snapshot.data.blocks_checked() == blocks,
    );
}
