//! `funkd serve --intake`: `POST /v1/ratings` over loopback against the
//! real binary. Acknowledged ratings are durable (they survive `kill -9`
//! exactly once), batches are all or none, concurrent requests share
//! flushes, a torn log tail is cut back and damage before it refuses to
//! start; new ratings change the answers for their users at once.

mod serve_support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use funkd::ratingfile::RatingFile;
use funkd::serve::ingest_log::scan;
use funkd::serve::segments;
use serde_json::{json, Value};
use serve_support::{funkd, parse_response, trained, Server};

/// POST with a given content type: status and JSON body.
fn post_as(addr: SocketAddr, path: &str, content_type: &str, body: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let (status, text) = parse_response(&raw).unwrap();
    (status, serde_json::from_str(&text).unwrap())
}

/// Every rating in the log's segments, in log order.
fn log_ratings(dir: &Path) -> Vec<(String, String, f32)> {
    segments::list(dir)
        .unwrap()
        .into_iter()
        .flat_map(|(_, path)| scan(&std::fs::read(path).unwrap()).unwrap().batches)
        .flatten()
        .map(|r| (r.user, r.item, r.value))
        .collect()
}

/// Intake on, training rounds only on request (these tests read the log).
const INTAKE: &[&str] = &["--intake", "--no-auto-rounds"];

#[test]
fn new_ratings_change_the_answers_of_their_users_at_once() {
    let t = trained(8);
    let data = RatingFile::open(&t.data).unwrap();
    let server = Server::start(&t.dir, INTAKE);
    let known = data.user_id(0).to_string();

    // Items the known user has not rated: the model's top recommendations.
    let before = server.ok(&format!("/v1/recommend?user={known}&n=3"));
    assert_eq!(before["source"], "model");
    let top: Vec<String> = before["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item"].as_str().unwrap().to_string())
        .collect();
    let rated =
        |user: &str, item: &str, rating: f32| json!({"user": user, "item": item, "rating": rating});
    let mut batch: Vec<Value> = top.iter().map(|i| rated(&known, i, 1.0)).collect();
    let items: Vec<String> = (0..8).map(|i| data.item_id(i).to_string()).collect();
    for item in &items {
        batch.push(rated("brand-new", item, 5.0));
    }
    batch.push(rated("brand-new", "an-item-not-yet-trained", 4.0));
    let (status, answer) = server.post("/v1/ratings", &Value::Array(batch).to_string());
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 12);
    assert_eq!(answer["new_users"], 1);
    assert_eq!(answer["new_items"], 1);

    // The known user's rated items are never recommended; the row is
    // folded in again.
    let after = server.ok(&format!("/v1/recommend?user={known}&n=1000"));
    assert_eq!(after["source"], "fold_in");
    let listed: Vec<&str> = after["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item"].as_str().unwrap())
        .collect();
    for item in &top {
        assert!(!listed.contains(&item.as_str()), "{item} was just rated");
    }
    let p = server.ok(&format!("/v1/predict?user={known}&item={}", top[0]));
    assert_eq!(p["source"], "fold_in");

    // The brand-new user has a row at once.
    let p = server.ok(&format!("/v1/predict?user=brand-new&item={}", items[0]));
    assert_eq!(p["source"], "fold_in");
    let r = server.ok("/v1/recommend?user=brand-new&n=5");
    assert_eq!(r["items"].as_array().unwrap().len(), 5);
    assert_eq!(r["excluded"], 8);
    // An unknown user without ratings is still unknown.
    assert_eq!(server.get("/v1/recommend?user=nobody").0, 404);

    // NDJSON and CSV bodies.
    let (status, a) = post_as(
        server.addr,
        "/v1/ratings",
        "application/x-ndjson",
        "{\"user\": \"n1\", \"item\": \"x\", \"rating\": 3}\n{\"user\": \"n2\", \"item\": \"x\", \"rating\": 2}\n",
    );
    assert_eq!((status, &a["accepted"]), (200, &json!(2)), "{a}");
    let (status, a) = post_as(
        server.addr,
        "/v1/ratings",
        "text/csv",
        "user,item,rating\nc1,y,1\nc2,y,5\nc3,y,2.5\n",
    );
    assert_eq!((status, &a["accepted"]), (200, &json!(3)), "{a}");
    let status = server.ok("/v1/status");
    assert_eq!(status["intake"]["ratings"], 17);
    assert_eq!(status["intake"]["batches"], 3);
    assert_eq!(log_ratings(&t.dir).len(), 17);
}

