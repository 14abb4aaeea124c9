//! Queries keep the CPU: a training round's threads (the round's own and
//! the training threads it starts) run in the idle scheduling class by
//! default, or niced with `--background-priority nice:N`, while the request
//! threads stay at normal priority. Read from the live process's
//! `/proc/PID/task/TID/stat` (Linux).
#![cfg(target_os = "linux")]

mod serve_support;

use std::time::Duration;

use funkd::ratingfile::RatingFile;
use serde_json::{json, Value};
use serve_support::{trained, wait_until, Server};

/// `SCHED_IDLE` in the policy field of `/proc/.../stat`.
const SCHED_IDLE: u32 = 5;

/// A thread's name, scheduling policy and nice value.
#[derive(Debug, Clone)]
struct Sched {
    name: String,
    policy: u32,
    nice: i32,
}

/// Every thread of process `pid`.
fn threads(pid: u32) -> Vec<Sched> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        // A thread that ended since the listing is skipped.
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_string();
        // Fields from the third on (state); nice is the 19th, policy the 41st.
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        out.push(Sched {
            name,
            nice: fields[16].parse().unwrap(),
            policy: fields[38].parse().unwrap(),
        });
    }
    out
}

/// Starts a slowed-down round with `extra` flags and returns the threads
/// seen while it trained (at least two of them the round's).
fn threads_while_training(extra: &[&str]) -> Vec<Sched> {
    let t = trained(3);
    let data = RatingFile::open(&t.data).unwrap();
    let mut args = vec![
        "--intake",
        "--no-auto-rounds",
        "--round-threads",
        "2",
        "--round-epochs",
        "3",
        "--round-step-delay-ms",
        "100",
    ];
    args.extend_from_slice(extra);
    let server = Server::start(&t.dir, &args);
    let batch: Vec<Value> = (0..6)
        .map(|i| json!({"user": "newcomer", "item": data.item_id(i), "rating": 4}))
        .collect();
    assert_eq!(
        server
            .post("/v1/ratings", &Value::Array(batch).to_string())
            .0,
        200
    );
    assert_eq!(server.post("/v1/train", "").0, 202);
    let pid = server.child.id();
    let mut seen = Vec::new();
    wait_until(
        "the round's training threads",
        Duration::from_secs(60),
        || {
            let now = threads(pid);
            let round = now.iter().filter(|t| t.name.starts_with("funkd-round"));
            if round.count() >= 2 {
                seen = now;
            }
            !seen.is_empty()
        },
    );
    // The round still publishes.
    wait_until("the round's publish", Duration::from_secs(60), || {
        server.ok("/v1/status")["rounds"]["generation"] == 1
    });
    seen
}

fn check_request_threads_are_normal(seen: &[Sched]) {
    let serving: Vec<&Sched> = seen
        .iter()
        .filter(|t| t.name.starts_with("funkd-serve"))
        .collect();
    assert!(!serving.is_empty(), "no request threads in {seen:?}");
    for t in serving {
        assert_eq!((t.policy, t.nice), (0, 0), "a request thread: {t:?}");
    }
}

#[test]
fn a_rounds_threads_run_in_the_idle_class_and_request_threads_do_not() {
    let seen = threads_while_training(&[]);
    for t in seen.iter().filter(|t| t.name.starts_with("funkd-round")) {
        // The watcher only sleeps and asks for rounds: it was started
        // before any round and keeps normal priority.
        if t.name == "funkd-round-wat" {
            continue;
        }
        assert_eq!(t.policy, SCHED_IDLE, "a round thread: {t:?} of {seen:?}");
    }
    check_request_threads_are_normal(&seen);
}

#[test]
fn background_priority_nice_lowers_a_rounds_threads_by_that_much() {
    let seen = threads_while_training(&["--background-priority", "nice:5"]);
    for t in seen.iter().filter(|t| t.name.starts_with("funkd-round")) {
        assert_eq!(
            (t.policy, t.nice),
            (0, 5),
            "a round thread: {t:?} of {seen:?}"
        );
    }
    check_request_threads_are_normal(&seen);
}

#[test]
fn a_bad_background_priority_is_a_usage_error_that_says_what_is_accepted() {
    let t = trained(1);
    let out = serve_support::funkd([
        "serve",
        "--dir",
        t.dir.to_str().unwrap(),
        "--background-priority",
        "nice:25",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1..=19"), "{stderr}");
}
