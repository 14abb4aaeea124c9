//! The service's training rounds against the real binary: a round
//! publishes a model trained on the ratings taken in, the same round gives
//! the same bits for any thread count, `kill -9` at any step of intake,
//! compaction, training and publishing loses no acknowledged rating and
//! counts none twice, and a failed log write is answered 503.
//!
//! The services here run their rounds at normal priority
//! (`--background-priority normal`): these tests are about what a round
//! does, and on a test host kept busy by the ingest clients an idle-class
//! round would only take longer. `serve_priority.rs` tests the default.

mod serve_support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use funkd::ratingfile::RatingFile;
use funkd::serve::manifest::{resolved, Manifest};
use serde_json::{json, Value};
use serve_support::{request, trained, wait_until, Server};

/// The published model's rating file: (user, item) → every train value.
fn published_train(dir: &Path) -> (Manifest, HashMap<(String, String), Vec<f32>>) {
    let manifest = Manifest::read(dir).unwrap().expect("a round was published");
    let data = RatingFile::open(&resolved(dir, &manifest.data)).unwrap();
    let set = data.to_rating_set();
    let mut pairs: HashMap<(String, String), Vec<f32>> = HashMap::new();
    for t in &set.train {
        pairs
            .entry((
                set.user_ids[t.user as usize].clone(),
                set.item_ids[t.item as usize].clone(),
            ))
            .or_default()
            .push(t.value);
    }
    (manifest, pairs)
}

fn post_train(server: &Server) -> (u16, Value) {
    server.post("/v1/train", "")
}

/// A service taking ratings, with rounds only on request.
const INTAKE: &[&str] = &[
    "--intake",
    "--no-auto-rounds",
    "--background-priority",
    "normal",
];

fn generation(server: &Server) -> u64 {
    server.ok("/v1/status")["rounds"]["generation"]
        .as_u64()
        .unwrap()
}

