//! Process-level tests of funkd as a service: SIGHUP checkpoints and goes
//! on, SIGUSR1 prints a status line, SIGINT stops cleanly, a second stop
//! signal exits at once, and status.json follows the run.

mod train_support;

use std::time::{Duration, Instant};

use train_support::*;

fn is_mid_epoch(path: &std::path::Path) -> bool {
    !path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .ends_with("-00000.funkckpt")
}

#[test]
fn sighup_checkpoints_now_and_training_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path(), 7);
    let dir = tmp.path().join("c");
    let mut child = spawn_train(
        &data,
        &dir,
        &[
            "--epochs",
            "3",
            "--stratum-delay-ms",
            "60",
            "--checkpoint-every-epochs",
            "0",
        ],
    );
    wait_until("training", Duration::from_secs(60), || {
        status(&dir).is_some_and(|s| s["state"] == "training")
    });
    std::thread::sleep(Duration::from_millis(100));
    signal(&child, "HUP");
    wait_until("the SIGHUP checkpoint", Duration::from_secs(30), || {
        checkpoints(&dir).iter().any(|p| is_mid_epoch(p))
    });
    let code = wait_exit(&mut child, Duration::from_secs(60));
    assert!(
        code.success(),
        "the run should go on to the end after SIGHUP"
    );
    let out = child.wait_with_output().unwrap();
    assert_eq!(summary(&out)["ending"], "finished");
    assert_eq!(summary(&out)["epochs"], 3);
}

#[test]
fn sigusr1_prints_a_status_line_and_sigint_stops_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path(), 7);
    let dir = tmp.path().join("c");
    let mut child = spawn_train(&data, &dir, &["--epochs", "50", "--stratum-delay-ms", "40"]);
    wait_until("training", Duration::from_secs(60), || {
        status(&dir).is_some_and(|s| s["state"] == "training")
    });
    signal(&child, "USR1");
    std::thread::sleep(Duration::from_millis(200));
    signal(&child, "INT");
    let code = wait_exit(&mut child, Duration::from_secs(30));
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert!(code.success(), "SIGINT should exit 0: {err}");
    assert!(
        err.contains("status: epoch"),
        "no status line on stderr: {err}"
    );
    assert_eq!(summary(&out)["ending"], "stopped");
    let st = status(&dir).unwrap();
    assert_eq!(st["state"], "stopped");
    assert!(!checkpoints(&dir).is_empty());
}

#[test]
fn a_second_stop_signal_exits_at_once_with_a_non_zero_status() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path(), 7);
    let dir = tmp.path().join("c");
    // Every checkpoint write pauses for 5 s, so the stop's checkpoint is slow.
    let mut child = spawn_train(
        &data,
        &dir,
        &[
            "--epochs",
            "50",
            "--stratum-delay-ms",
            "40",
            "--checkpoint-every-epochs",
            "0",
            "--checkpoint-pause-ms",
            "5000",
        ],
    );
    wait_until("training", Duration::from_secs(60), || {
        status(&dir).is_some_and(|s| s["state"] == "training")
    });
    signal(&child, "TERM");
    wait_until(
        "the stop checkpoint to start",
        Duration::from_secs(30),
        || big_temporary_exists(&dir, 4096),
    );
    let second = Instant::now();
    signal(&child, "TERM");
    let code = wait_exit(&mut child, Duration::from_secs(4));
    assert!(
        second.elapsed() < Duration::from_secs(3),
        "the second signal must not wait for the checkpoint"
    );
    assert!(!code.success(), "a forced exit must be non-zero");
}

#[test]
fn the_status_file_follows_the_run_and_is_always_whole_json() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path(), 7);
    let dir = tmp.path().join("c");
    let mut child = spawn_train(&data, &dir, &["--epochs", "3", "--stratum-delay-ms", "20"]);
    let mut seen_training = false;
    while child.try_wait().unwrap().is_none() {
        if let Ok(text) = std::fs::read_to_string(dir.join("status.json")) {
            let v: serde_json::Value =
                serde_json::from_str(&text).expect("status.json is always complete JSON");
            seen_training |= v["state"] == "training";
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(seen_training);
    let st = status(&dir).unwrap();
    assert_eq!(st["state"], "finished");
    assert_eq!(st["epoch"], 3);
    // The run of train.rs's summary test (same data, epochs, defaults).
    let test = st["test_rmse"].as_f64().unwrap();
    assert!((test - 0.902_737_43).abs() < 5e-7, "test RMSE {test}");
    assert!(st["checkpoint"]
        .as_str()
        .unwrap()
        .ends_with("ckpt-000003-00000.funkckpt"));
}
