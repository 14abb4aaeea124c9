//! One writer per checkpoint directory: a second `funkd train` on a
//! directory in use exits 2 at once naming the holder's pid, and a writer
//! killed with SIGKILL leaves no stale lock.

mod train_support;

use std::time::{Duration, Instant};

use train_support::*;

#[test]
fn a_second_train_on_the_same_directory_exits_2_naming_the_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path(), 3);
    let dir = tmp.path().join("c");
    let mut first = spawn_train(&data, &dir, &["--epochs", "50", "--stratum-delay-ms", "40"]);
    wait_until("training", Duration::from_secs(60), || {
        status(&dir).is_some_and(|s| s["state"] == "training")
    });
    let started = Instant::now();
    let second = train(&data, &dir, &["--epochs", "50"]);
    assert_eq!(second.status.code(), Some(2), "{}", stderr(&second));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the second writer waited"
    );
    let err = stderr(&second);
    assert!(err.contains(&format!("pid {}", first.id())), "{err}");
    assert!(err.contains("in use"), "{err}");
    // The first run was not disturbed.
    assert!(first.try_wait().unwrap().is_none());
    signal(&first, "INT");
    assert!(wait_exit(&mut first, Duration::from_secs(30)).success());
}

#[test]
fn a_writer_killed_with_sigkill_leaves_no_stale_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path(), 4);
    let dir = tmp.path().join("c");
    let mut first = spawn_train(&data, &dir, &["--epochs", "50", "--stratum-delay-ms", "40"]);
    wait_until("training", Duration::from_secs(60), || {
        status(&dir).is_some_and(|s| s["state"] == "training")
    });
    signal(&first, "KILL");
    wait_exit(&mut first, Duration::from_secs(30));
    // The lock file is still there, naming the dead process, but the lock
    // went with it: the next run takes the directory and trains.
    let recorded = std::fs::read_to_string(dir.join("funkd.lock")).unwrap();
    assert_eq!(recorded.trim(), first.id().to_string());
    let mut second = spawn_train(&data, &dir, &["--epochs", "50", "--stratum-delay-ms", "40"]);
    let pid = second.id();
    wait_until("the second run training", Duration::from_secs(60), || {
        status(&dir).is_some_and(|s| s["state"] == "training" && s["pid"] == pid)
    });
    signal(&second, "INT");
    assert!(wait_exit(&mut second, Duration::from_secs(30)).success());
}
