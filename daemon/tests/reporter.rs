//! Training as a library call: what it tells its [`Reporter`], and that
//! the command line's reporter prints what `funkd train` always printed.

mod train_support;

use std::path::PathBuf;

use funkd::ratingfile::RatingFile;
use funkd::report::{Collecting, Event};
use funkd::train::{train, Ending, TrainConfig};
use train_support::*;

fn config(data: &RatingFile, epochs: u32) -> TrainConfig {
    let mut config = TrainConfig::defaults_for(data);
    config.epochs = epochs;
    config.threads = 2;
    config.validate().unwrap();
    config
}

#[test]
fn a_run_reports_its_start_every_epoch_and_its_end_to_the_reporter() {
    let tmp = tempfile::tempdir().unwrap();
    let data = RatingFile::open(&small_data(tmp.path(), 3)).unwrap();
    let dir = tmp.path().join("run");
    let reporter = Collecting::default();
    let summary = train(&data, &config(&data, 2), &dir, &reporter).unwrap();

    assert_eq!(summary.ending, Ending::Finished);
    let notes = reporter.notes();
    assert!(
        notes[0].starts_with(&format!("starting a new run in {}", dir.display())),
        "{notes:?}"
    );
    assert!(notes.iter().all(|n| !n.starts_with("funkd")), "{notes:?}");
    assert!(reporter.warnings().is_empty(), "{:?}", reporter.warnings());
    let events = reporter.events();
    let settings = events.iter().find_map(|e| match e {
        Event::Settings(table) => Some(table.clone()),
        _ => None,
    });
    assert!(settings.unwrap().contains("  factors"));
    let started = events
        .iter()
        .filter(
            |e| matches!(e, Event::EpochStarted { strata, .. } if *strata == data.grid() as u64),
        )
        .count();
    assert_eq!(started, 2);
    let strata = events
        .iter()
        .filter(|e| matches!(e, Event::StratumDone(rate) if *rate > 0.0))
        .count();
    assert_eq!(strata, 2 * data.grid());
    let epochs = reporter.epochs();
    assert_eq!(epochs.iter().map(|r| r.epoch).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(epochs[1].test_rmse, summary.test_rmse);
    assert_eq!(events.last(), Some(&Event::TrainingEnded));

    // Resumed further: a note says from where, and the epochs go on.
    let reporter = Collecting::default();
    let summary = train(&data, &config_more(&data, 3), &dir, &reporter).unwrap();
    assert_eq!(summary.resumed_from, Some((2, 0)));
    assert!(
        reporter.notes()[0].starts_with("resuming "),
        "{:?}",
        reporter.notes()
    );
    assert_eq!(
        reporter
            .epochs()
            .iter()
            .map(|r| r.epoch)
            .collect::<Vec<_>>(),
        [3]
    );
}

/// `config` with `--epochs` given explicitly (a resumed run may extend its target).
fn config_more(data: &RatingFile, epochs: u32) -> TrainConfig {
    let mut config = config(data, epochs);
    config.explicit.insert("epochs");
    config
}

/// A run of two epochs with a checkpoint after each, in `tmp/run`, whose
/// newest checkpoint is then damaged: (data, config, run, damaged file).
fn run_with_a_corrupt_newest_checkpoint(
    tmp: &std::path::Path,
) -> (RatingFile, TrainConfig, PathBuf, PathBuf) {
    let data = RatingFile::open(&small_data(tmp, 4)).unwrap();
    let dir = tmp.join("run");
    let mut c = config(&data, 2);
    c.checkpoint_every_epochs = 1;
    train(&data, &c, &dir, &Collecting::default()).unwrap();
    let newest = final_checkpoint_path(&dir);
    let mut bytes = std::fs::read(&newest).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&newest, bytes).unwrap();
    (data, c, dir, newest)
}

#[test]
fn a_corrupt_checkpoint_is_a_warning_not_a_printed_line() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, c, dir, _) = run_with_a_corrupt_newest_checkpoint(tmp.path());

    let reporter = Collecting::default();
    train(&data, &c, &dir, &reporter).unwrap();
    let warnings = reporter.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("falling back to"), "{warnings:?}");
    assert!(!warnings[0].starts_with("funkd"), "{warnings:?}");
}

/// The newest checkpoint file in `dir`.
fn final_checkpoint_path(dir: &std::path::Path) -> std::path::PathBuf {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "funkckpt"))
        .collect();
    files.sort();
    files.pop().expect("a checkpoint")
}

#[test]
fn the_command_line_prints_notes_epochs_and_settings_unless_quiet() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path(), 5);
    let dir = tmp.path().join("run");
    let d = data.display().to_string();
    let c = dir.display().to_string();
    let args = [
        "train",
        "--data",
        &d,
        "--checkpoint-dir",
        &c,
        "--epochs",
        "2",
    ];
    let out = funkd(args).output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines[0],
        format!("funkd: starting a new run in {c}"),
        "{err}"
    );
    assert!(
        lines[1].starts_with("funkd: ") && lines[1].contains(" users × "),
        "{err}"
    );
    assert!(lines.iter().any(|l| l.starts_with("  factors ")), "{err}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("epoch   1/2  train rmse ")),
        "{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("epoch   2/2  train rmse ")),
        "{err}"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with("training finished: 2 of 2 epochs\n"),
        "{stdout}"
    );

    let quiet = funkd([
        "train",
        "--data",
        &d,
        "--checkpoint-dir",
        &c,
        "--epochs",
        "3",
        "-q",
    ])
    .output()
    .unwrap();
    assert!(quiet.status.success());
    assert_eq!(String::from_utf8_lossy(&quiet.stderr), "");
}

#[test]
fn loading_a_model_past_a_corrupt_checkpoint_warns_the_reporter() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, _, dir, newest) = run_with_a_corrupt_newest_checkpoint(tmp.path());

    let plain = funkd::checkpoint::load_model(&dir).unwrap();
    assert_eq!(plain.epoch, 1);
    assert_eq!(plain.skipped.len(), 1);
    assert_eq!(plain.skipped[0].0, newest);

    let reporter = Collecting::default();
    let loaded = funkd::trained::load_checked_model(&dir, &reporter).unwrap();
    assert_eq!(loaded.path, plain.path);
    let warnings = reporter.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with(&format!(
            "skipping unreadable checkpoint {}: ",
            newest.display()
        )) && warnings[0].contains("corrupt"),
        "{warnings:?}"
    );

    let file = funkd::checkpoint::load_model(&plain.path).unwrap();
    assert!(file.skipped.is_empty());
}
