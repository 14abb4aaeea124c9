//! Queries keep the CPU: the training round's thread runs in the idle
//! scheduling class by default, or niced with `--background-priority
//! nice:N`, while the request threads stay at normal priority (the threads
//! a round starts inherit the round thread's class: the unit tests of
//! `serve::priority`). Read from the live process's
//! `/proc/PID/task/TID/stat` (Linux).
#![cfg(target_os = "linux")]

mod serve_support;

use std::time::Duration;

use serve_support::{trained, Server};

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

/// The threads of a service started with `extra` flags, once its round
/// thread has entered the class `entered` looks for. The thread is named
/// before it changes its own class, so a look in between sees it in the
/// class it was started in: wait for the change (a thread that never makes
/// it fails the wait, after 30 s, with what was seen).
fn threads_once_the_round_thread(extra: &[&str], entered: impl Fn(&Sched) -> bool) -> Vec<Sched> {
    let t = trained(3);
    let mut args = vec!["--intake", "--no-auto-rounds"];
    args.extend_from_slice(extra);
    let server = Server::start(&t.dir, &args);
    let pid = server.child.id();
    let start = std::time::Instant::now();
    loop {
        let seen = threads(pid);
        // The request threads may start after the round thread: wait for
        // them too, so that the check of their class has threads to check.
        if seen.iter().any(|t| t.name == "funkd-round" && entered(t))
            && seen.iter().any(|t| t.name.starts_with("funkd-serve"))
        {
            return seen;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the round thread never entered its class, or no request thread started, in 30 s: {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
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
fn the_round_thread_is_in_the_idle_class_and_request_threads_are_not() {
    // The round thread enters its class when it starts, before any round,
    // and the threads a round starts inherit it (the unit tests of
    // `serve::priority`). Not waited for a round here: on a host busy with
    // other work an idle-class round may take long, which is the point.
    let seen = threads_once_the_round_thread(&[], |t| t.policy == SCHED_IDLE);
    for t in seen.iter().filter(|t| t.name == "funkd-round") {
        assert_eq!(t.policy, SCHED_IDLE, "the round thread: {t:?} of {seen:?}");
    }
    check_request_threads_are_normal(&seen);
}

#[test]
fn background_priority_nice_lowers_the_round_thread_by_that_much() {
    let seen = threads_once_the_round_thread(&["--background-priority", "nice:5"], |t| {
        (t.policy, t.nice) == (0, 5)
    });
    for t in seen.iter().filter(|t| t.name == "funkd-round") {
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
