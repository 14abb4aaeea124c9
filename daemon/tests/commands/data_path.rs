//! The model commands without `--data`: they use the data file that
//! `funkd train` recorded in the checkpoint directory's `status.json`, give
//! the same output as with `--data`, ask for `--data` when nothing usable
//! is recorded, and still refuse a data file that is not the one trained
//! on.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::fixture::{fails, funkd, json, ok, sparse, Fixture};

/// The `"data"` field of the fixture's status.json.
fn recorded(f: &Fixture) -> Value {
    let text = std::fs::read_to_string(f.model.join("status.json")).unwrap();
    let status: Value = serde_json::from_str(&text).unwrap();
    status["data"].clone()
}

/// `args` with `--data FILE` appended.
fn with_data<'a>(args: &[&'a str], data: &'a str) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.extend(["--data", data]);
    all
}

/// A JSON report without the fields that differ from run to run or name
/// the data file by the path it was opened through.
fn comparable(mut report: Value) -> Value {
    if let Some(fields) = report.as_object_mut() {
        for field in [
            "check_seconds",
            "pack_seconds",
            "lookup_seconds",
            "score_seconds",
            "data",
        ] {
            fields.remove(field);
        }
    }
    report
}

fn same_file(a: &Path, b: &Path) -> bool {
    std::fs::canonicalize(a).unwrap() == std::fs::canonicalize(b).unwrap()
}

/// Every file of an export directory, `model.json` parsed and without its
/// data path.
fn export_contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            let mut bytes = std::fs::read(e.path()).unwrap();
            if name == "model.json" {
                let description: Value = serde_json::from_slice(&bytes).unwrap();
                bytes = comparable(description).to_string().into_bytes();
            }
            (name, bytes)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn train_records_the_data_file_as_an_absolute_path() {
    let f = sparse(false, 71);
    let data = recorded(&f);
    let path = PathBuf::from(data.as_str().expect("status.json names the data file"));
    assert!(path.is_absolute(), "{path:?}");
    assert!(same_file(&path, &f.data));

    // A relative --data is recorded absolute, so the model commands find
    // it from anywhere.
    let out = Command::new(env!("CARGO_BIN_EXE_funkd"))
        .current_dir(f.dir.path())
        .args([
            "train",
            "--data",
            "data.funk",
            "--checkpoint-dir",
            "relative-run",
            "--factors",
            "4",
            "--epochs",
            "2",
            "--quiet",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = f.path("relative-run");
    let text = std::fs::read_to_string(run.join("status.json")).unwrap();
    let status: Value = serde_json::from_str(&text).unwrap();
    let path = PathBuf::from(status["data"].as_str().unwrap());
    assert!(path.is_absolute(), "{path:?}");
    assert!(same_file(&path, &f.data));
    let file = f.open();
    let top = json(&[
        "recommend",
        "--model",
        run.to_str().unwrap(),
        "--user",
        file.user_id(0),
    ]);
    assert_eq!(top["items"].as_array().unwrap().len(), 10);
}

#[test]
fn eval_predict_and_recommend_without_data_match_the_output_with_it() {
    let f = sparse(false, 72);
    let file = f.open();
    let (user, item) = (file.user_id(3).to_owned(), file.item_id(7).to_owned());
    let model = f.model_arg();
    let commands: Vec<Vec<&str>> = vec![
        vec!["eval", "--model", model, "--train", "--threads", "2"],
        vec![
            "predict", "--model", model, "--user", &user, "--item", &item,
        ],
        vec![
            "predict",
            "--model",
            model,
            "--user",
            "no-such-user",
            "--item",
            &item,
        ],
        vec![
            "recommend",
            "--model",
            model,
            "--user",
            &user,
            "--top",
            "12",
        ],
    ];
    for args in &commands {
        let without = json(args);
        let with = json(&with_data(args, f.data_arg()));
        assert_eq!(comparable(without.clone()), comparable(with), "{args:?}");
        if let Some(data) = without["data"].as_str() {
            assert!(same_file(Path::new(data), &f.data), "{args:?}: {data}");
        }
    }
    // The text output too (eval's names the data file; compare the numbers).
    let text = ok(&["eval", "--model", model]);
    let text_with = ok(&["eval", "--model", model, "--data", f.data_arg()]);
    let numbers = |t: &str| t.lines().skip(1).map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(numbers(&text), numbers(&text_with));
    assert!(text.contains("RMSE"), "{text}");

    // --model may name one checkpoint file of the directory.
    let checkpoint = std::fs::read_dir(&f.model)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "funkckpt"))
        .expect("a checkpoint file");
    let args = [
        "predict",
        "--model",
        checkpoint.to_str().unwrap(),
        "--user",
        &user,
        "--item",
        &item,
    ];
    assert_eq!(json(&args), json(&with_data(&args, f.data_arg())));
}