#[test]
fn a_bad_batch_is_refused_whole_with_every_bad_record_named() {
    let t = trained(2);
    let server = Server::start(&t.dir, INTAKE);
    let body = r#"[{"user": "a", "item": "b", "rating": 3},
                   {"user": "a", "item": "c", "rating": 9},
                   {"user": "a", "item": "d", "rating": 2},
                   {"user": "a", "rating": 2}]"#;
    let (status, answer) = server.post("/v1/ratings", body);
    assert_eq!(status, 400);
    let records = answer["records"].as_array().unwrap();
    let indices: Vec<u64> = records
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, [1, 3]);
    assert!(records[0]["error"].as_str().unwrap().contains("outside"));
    assert!(answer["error"]
        .as_str()
        .unwrap()
        .contains("none of the batch"));
    assert_eq!(server.ok("/v1/status")["intake"]["ratings"], 0);
    assert!(log_ratings(&t.dir).is_empty());
    assert_eq!(server.post("/v1/ratings", "not json").0, 400);
    assert_eq!(
        post_as(server.addr, "/v1/ratings", "text/plain", "a,b,1").0,
        415
    );

    // Without --intake the endpoint says how to turn it on.
    drop(server);
    let plain = Server::start(&t.dir, &[]);
    let (status, answer) = plain.post("/v1/ratings", body);
    assert_eq!(status, 404);
    assert!(answer["error"].as_str().unwrap().contains("--intake"));
}

