//! Process-level tests of `funkd serve`: the real binary on a small model,
//! driven over loopback. Every endpoint, every error status, the limits
//! (body size, stalled clients, a flood of connections, hang-ups), hot
//! swap while a `train` writes the directory, and a damaged checkpoint
//! refused while the old model keeps serving.

mod serve_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use funkd::ratingfile::RatingFile;
use serve_support::*;

#[test]
fn every_endpoint_answers_in_original_ids() {
    let t = trained(3);
    let server = Server::start(&t.dir, &[]);
    let data = RatingFile::open(&t.data).unwrap();
    let model = funkd::checkpoint::load_model(&t.dir).unwrap().model;
    let (lo, hi) = data.rating_range().unwrap();
    let user_id = data.user_id(7).to_string();
    let item_id = data.item_id(3).to_string();

    let health = server.ok("/healthz");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["epoch"], 3);

    // predict: the model's value, clamped, for known ids.
    let p = server.ok(&format!("/v1/predict?user={user_id}&item={item_id}"));
    assert_eq!(p["source"], "model");
    let want = model.predict(7, 3).max(lo).min(hi);
    assert!((p["prediction"].as_f64().unwrap() as f32 - want).abs() < 1e-5);
    // An unknown user falls back to μ + b_i.
    let p = server.ok(&format!("/v1/predict?user=nobody&item={item_id}"));
    assert_eq!(p["source"], "item_bias");
    let want = (model.mu + model.item_bias[3]).max(lo).min(hi);
    assert!((p["prediction"].as_f64().unwrap() as f32 - want).abs() < 1e-5);

    // recommend: n items, none rated, best first, scores as the model's.
    let r = server.ok(&format!("/v1/recommend?user={user_id}&n=5"));
    let items = r["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    let rated = data.rated_mask(7).unwrap();
    assert_eq!(
        r["excluded"].as_u64().unwrap() as usize,
        rated.iter().filter(|&&x| x).count()
    );
    let index = data.item_index();
    let mut last = f64::INFINITY;
    for it in items {
        let internal = index.get(it["item"].as_str().unwrap()).unwrap();
        assert!(!rated[internal], "recommended a rated item");
        let score = it["score"].as_f64().unwrap();
        assert!(score <= last);
        last = score;
        assert!((score as f32 - model.predict(7, internal)).abs() < 1e-4);
    }
    // The best unrated item is the model's argmax.
    let best = (0..data.items())
        .filter(|&i| !rated[i])
        .max_by(|&a, &b| model.predict(7, a).total_cmp(&model.predict(7, b)))
        .unwrap();
    assert_eq!(items[0]["item"], data.item_id(best));

    // similar: n items, not the item itself, cosines in [-1, 1], descending.
    let s = server.ok(&format!("/v1/similar?item={item_id}&n=4"));
    let items = s["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    let mut last = f64::INFINITY;
    for it in items {
        assert_ne!(it["item"].as_str().unwrap(), item_id);
        let c = it["score"].as_f64().unwrap();
        assert!((-1.0001..=1.0001).contains(&c) && c <= last);
        last = c;
    }

    // fold-in: a new user from three ratings; the rated items are left out.
    let rated_ids: Vec<String> = (0..3).map(|i| data.item_id(i).to_string()).collect();
    let body = format!(
        r#"{{"ratings":[{{"item":"{}","rating":5}},{{"item":"{}","rating":1}},{{"item":"{}","rating":4}}],"n":6,"return_row":true}}"#,
        rated_ids[0], rated_ids[1], rated_ids[2]
    );
    let (status, f) = server.post("/v1/fold-in", &body);
    assert_eq!(status, 200, "{f}");
    assert_eq!(f["ratings"], 3);
    assert_eq!(f["row"].as_array().unwrap().len(), model.rank);
    assert!(f["bias"].as_f64().unwrap().is_finite());
    let items = f["items"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    for it in items {
        assert!(!rated_ids.contains(&it["item"].as_str().unwrap().to_string()));
    }
    // The row is the kernel's exact fold-in with the model's λ, λ_b, λ₀, μ.
    let loaded = funkd::checkpoint::load_model(&t.dir).unwrap();
    let params = funk_kernel::FoldIn::new(
        loaded.settings.kind,
        loaded.settings.reg,
        loaded.settings.reg_bias,
        model.mu,
    )
    .and_then(|p| p.with_row_prior(loaded.settings.reg_row))
    .unwrap();
    let items_view =
        funk_kernel::ItemFactors::new(&model.item_factors, model.k, model.rank, &model.item_bias)
            .unwrap();
    let ratings =
        [(0, 5.0), (1, 1.0), (2, 4.0)].map(|(item, value)| funk_kernel::ItemRating { item, value });
    let mut want_row = vec![0.0f32; model.k];
    let want_bias =
        funk_kernel::fold_in::<16>(&params, &items_view, &ratings, &mut want_row).unwrap();
    let got_row: Vec<f32> = f["row"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(got_row, want_row[..model.rank]);
    assert_eq!(f["bias"].as_f64().unwrap() as f32, want_bias);
    // Its recommendations are that row's best unrated items.
    let score = |i: usize| {
        model.mu
            + want_bias
            + model.item_bias[i]
            + (0..model.rank)
                .map(|d| want_row[d] * model.item_row(i)[d])
                .sum::<f32>()
    };
    let best = (3..data.items())
        .max_by(|&a, &b| score(a).total_cmp(&score(b)))
        .unwrap();
    assert_eq!(items[0]["item"], data.item_id(best));
    // Without return_row, no row.
    let (_, f) = server.post("/v1/fold-in", r#"{"ratings":[{"item":"1","rating":4}]}"#);
    assert!(f.get("row").is_none(), "{f}");

    // status and metrics count what was asked.
    let st = server.ok("/v1/status");
    assert_eq!(st["model"]["epoch"], 3);
    assert_eq!(st["model"]["users"], data.users());
    assert_eq!(st["model"]["rank"], 6);
    assert!(st["model"]["test_rmse"].as_f64().unwrap() > 0.0);
    let predict = st["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["endpoint"] == "predict")
        .unwrap();
    assert_eq!(predict["requests"], 2);
    let (status, text) = request(server.addr, "GET", "/metrics", None).unwrap();
    assert_eq!(status, 200);
    assert!(
        text.contains(r#"funkd_http_requests_total{endpoint="predict",status="200"} 2"#),
        "{text}"
    );
    assert!(text.contains("funkd_http_request_duration_seconds_bucket"));
    assert!(text.contains("funkd_model_age_seconds"));
}

#[test]
fn bad_requests_get_json_errors_with_the_right_status() {
    let t = trained(2);
    let server = Server::start(&t.dir, &["--max-body-bytes", "2000"]);
    let data = RatingFile::open(&t.data).unwrap();
    let user = data.user_id(0).to_string();
    let item = data.item_id(0).to_string();
    let cases: Vec<(&str, String, Option<String>, u16)> = vec![
        ("GET", "/v1/predict?user=1".into(), None, 400),
        ("GET", "/v1/predict".into(), None, 400),
        ("GET", "/v1/predict?user=1&item=2&bogus=3".into(), None, 400),
        ("GET", "/v1/predict?user=1&user=2&item=1".into(), None, 400),
        ("GET", format!("/v1/recommend?user={user}&n=0"), None, 400),
        (
            "GET",
            format!("/v1/recommend?user={user}&n=1000000000"),
            None,
            400,
        ),
        ("GET", format!("/v1/recommend?user={user}&n=ten"), None, 400),
        ("GET", "/v1/recommend?user=no-such-user".into(), None, 404),
        ("GET", "/v1/similar?item=no-such-item".into(), None, 404),
        ("GET", format!("/v1/similar?item={item}&n=0"), None, 400),
        ("POST", "/v1/fold-in".into(), Some("{not json".into()), 400),
        (
            "POST",
            "/v1/fold-in".into(),
            Some(r#"{"ratings":[]}"#.into()),
            400,
        ),
        (
            "POST",
            "/v1/fold-in".into(),
            Some(r#"{"ratings":[{"item":"no-such-item","rating":3}]}"#.into()),
            404,
        ),
        ("POST", "/v1/fold-in".into(), Some("x".repeat(5000)), 413),
        ("GET", "/v1/fold-in".into(), None, 405),
        ("POST", "/v1/predict".into(), Some("{}".into()), 405),
        ("GET", "/v2/predict".into(), None, 404),
    ];
    for (method, path, body, want) in cases {
        let (status, text) = request(
            server.addr,
            method,
            &path,
            body.as_deref().map(str::as_bytes),
        )
        .unwrap();
        assert_eq!(status, want, "{method} {path}: {text}");
        let value: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {path}: {text:?}"));
        assert!(
            value["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{method} {path}: {text}"
        );
    }
    // An oversized body sent without a Content-Length (chunked) is cut off too.
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST /v1/fold-in HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .unwrap();
    let chunk = "y".repeat(1000);
    for _ in 0..5 {
        let _ = write!(s, "{:x}\r\n{chunk}\r\n", chunk.len());
    }
    let _ = write!(s, "0\r\n\r\n");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let (status, _) = parse_response(&raw).unwrap();
    assert_eq!(status, 413);
    // Still serving.
    assert_eq!(server.ok("/healthz")["status"], "ok");
}

#[test]
fn stalled_clients_time_out_and_a_flood_is_refused_quickly() {
    let t = trained(2);
    let server = Server::start(
        &t.dir,
        &["--max-connections", "3", "--header-timeout-ms", "1500"],
    );
    // Three connections that never finish their headers (one sends
    // nothing at all) hold every slot.
    let mut stalled: Vec<TcpStream> = (0..3)
        .map(|c| {
            let mut s = TcpStream::connect(server.addr).unwrap();
            if c > 0 {
                s.write_all(b"GET /v1/predict?user=1&item=1 HTTP/1.1\r\nHost: t\r\n")
                    .unwrap();
            }
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    // The fourth is answered 503 at once, not queued.
    let asked = Instant::now();
    let (status, text) = request(server.addr, "GET", "/healthz", None).unwrap();
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("too many connections"));
    assert!(asked.elapsed() < Duration::from_secs(1));
    // The stalled ones are disconnected after the header timeout.
    for s in &mut stalled {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = Vec::new();
        let started = Instant::now();
        let _ = s.read_to_end(&mut buf);
        assert!(
            started.elapsed() < Duration::from_secs(9),
            "a stalled client was not cut off"
        );
    }
    // Their slots are free again.
    wait_until("a free slot", Duration::from_secs(10), || {
        request(server.addr, "GET", "/healthz", None).is_ok_and(|(s, _)| s == 200)
    });
    let st = server.ok("/v1/status");
    assert!(st["refused_connections"].as_u64().unwrap() >= 1);
}

#[test]
fn clients_that_hang_up_mid_request_do_no_harm() {
    let t = trained(2);
    let server = Server::start(&t.dir, &[]);
    let data = RatingFile::open(&t.data).unwrap();
    let path = format!("/v1/recommend?user={}&n=50", data.user_id(1));
    for _ in 0..50 {
        let mut s = TcpStream::connect(server.addr).unwrap();
        let _ = write!(s, "GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");
        drop(s);
    }
    // Half a body, then gone.
    for _ in 0..20 {
        let mut s = TcpStream::connect(server.addr).unwrap();
        let _ = write!(
            s,
            "POST /v1/fold-in HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{{\"ratings\""
        );
        drop(s);
    }
    let r = server.ok(&path);
    assert_eq!(r["items"].as_array().unwrap().len(), 50);
}

#[test]
fn a_new_checkpoint_is_swapped_in_under_load_without_a_failed_request() {
    let t = trained(2);
    let server = Server::start(&t.dir, &["--poll-ms", "100"]);
    let data = RatingFile::open(&t.data).unwrap();
    let predict = format!(
        "/v1/predict?user={}&item={}",
        data.user_id(5),
        data.item_id(5)
    );
    let recommend = format!("/v1/recommend?user={}&n=10", data.user_id(5));
    let before = server.ok(&predict)["prediction"].as_f64().unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..3)
        .map(|c| {
            let (stop, done, addr) = (Arc::clone(&stop), Arc::clone(&done), server.addr);
            let path = if c == 0 {
                recommend.clone()
            } else {
                predict.clone()
            };
            std::thread::spawn(move || {
                let mut failures = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    match request(addr, "GET", &path, None) {
                        Ok((200, _)) => {}
                        other => failures.push(format!("{other:?}")),
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
                failures
            })
        })
        .collect();
    // A train resumes in the same directory (the normal case: serve only
    // reads it) and publishes epochs 3 to 5; serve names it as the writer.
    let mut writer = funkd(train_args(
        &t.data,
        &t.dir,
        5,
        &["--stratum-delay-ms", "150"],
    ))
    .spawn()
    .unwrap();
    let pid = writer.id();
    wait_until("the writer in /v1/status", Duration::from_secs(60), || {
        let st = server.ok("/v1/status");
        st["writer"]["pid"] == pid && st["writer"]["active"] != false
    });
    let ended = writer.wait().unwrap();
    assert!(ended.success());
    wait_until("epoch 5 served", Duration::from_secs(30), || {
        server.ok("/healthz")["epoch"] == 5
    });
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let failures: Vec<String> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert!(failures.is_empty(), "failed requests: {failures:?}");
    assert!(done.load(Ordering::Relaxed) > 50);
    let after = server.ok(&predict)["prediction"].as_f64().unwrap();
    assert_ne!(
        before, after,
        "the prediction did not change with the model"
    );
    let log = server.log();
    assert!(log.contains("ckpt-000005-00000.funkckpt (epoch 5"), "{log}");
    let st = server.ok("/v1/status");
    assert_eq!(st["writer"]["active"], false);
}

#[test]
fn a_damaged_checkpoint_is_refused_and_the_old_model_keeps_serving() {
    let t = trained(2);
    let server = Server::start(&t.dir, &["--poll-ms", "100"]);
    let data = RatingFile::open(&t.data).unwrap();
    let predict = format!(
        "/v1/predict?user={}&item={}",
        data.user_id(2),
        data.item_id(2)
    );
    let before = server.ok(&predict);
    // A checkpoint with one byte flipped (checksum) and one cut short.
    let good = std::fs::read(t.dir.join("ckpt-000002-00000.funkckpt")).unwrap();
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    std::fs::write(t.dir.join("ckpt-000007-00000.funkckpt"), &flipped).unwrap();
    std::fs::write(
        t.dir.join("ckpt-000008-00000.funkckpt"),
        &good[..good.len() / 3],
    )
    .unwrap();
    wait_until("the refusal logged", Duration::from_secs(20), || {
        server.log().contains("refusing checkpoint")
    });
    let (status, answer) = server.post("/v1/reload", "");
    assert_eq!(status, 500, "{answer}");
    assert_eq!(answer["outcome"], "refused");
    assert!(answer["error"].as_str().unwrap().contains("ckpt-000008"));
    assert_eq!(server.ok(&predict), before);
    assert_eq!(server.ok("/healthz")["epoch"], 2);
    let st = server.ok("/v1/status");
    assert!(st["last_refused"]["checkpoint"]
        .as_str()
        .unwrap()
        .contains("ckpt-00000"));
    let log = server.log();
    assert!(log.contains("ckpt-000007-00000.funkckpt"), "{log}");
    assert!(log.contains("ckpt-000008-00000.funkckpt"), "{log}");
    assert!(log.contains("still serving"), "{log}");
    // Polling does not retry an unchanged refused file (one line each).
    std::thread::sleep(Duration::from_millis(500));
    let refusals = server.log().matches("refusing checkpoint").count();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        server.log().matches("refusing checkpoint").count(),
        refusals
    );
}

#[test]
fn sighup_reloads_and_sigterm_stops_cleanly() {
    let t = trained(2);
    let server = Server::start(&t.dir, &["--poll-ms", "0"]);
    train(&t.data, &t.dir, 3, &[]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.ok("/healthz")["epoch"], 2, "polling is off");
    let pid = server.child.id().to_string();
    let kill = |sig: &str| {
        assert!(std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success())
    };
    kill("-HUP");
    wait_until("epoch 3 after SIGHUP", Duration::from_secs(20), || {
        server.ok("/healthz")["epoch"] == 3
    });
    kill("-TERM");
    let mut server = server;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
}

#[test]
fn serve_explains_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = funkd(["serve", "--dir", tmp.path().join("nope").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such directory"));
    let out = funkd(["serve", "--dir", tmp.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no usable checkpoint"), "{err}");
}