#[test]
fn export_without_data_writes_what_it_writes_with_it() {
    let f = sparse(false, 73);
    for format in ["npy", "csv", "libmf"] {
        let without = f.path(&format!("{format}-without"));
        let with = f.path(&format!("{format}-with"));
        let args = |out: &Path| -> Vec<String> {
            ["export", "--model", f.model_arg(), "--format", format, "-o"]
                .iter()
                .map(|s| s.to_string())
                .chain([out.to_str().unwrap().to_owned()])
                .collect()
        };
        let a = args(&without);
        ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
        let b = args(&with);
        let mut b: Vec<&str> = b.iter().map(String::as_str).collect();
        b.extend(["--data", f.data_arg()]);
        ok(&b);
        let (x, y) = (export_contents(&without), export_contents(&with));
        assert_eq!(x, y, "{format}");
        if format == "npy" {
            assert!(x.iter().any(|(name, _)| name == "user_ids.txt"), "{format}");
        }
    }
}

#[test]
fn without_a_usable_status_json_the_commands_ask_for_data() {
    let f = sparse(false, 74);
    let file = f.open();
    let user = file.user_id(1).to_owned();
    let item = file.item_id(1).to_owned();
    let out = f.path("csv");
    let model = f.model_arg();
    let commands: Vec<Vec<&str>> = vec![
        vec!["eval", "--model", model],
        vec![
            "predict", "--model", model, "--user", &user, "--item", &item,
        ],
        vec!["recommend", "--model", model, "--user", &user],
        vec![
            "export",
            "--model",
            model,
            "--format",
            "csv",
            "-o",
            out.to_str().unwrap(),
        ],
    ];
    let status = f.model.join("status.json");
    let original = std::fs::read(&status).unwrap();

    // No status.json.
    std::fs::remove_file(&status).unwrap();
    for args in &commands {
        let err = fails(args, 2);
        assert!(
            err.contains("--data") && err.contains("status.json"),
            "{args:?}: {err}"
        );
    }

    // A status.json that names no data file (an older funkd's).
    std::fs::write(&status, br#"{"state": "finished", "epoch": 6}"#).unwrap();
    for args in &commands {
        let err = fails(args, 2);
        assert!(
            err.contains("--data") && err.contains("names no data file"),
            "{args:?}: {err}"
        );
    }

    // The data file moved away.
    std::fs::write(&status, &original).unwrap();
    let moved = f.path("moved.funk");
    std::fs::rename(&f.data, &moved).unwrap();
    for args in &commands {
        let err = fails(args, 2);
        assert!(
            err.contains("--data") && err.contains(f.data_arg()),
            "{args:?}: {err}"
        );
        // … and --data with its new place works.
        ok(&with_data(args, moved.to_str().unwrap()));
    }

    // npy and libmf do without: internal ids only, with a note.
    let npy = f.path("npy");
    let run = funkd(&[
        "export",
        "--model",
        model,
        "--format",
        "npy",
        "-o",
        npy.to_str().unwrap(),
    ]);
    assert!(run.status.success());
    let note = String::from_utf8_lossy(&run.stderr);
    assert!(note.contains("internal ids only"), "{note}");
    assert!(npy.join("user_factors.npy").exists());
    assert!(!npy.join("user_ids.txt").exists());
}

#[test]
fn a_data_file_that_is_not_the_one_trained_on_is_refused() {
    let f = sparse(false, 75);
    let other = sparse(false, 76);
    let user = f.open().user_id(0).to_owned();
    let model = f.model_arg();
    // An explicit --data of another file.
    for args in [
        vec!["eval", "--model", model],
        vec!["recommend", "--model", model, "--user", &user],
    ] {
        let err = fails(&with_data(&args, other.data_arg()), 2);
        assert!(err.contains("another data file"), "{args:?}: {err}");
    }
    // The recorded data file replaced by another one.
    std::fs::copy(&other.data, &f.data).unwrap();
    for args in [
        vec!["eval", "--model", model],
        vec!["recommend", "--model", model, "--user", &user],
    ] {
        let err = fails(&args, 2);
        assert!(
            err.contains("another data file") && err.contains("--data"),
            "{args:?}: {err}"
        );
    }
    // npy does without it rather than use it.
    let npy = f.path("npy");
    ok(&[
        "export",
        "--model",
        model,
        "--format",
        "npy",
        "-o",
        npy.to_str().unwrap(),
    ]);
    assert!(!npy.join("user_ids.txt").exists());
}

#[test]
fn help_says_where_data_comes_from_by_default() {
    for command in ["eval", "predict", "recommend", "export"] {
        let help = ok(&[command, "--help"]);
        assert!(
            help.contains("status.json") && help.contains("--data"),
            "{command} --help:\n{help}"
        );
    }
}