#[test]
fn acknowledged_ratings_survive_kill_9_exactly_once() {
    let t = trained(2);
    for round in 0..3 {
        let mut server = Server::start(&t.dir, INTAKE);
        let addr = server.addr;
        let clients: Vec<_> = (0..8)
            .map(|c| {
                std::thread::spawn(move || {
                    let mut acked = Vec::new();
                    for n in 0..400 {
                        let user = format!("r{round}-c{c}-{n}");
                        let body = json!([{"user": user, "item": "i", "rating": 3}]).to_string();
                        match serve_support::request(
                            addr,
                            "POST",
                            "/v1/ratings",
                            Some(body.as_bytes()),
                        ) {
                            Ok((200, _)) => acked.push(user),
                            Ok((status, body)) => panic!("{status}: {body}"),
                            Err(_) => break, // killed
                        }
                    }
                    acked
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300 + 150 * round as u64));
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        let acked: Vec<String> = clients
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect();
        assert!(
            !acked.is_empty(),
            "no request was acknowledged before the kill"
        );
        let mut count: HashMap<String, usize> = HashMap::new();
        for (user, _, _) in log_ratings(&t.dir) {
            *count.entry(user).or_default() += 1;
        }
        for user in &acked {
            assert_eq!(
                count.get(user),
                Some(&1),
                "acknowledged {user} must be in the log once"
            );
        }
        assert!(count.values().all(|&n| n == 1), "a rating logged twice");
        // The restarted service has every rating of the log.
        let server = Server::start(&t.dir, INTAKE);
        let status = server.ok("/v1/status");
        assert_eq!(
            status["intake"]["ratings"].as_u64().unwrap() as usize,
            count.len()
        );
        let p = server.ok(&format!("/v1/predict?user={}&item=i", acked[0]));
        assert_eq!(p["user"], acked[0].as_str());
    }
}

#[test]
fn concurrent_requests_share_flushes() {
    let t = trained(2);
    let server = Server::start(
        &t.dir,
        &["--intake", "--no-auto-rounds", "--intake-gather-ms", "5"],
    );
    let addr = server.addr;
    let clients: Vec<_> = (0..16)
        .map(|c| {
            std::thread::spawn(move || {
                for n in 0..20 {
                    let body = json!([{"user": format!("g{c}-{n}"), "item": "i", "rating": 2}]);
                    let (status, _) = serve_support::request(
                        addr,
                        "POST",
                        "/v1/ratings",
                        Some(body.to_string().as_bytes()),
                    )
                    .unwrap();
                    assert_eq!(status, 200);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let intake = server.ok("/v1/status")["intake"].clone();
    assert_eq!(intake["batches"], 320);
    let syncs = intake["syncs"].as_u64().unwrap();
    assert!(syncs < 320 / 2, "{syncs} flushes for 320 batches: {intake}");
    assert_eq!(intake["log_records"], syncs);
    assert_eq!(log_ratings(&t.dir).len(), 320);
}

#[test]
fn a_torn_tail_is_cut_back_and_damage_before_it_refuses_to_start() {
    let t = trained(2);
    let log = segments::path(&t.dir, 1);
    {
        let server = Server::start(&t.dir, INTAKE);
        for n in 0..3 {
            let body = json!([{"user": format!("t{n}"), "item": "i", "rating": 4}]);
            assert_eq!(server.post("/v1/ratings", &body.to_string()).0, 200);
        }
    }
    let whole = std::fs::read(&log).unwrap();
    // A write cut short by a crash: half a record after the last one.
    let mut torn = whole.clone();
    torn.extend_from_slice(&whole[16..16 + (whole.len() - 16) / 3 / 2]);
    std::fs::write(&log, &torn).unwrap();
    {
        let server = Server::start(&t.dir, INTAKE);
        assert_eq!(server.ok("/v1/status")["intake"]["ratings"], 3);
        assert!(server.log().contains("cut a torn tail"), "{}", server.log());
    }
    assert_eq!(
        std::fs::read(&log).unwrap(),
        whole,
        "cut back to the whole records"
    );

    // A flipped bit in the first of three records: refused.
    let mut damaged = whole.clone();
    damaged[16 + 14] ^= 0x10;
    std::fs::write(&log, &damaged).unwrap();
    let out = funkd([
        "serve",
        "--dir",
        t.dir.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--intake",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("damaged before its end") && err.contains("record 0"),
        "{err}"
    );
    assert_eq!(std::fs::read(&log).unwrap(), damaged, "nothing is cut");
}

#[test]
fn an_ingest_log_on_a_full_disk_is_refused_at_start() {
    let t = trained(2);
    std::os::unix::fs::symlink("/dev/full", segments::path(&t.dir, 1)).unwrap();
    let out = funkd([
        "serve",
        "--dir",
        t.dir.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--intake",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot write") && err.contains("ingest-00000001.log"),
        "{err}"
    );
}

#[test]
fn compaction_folds_the_log_into_a_file_a_warm_start_accepts() {
    let t = trained(3);
    let data = RatingFile::open(&t.data).unwrap();
    let set = data.to_rating_set();
    let first = set.train[0];
    let (user, item) = (
        set.user_ids[first.user as usize].clone(),
        set.item_ids[first.item as usize].clone(),
    );
    let again = if first.value == 5.0 { 1.0 } else { 5.0 };
    {
        let server = Server::start(&t.dir, INTAKE);
        let body = json!([
            {"user": user, "item": item, "rating": again},
            {"user": "newcomer", "item": item, "rating": 4},
            {"user": "newcomer", "item": "fresh-item", "rating": 3},
        ]);
        assert_eq!(server.post("/v1/ratings", &body.to_string()).0, 200);
    }
    let out = t.tmp.path().join("compacted.funk");
    let run = |out: &Path| {
        let o = funkd([
            "compact",
            "--dir",
            t.dir.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<Value>(&o.stdout).unwrap()
    };
    let counts = run(&out);
    assert_eq!(counts["log_ratings"], 3);
    assert_eq!(counts["replaced"], 1);
    assert_eq!(counts["new_users"], 1);
    assert_eq!(counts["new_items"], 1);
    let new = RatingFile::open(&out).unwrap();
    assert_eq!(new.users(), data.users() + 1);
    assert_eq!(new.items(), data.items() + 1);
    assert_eq!(new.train_count(), data.train_count() + 2);
    assert_eq!(new.test_count(), data.test_count());
    let merged = new.to_rating_set();
    let value_of = |u: &str, i: &str| {
        merged
            .train
            .iter()
            .filter(|t| {
                merged.user_ids[t.user as usize] == u && merged.item_ids[t.item as usize] == i
            })
            .map(|t| t.value)
            .collect::<Vec<f32>>()
    };
    assert_eq!(
        value_of(&user, &item),
        [again],
        "the log's value replaces the old one, once"
    );
    assert_eq!(value_of("newcomer", "fresh-item"), [3.0]);
    // The same base and log again: the same ratings (nothing counted twice).
    let twice = run(&t.tmp.path().join("again.funk"));
    assert_eq!(twice, counts);

    // A warm-started round on the new file.
    let o = funkd([
        "train",
        "--data",
        out.to_str().unwrap(),
        "--checkpoint-dir",
        t.tmp.path().join("run-2").to_str().unwrap(),
        "--warm-start",
        t.dir.to_str().unwrap(),
        "--epochs",
        "2",
        "--quiet",
    ])
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