#[test]
fn a_round_publishes_a_model_of_the_new_ratings_and_frees_what_it_replaces() {
    let t = trained(3);
    let data = RatingFile::open(&t.data).unwrap();
    let server = Server::start(
        &t.dir,
        &[
            "--intake",
            "--background-priority",
            "normal",
            "--no-auto-rounds",
            "--round-epochs",
            "3",
            "--round-step-delay-ms",
            "150",
        ],
    );
    let known_items: Vec<String> = (0..6).map(|i| data.item_id(i).to_string()).collect();
    let mut batch: Vec<Value> = known_items
        .iter()
        .map(|i| json!({"user": "newcomer", "item": i, "rating": 4}))
        .collect();
    batch.push(json!({"user": "newcomer", "item": "new-item", "rating": 5}));
    batch.push(json!({"user": data.user_id(0), "item": "new-item", "rating": 2}));
    assert_eq!(
        server
            .post("/v1/ratings", &Value::Array(batch).to_string())
            .0,
        200
    );
    assert_eq!(
        server.get("/v1/similar?item=new-item").0,
        404,
        "not trained yet"
    );
    let status = server.ok("/v1/status");
    assert_eq!(status["rounds"]["generation"], 0);
    assert_eq!(status["intake"]["ratings"], 8);

    let (code, answer) = post_train(&server);
    assert_eq!(code, 202, "{answer}");
    assert_eq!(answer["round"], 1);
    let (code, answer) = post_train(&server);
    assert_eq!(code, 409, "one round at a time: {answer}");
    // While it trains, the status shows its step, epoch and RMSE.
    let mut seen_training = Value::Null;
    wait_until("the round's training", Duration::from_secs(60), || {
        let running = server.ok("/v1/status")["rounds"]["running"].clone();
        if running["step"] == "training" && running["epoch"].as_u64().is_some_and(|e| e >= 1) {
            seen_training = running;
        }
        !seen_training.is_null()
    });
    assert_eq!(seen_training["epochs"], 3, "{seen_training}");
    assert!(
        seen_training["train_rmse"].as_f64().unwrap() > 0.0,
        "{seen_training}"
    );
    let metrics = serve_support::request(server.addr, "GET", "/metrics", None)
        .unwrap()
        .1;
    assert!(
        metrics.contains("funkd_training_round_running 1"),
        "{metrics}"
    );
    wait_until("the publish", Duration::from_secs(60), || {
        generation(&server) == 1
    });
    wait_until("the round's end", Duration::from_secs(30), || {
        server.ok("/v1/status")["rounds"]["running"].is_null()
    });

    let status = server.ok("/v1/status");
    assert_eq!(
        status["intake"]["ratings"], 0,
        "every rating is in the model now"
    );
    assert_eq!(status["rounds"]["rounds_published"], 1);
    assert_eq!(status["model"]["users"], data.users() + 1);
    assert_eq!(status["model"]["items"], data.items() + 1);
    assert!(status["rounds"]["seconds_since_publish"].as_f64().unwrap() < 60.0);
    // The new item and user are the model's own now.
    assert_eq!(server.get("/v1/similar?item=new-item").0, 200);
    let p = server.ok("/v1/predict?user=newcomer&item=new-item");
    assert_eq!(p["source"], "model", "{p}");
    let metrics = serve_support::request(server.addr, "GET", "/metrics", None)
        .unwrap()
        .1;
    for line in [
        "funkd_model_generation 1",
        "funkd_training_round_running 0",
        "funkd_ingest_pending_ratings 0",
        r#"funkd_training_rounds_total{outcome="published"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    // The applied segment is gone; intake goes on in the next one.
    let names: Vec<String> = std::fs::read_dir(&t.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("ingest-"))
        .collect();
    assert_eq!(names, ["ingest-00000002.log"]);
    let (manifest, pairs) = published_train(&t.dir);
    assert_eq!(manifest.applied_through, 1);
    assert_eq!(
        pairs[&("newcomer".to_string(), "new-item".to_string())],
        [5.0]
    );

    // A second round replaces the first one's files.
    let body = json!([{"user": "second", "item": "new-item", "rating": 3}]);
    assert_eq!(server.post("/v1/ratings", &body.to_string()).0, 200);
    assert_eq!(post_train(&server).0, 202);
    wait_until("the second publish", Duration::from_secs(60), || {
        generation(&server) == 2
    });
    wait_until("the second round's end", Duration::from_secs(30), || {
        !t.dir.join("rounds/round-000001").exists()
    });
    assert!(t.dir.join("rounds/round-000002/data.funk").is_file());
    drop(server);
    // A restart serves the published model.
    let server = Server::start(&t.dir, INTAKE);
    assert_eq!(
        server.ok("/v1/predict?user=second&item=new-item")["source"],
        "model"
    );
    assert_eq!(generation(&server), 2);
}

/// The parameters of a checkpoint, as bits.
fn model_bits(checkpoint: &Path) -> Vec<u32> {
    let loaded = funkd::checkpoint::load_model(checkpoint).unwrap();
    let m = &loaded.model;
    m.user_factors
        .iter()
        .chain(&m.item_factors)
        .chain(&m.user_bias)
        .chain(&m.item_bias)
        .map(|x| x.to_bits())
        .collect()
}

#[test]
fn the_same_round_gives_the_same_bits_on_one_thread_or_two() {
    let t = trained(3);
    let server = Server::start(&t.dir, INTAKE);
    let body: Vec<Value> = (0..40)
        .map(|n| json!({"user": format!("d{}", n % 7), "item": format!("{}", n % 13 + 1), "rating": 1 + n % 5}))
        .collect();
    assert_eq!(
        server
            .post("/v1/ratings", &Value::Array(body).to_string())
            .0,
        200
    );
    drop(server);
    let copy = |to: &str| -> PathBuf {
        let dest = t.tmp.path().join(to);
        std::fs::create_dir_all(&dest).unwrap();
        for e in std::fs::read_dir(&t.dir).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_file() {
                std::fs::copy(e.path(), dest.join(e.file_name())).unwrap();
            }
        }
        dest
    };
    let mut published = Vec::new();
    for (name, threads) in [("one", "1"), ("two", "2")] {
        let dir = copy(name);
        let server = Server::start(
            &dir,
            &[
                "--intake",
                "--background-priority",
                "normal",
                "--no-auto-rounds",
                "--data",
                t.data.to_str().unwrap(),
                "--round-threads",
                threads,
            ],
        );
        assert_eq!(post_train(&server).0, 202);
        wait_until("the publish", Duration::from_secs(60), || {
            generation(&server) == 1
        });
        let manifest = Manifest::read(&dir).unwrap().unwrap();
        published.push((
            std::fs::read(resolved(&dir, &manifest.data)).unwrap(),
            model_bits(&resolved(&dir, &manifest.checkpoint)),
        ));
    }
    assert!(
        published[0].0 == published[1].0,
        "the compacted files differ"
    );
    assert!(
        published[0].1 == published[1].1,
        "the models differ in their bits"
    );
}

