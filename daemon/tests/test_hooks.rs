//! The timing hooks of the process tests are flags only in the tests'
//! build (the `test-hooks` feature), and never in `--help`.

mod train_support;

use train_support::funkd;

#[test]
fn the_tests_binary_takes_the_hooks_and_help_never_shows_them() {
    let help = funkd(["train", "--help"]).output().unwrap();
    let text = String::from_utf8(help.stdout).unwrap();
    assert!(text.contains("--checkpoint-dir"), "{text}");
    for hook in ["--stratum-delay-ms", "--checkpoint-pause-ms"] {
        assert!(!text.contains(hook), "{hook} in train --help:\n{text}");
    }
    let serve = funkd(["serve", "--help"]).output().unwrap();
    let text = String::from_utf8(serve.stdout).unwrap();
    assert!(!text.contains("--intake-gather-ms"), "{text}");

    // The hook is a known flag here: the run fails on the missing data
    // file, not on an unexpected argument (exit 2).
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("none.funk");
    let out = funkd([
        "train",
        "--data",
        missing.to_str().unwrap(),
        "--checkpoint-dir",
        tmp.path().join("run").to_str().unwrap(),
        "--stratum-delay-ms",
        "1",
    ])
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot open the rating file"), "{err}");
}