/// A client posting batches of ratings of users never seen before (so
/// each (user, item) pair is sent once), recording what was acknowledged.
struct Client {
    acked: Arc<Mutex<Vec<(String, String, f32)>>>,
    sent: Arc<Mutex<Vec<(String, String, f32)>>>,
}

impl Client {
    fn run(
        &self,
        addr: std::net::SocketAddr,
        tag: String,
        stop: Arc<AtomicBool>,
        items: Arc<Vec<String>>,
    ) -> std::thread::JoinHandle<()> {
        let (acked, sent) = (Arc::clone(&self.acked), Arc::clone(&self.sent));
        std::thread::spawn(move || {
            let mut n = 0usize;
            while !stop.load(Ordering::SeqCst) {
                let batch: Vec<(String, String, f32)> = (0..5)
                    .map(|k| {
                        let item = if k == 4 && n.is_multiple_of(3) {
                            format!("fresh-{tag}-{n}")
                        } else {
                            items[(n * 5 + k) % items.len()].clone()
                        };
                        (format!("{tag}-{n}"), item, 1.0 + ((n + k) % 5) as f32)
                    })
                    .collect();
                n += 1;
                let body: Vec<Value> = batch
                    .iter()
                    .map(|(u, i, r)| json!({"user": u, "item": i, "rating": r}))
                    .collect();
                sent.lock().unwrap().extend(batch.iter().cloned());
                match request(
                    addr,
                    "POST",
                    "/v1/ratings",
                    Some(Value::Array(body).to_string().as_bytes()),
                ) {
                    Ok((200, _)) => acked.lock().unwrap().extend(batch),
                    Ok((status, body)) => panic!("intake answered {status}: {body}"),
                    Err(_) => return, // the service was killed
                }
            }
        })
    }
}

#[test]
fn kill_9_at_any_step_of_a_round_loses_no_acknowledged_rating_and_counts_none_twice() {
    let t = trained(3);
    let data = RatingFile::open(&t.data).unwrap();
    let items = Arc::new(
        (0..data.items())
            .map(|i| data.item_id(i).to_string())
            .collect::<Vec<_>>(),
    );
    let base_train = data.train_count() as usize;
    let args = [
        "--intake",
        "--background-priority",
        "normal",
        "--round-after-ratings",
        "120",
        "--round-every",
        "0",
        "--round-epochs",
        "2",
        "--round-step-delay-ms",
        "100",
    ];
    let client = Client {
        acked: Arc::default(),
        sent: Arc::default(),
    };
    // Where each kill lands: at a random moment, or once the round is
    // seen at a step (after the plan is written; compacted; training;
    // about to commit; committed, before the old files are removed).
    let targets = [
        None,
        Some("planning"),
        Some("compacting"),
        Some("training"),
        Some("publishing"),
        Some("committed"),
    ];
    let mut hit = Vec::new();
    for round in 0..14 {
        let started = Instant::now();
        let mut server = Server::start(&t.dir, &args);
        let up = started.elapsed();
        assert!(up < Duration::from_secs(20), "serving again took {up:?}");
        assert_eq!(server.get("/healthz").0, 200);
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..3)
            .map(|c| {
                client.run(
                    server.addr,
                    format!("k{round}c{c}"),
                    Arc::clone(&stop),
                    Arc::clone(&items),
                )
            })
            .collect();
        let target = targets[round % targets.len()];
        let deadline = Instant::now() + Duration::from_secs(20);
        let landed = match target {
            None => {
                std::thread::sleep(Duration::from_millis(150 + 97 * (round as u64 % 7)));
                "random".to_string()
            }
            Some(step) => loop {
                let (code, status) = server.get("/v1/status");
                assert_eq!(code, 200);
                let running = &status["rounds"]["running"];
                let g = status["rounds"]["generation"].as_u64().unwrap();
                let at = match running["step"].as_str() {
                    Some("publishing") if running["generation"].as_u64() == Some(g) => "committed",
                    Some(s) => s,
                    None => "",
                };
                if at == step {
                    break step.to_string();
                }
                if Instant::now() > deadline {
                    break format!("{step} not seen");
                }
                std::thread::sleep(Duration::from_millis(5));
            },
        };
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        stop.store(true, Ordering::SeqCst);
        for w in workers {
            w.join().unwrap();
        }
        hit.push(landed);
    }
    eprintln!("kills landed at: {hit:?}");
    for step in ["planning", "compacting", "training", "publishing"] {
        assert!(
            hit.iter().any(|h| h == step),
            "no kill while {step}: {hit:?}"
        );
    }

    // Restart, let the resumed round finish, and train on what is left
    // (a round the thresholds start meanwhile is as good as one asked for).
    let server = Server::start(&t.dir, &args);
    wait_until(
        "every rating in a published model",
        Duration::from_secs(180),
        || {
            let status = server.ok("/v1/status");
            let idle = status["rounds"]["running"].is_null();
            let waiting = status["intake"]["ratings"].as_u64().unwrap();
            if idle && waiting > 0 {
                let _ = post_train(&server);
            }
            idle && waiting == 0
        },
    );
    assert_eq!(server.ok("/v1/status")["rounds"]["rounds_failed"], 0);
    let (_, pairs) = published_train(&t.dir);
    let acked = client.acked.lock().unwrap().clone();
    let sent: HashMap<(String, String), f32> = client
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|(u, i, r)| ((u.clone(), i.clone()), *r))
        .collect();
    assert!(
        acked.len() > 100,
        "only {} ratings acknowledged",
        acked.len()
    );
    for (u, i, r) in &acked {
        let key = (u.clone(), i.clone());
        assert_eq!(
            pairs.get(&key),
            Some(&vec![*r]),
            "acknowledged ({u}, {i}) must be in the data once"
        );
    }
    let mut new = 0;
    for (key, values) in &pairs {
        assert_eq!(
            values.len(),
            1,
            "{key:?} is in the data {} times",
            values.len()
        );
        if key.0.starts_with('k') {
            assert_eq!(sent.get(key), Some(&values[0]), "{key:?} was never sent");
            new += 1;
        }
    }
    assert_eq!(
        pairs.len(),
        base_train + new,
        "the old ratings are all kept"
    );
    let (u, i, _) = &acked[acked.len() / 2];
    assert_eq!(
        server.ok(&format!("/v1/predict?user={u}&item={i}"))["source"],
        "model"
    );
}

#[test]
fn a_log_write_that_fails_is_answered_503_and_takes_nothing() {
    use std::os::unix::process::CommandExt;
    let t = trained(2);
    // The service may not grow any file past 4 KiB (RLIMIT_FSIZE), and
    // ignores SIGXFSZ: a write past the limit fails with EFBIG, as a write
    // to a full disk fails with ENOSPC.
    let mut cmd = serve_support::funkd([
        "serve",
        "--dir",
        t.dir.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--intake",
        "--background-priority",
        "normal",
        "--no-auto-rounds",
    ]);
    // SAFETY: only async-signal-safe calls (signal, setrlimit) between
    // fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: 4096,
                rlim_max: 4096,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let server = Server::spawn(cmd);
    let small = json!([{"user": "s1", "item": "i", "rating": 3}]).to_string();
    assert_eq!(server.post("/v1/ratings", &small).0, 200);
    let big: Vec<Value> = (0..600)
        .map(|n| json!({"user": format!("big-{n}"), "item": "i", "rating": 2}))
        .collect();
    let (code, answer) = server.post("/v1/ratings", &Value::Array(big).to_string());
    assert_eq!(code, 503, "{answer}");
    let error = answer["error"].as_str().unwrap();
    assert!(
        error.contains("cannot write the ingest log") && error.contains("none of the batch"),
        "{error}"
    );
    let intake = server.ok("/v1/status")["intake"].clone();
    assert_eq!(intake["ratings"], 1, "{intake}");
    assert_eq!(intake["failed_writes"], 1, "{intake}");
    assert_eq!(
        server.get("/v1/predict?user=big-0&item=i").1["source"],
        "global_mean"
    );
    // The failed write was cut back: intake goes on.
    let again = json!([{"user": "s2", "item": "i", "rating": 4}]).to_string();
    assert_eq!(server.post("/v1/ratings", &again).0, 200);
    drop(server);
    let server = Server::start(&t.dir, INTAKE);
    let intake = server.ok("/v1/status")["intake"].clone();
    assert_eq!(
        intake["ratings"], 2,
        "exactly the acknowledged ratings: {intake}"
    );
    assert!(!server.log().contains("torn"), "{}", server.log());
}

#[test]
fn a_round_holds_out_a_validation_slice_stops_early_and_publishes_its_best_epoch() {
    let t = trained(3);
    // Many epochs allowed: early stopping, as in `funkd train`, ends it.
    let epochs = 150;
    let server = Server::start(
        &t.dir,
        &[
            "--intake",
            "--background-priority",
            "normal",
            "--no-auto-rounds",
            "--round-epochs",
            &epochs.to_string(),
        ],
    );
    let body: Vec<Value> = (0..60)
        .map(|n| json!({"user": format!("v{}", n % 9), "item": format!("{}", n % 17 + 1), "rating": 1 + n % 5}))
        .collect();
    assert_eq!(
        server
            .post("/v1/ratings", &Value::Array(body).to_string())
            .0,
        200
    );
    assert_eq!(post_train(&server).0, 202);
    wait_until("the publish", Duration::from_secs(120), || {
        generation(&server) == 1
    });
    let manifest = Manifest::read(&t.dir).unwrap().unwrap();
    let published = funkd::checkpoint::load_model(&resolved(&t.dir, &manifest.checkpoint)).unwrap();
    // `funkd train`'s defaults: 2% held out by original ids, patience 3.
    let s = &published.settings;
    assert_eq!(s.validation, 0.02);
    assert_eq!(s.early_stop, 3);
    assert_eq!(s.hold_out, funkd::checkpoint::HoldOut::OriginalIds);
    let history = &published.progress.validation_rmse;
    assert_eq!(history.len(), published.epoch as usize);
    assert!(history.iter().all(|x| x.is_finite()), "{history:?}");
    assert!(
        published.epoch < epochs,
        "stopped early: {} of {epochs} epochs ({history:?})",
        published.epoch
    );
    // The model delivered is the best validation epoch's, and the run
    // stopped the patience after it.
    let best = funkd::runstate::best_epoch(history).unwrap() as u32 + 1;
    assert_eq!(published.model_epoch, best, "{history:?}");
    assert_eq!(published.epoch, best + 3, "{history:?}");
    // The live model now is that best epoch's.
    let p = server.ok("/v1/predict?user=v1&item=2");
    assert_eq!(p["source"], "model", "{p}");
}
