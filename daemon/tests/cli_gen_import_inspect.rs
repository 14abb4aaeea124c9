//! `funkd gen`, `funkd import` and `funkd inspect` as a user runs them:
//! the real binary, fixtures in every input format, exit codes 0/1/2 and
//! exactly one JSON object on stdout with `--json`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn funkd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_funkd"))
        .args(args)
        .output()
        .expect("cannot run funkd")
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// Runs with `--json`, expects success and one JSON object on stdout.
fn json(args: &[&str]) -> Value {
    let mut all: Vec<&str> = args.to_vec();
    all.push("--json");
    let out = funkd(&all);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 0, "funkd {args:?} failed: {stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.trim().lines().count(),
        1,
        "not one line of JSON: {stdout}"
    );
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert!(v.is_object());
    v
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn gen_writes_a_file_that_inspect_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g.funk");
    let g = json(&[
        "gen",
        "--scale",
        "0.002",
        "--seed",
        "5",
        "-q",
        "-o",
        s(&out),
    ]);
    assert_eq!(g["users"], 960);
    assert!(g["test"].as_u64().unwrap() > 0);
    let noise = g["noise_floor"].as_f64().unwrap();
    let mean = g["mean_rmse"].as_f64().unwrap();
    assert!(
        noise > 0.5 && noise < mean,
        "noise floor {noise}, mean RMSE {mean}"
    );
    let i = json(&["inspect", s(&out), "--verify"]);
    assert_eq!(i["users"], g["users"]);
    assert_eq!(i["train"], g["train"]);
    assert_eq!(i["identity"], g["identity"]);
    assert_eq!(i["rating_range"], serde_json::json!([1.0, 5.0]));
    assert!(i["verify"]["mb_per_s"].as_f64().unwrap() > 0.0);
    let b = &i["block_balance"];
    assert!(b["min"].as_u64().unwrap() > 0 && b["min"].as_u64() <= b["max"].as_u64());
}

#[test]
fn gen_with_the_same_seed_writes_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    for (p, seed) in [(&a, "9"), (&b, "9"), (&c, "10")] {
        assert_eq!(
            code(&funkd(&[
                "gen",
                "--scale",
                "0.001",
                "--seed",
                seed,
                "-q",
                "-o",
                s(p)
            ])),
            0
        );
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&c).unwrap());
}

#[test]
fn gen_ratings_per_user_gives_the_asked_density() {
    let dir = tempfile::tempdir().unwrap();
    let mut per_user_seen = Vec::new();
    for asked in [20.0, 45.0] {
        let out = dir.path().join(format!("d{asked}.funk"));
        let arg = asked.to_string();
        let g = json(&[
            "gen",
            "--scale",
            "0.01",
            "--ratings-per-user",
            &arg,
            "-q",
            "-o",
            s(&out),
        ]);
        // Users and items are the scale's; only the number of ratings moves.
        assert_eq!(g["users"], 4802);
        assert_eq!(g["items"], 178);
        let users = g["users"].as_f64().unwrap();
        let ratings = g["train"].as_f64().unwrap() + g["test"].as_f64().unwrap();
        let per_user = ratings / users;
        assert!(
            (per_user - asked).abs() < 0.01,
            "asked {asked} ratings per user, got {per_user}"
        );
        // Activity stays skewed: light and heavy users, no duplicates.
        let file = funkd::ratingfile::RatingFile::open(&out).unwrap();
        let set = file.to_rating_set();
        let mut counts = vec![0u32; 4802];
        let mut pairs = std::collections::HashSet::new();
        for t in set.train.iter().chain(&set.test) {
            counts[t.user as usize] += 1;
            assert!(pairs.insert((t.user, t.item)), "duplicate pair");
        }
        let (min, max) = (*counts.iter().min().unwrap(), *counts.iter().max().unwrap());
        assert!(min >= 1 && f64::from(min) < asked && f64::from(max) > 2.0 * asked);
        let i = json(&["inspect", s(&out)]);
        assert!(i["source"]
            .as_str()
            .unwrap()
            .ends_with(&format!("--ratings-per-user {asked} -o {}", s(&out))));
        per_user_seen.push(per_user);
    }
    assert!(per_user_seen[0] < per_user_seen[1]);

    // Same seed ⇒ same bytes with the flag too.
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for p in [&a, &b] {
        let args = [
            "gen",
            "--scale",
            "0.01",
            "--ratings-per-user",
            "10",
            "--seed",
            "4",
            "-q",
            "-o",
            s(p),
        ];
        assert_eq!(code(&funkd(&args)), 0);
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

#[test]
fn gen_reports_the_bayes_and_oracle_floors_without_changing_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (plain, with) = (dir.path().join("plain"), dir.path().join("oracle"));
    let base = [
        "gen",
        "--scale",
        "0.01",
        "--ratings-per-user",
        "20",
        "--seed",
        "6",
        "-q",
    ];
    let mut args = base.to_vec();
    args.extend(["-o", s(&plain)]);
    let g = json(&args);
    assert!(g["oracle"].is_null());
    let mut args = base.to_vec();
    args.extend(["-o", s(&with), "--oracle"]);
    let o = json(&args);
    assert_eq!(
        std::fs::read(&plain).unwrap(),
        std::fs::read(&with).unwrap()
    );
    let noise = o["noise_floor"].as_f64().unwrap();
    let bayes = o["bayes_floor"].as_f64().unwrap();
    let oracle = o["oracle"]["bayes"].as_f64().unwrap();
    let oracle_linear = o["oracle"]["linear"].as_f64().unwrap();
    let mean = o["mean_rmse"].as_f64().unwrap();
    // E[R | m] beats clamp(m) on rounded ratings; estimating users from
    // 20 ratings each costs more than that, and is still far better than
    // predicting the mean.
    assert!(bayes < noise, "Bayes floor {bayes}, noise floor {noise}");
    assert!(oracle > bayes, "oracle {oracle}, Bayes floor {bayes}");
    assert!(oracle_linear > bayes);
    assert!(oracle_linear < mean);
}

#[test]
fn gen_dense_is_fully_observed_real_valued_and_unclamped() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d.funk");
    let g = json(&[
        "gen",
        "--dense",
        "40x25",
        "--rank",
        "3",
        "-q",
        "-o",
        s(&out),
    ]);
    assert_eq!(g["train"], 1000);
    assert_eq!(g["test"], 0);
    let file = funkd::ratingfile::RatingFile::open(&out).unwrap();
    assert_eq!(file.rating_range(), None);
    let set = file.to_rating_set();
    assert!(set.train.iter().any(|t| t.value < 0.0));
    assert!(set.train.iter().any(|t| t.value.fract() != 0.0));
}

#[test]
fn gen_refuses_bad_flags_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    for args in [
        vec!["gen", "--scale", "0", "-o", s(&out)],
        vec!["gen", "--rank", "0", "-o", s(&out)],
        vec!["gen", "--dense", "10by3", "-o", s(&out)],
        vec!["gen", "--test-fraction", "1.5", "-o", s(&out)],
        vec!["gen", "--scale", "0.001", "--grid", "100000", "-o", s(&out)],
        vec!["gen", "--bogus"],
        vec!["gen", "--ratings-per-user", "0.5", "-o", s(&out)],
        vec!["gen", "--ratings-per-user", "nan", "-o", s(&out)],
        vec!["gen", "--ratings-per-user", "-3", "-o", s(&out)],
        vec!["gen", "--ratings-per-user", "many", "-o", s(&out)],
        // 300 ratings per user of 889 items is more than the 30% cap.
        vec![
            "gen",
            "--scale",
            "0.05",
            "--ratings-per-user",
            "300",
            "-o",
            s(&out),
        ],
        vec![
            "gen",
            "--dense",
            "10x10",
            "--ratings-per-user",
            "3",
            "-o",
            s(&out),
        ],
        vec!["gen", "--dense", "10x10", "--oracle", "-o", s(&out)],
    ] {
        let o = funkd(&args);
        assert_eq!(
            code(&o),
            2,
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    assert!(!out.exists());
}

/// Imports and returns the JSON summary and the opened file.
fn import(args: &[&str]) -> (Value, funkd::ratingfile::RatingFile) {
    let v = json(args);
    let path = v["path"].as_str().unwrap().to_string();
    (
        v,
        funkd::ratingfile::RatingFile::open(Path::new(&path)).unwrap(),
    )
}

#[test]
fn import_netflix_training_set_with_probe_held_out() {
    let dir = tempfile::tempdir().unwrap();
    let ts = dir.path().join("training_set");
    write(
        &ts,
        "mv_0000001.txt",
        "1:\n1488844,3,2005-09-06\n822109,5,2005-05-13\n885013,4,2005-10-19\n",
    );
    write(
        &ts,
        "mv_0000002.txt",
        "2:\n1488844,2,2005-09-06\r\n30878,4,2005-12-26\r\n",
    );
    write(&ts, "README", "not a rating file");
    let probe = write(dir.path(), "probe.txt", "1:\n822109\n2:\n30878\n9:\n1\n");
    let out = dir.path().join("n.funk");
    let (v, file) = import(&[
        "import",
        "--format",
        "netflix",
        "--train",
        s(&ts),
        "--probe",
        s(&probe),
        "-q",
        "-o",
        s(&out),
    ]);
    assert_eq!(
        (v["users"].as_u64(), v["items"].as_u64()),
        (Some(4), Some(2))
    );
    assert_eq!(
        (v["train"].as_u64(), v["test"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(v["probe_unknown"], 1);
    assert_eq!(file.rating_range(), Some((1.0, 5.0)));
    let user = file.user_index().get("1488844").unwrap();
    assert_eq!(file.user_id(user), "1488844");
    assert!(file.item_index().get("2").is_some());
}

#[test]
fn import_netflix_combined() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "combined_data_1.txt",
        "1:\n10,3,2005-09-06\n11,5,2005-05-13\n2:\n10,1,2005-09-06\n",
    );
    let b = write(dir.path(), "combined_data_2.txt", "3:\n12,2,2005-09-06\n");
    let out = dir.path().join("c.funk");
    let (v, _) = import(&[
        "import",
        "-f",
        "netflix-combined",
        "--train",
        s(&a),
        s(&b),
        "-q",
        "-o",
        s(&out),
    ]);
    assert_eq!(
        (
            v["users"].as_u64(),
            v["items"].as_u64(),
            v["train"].as_u64()
        ),
        (Some(3), Some(3), Some(4))
    );
}

#[test]
fn import_movielens_base_and_test_files() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(
        dir.path(),
        "u1.base",
        "1\t1\t5\t874965758\n1\t2\t3\t876893171\n2\t1\t4\t878542960\n",
    );
    let test = write(dir.path(), "u1.test", "2\t2\t1\t874965758\n");
    let out = dir.path().join("m.funk");
    let (v, file) = import(&[
        "import",
        "-f",
        "movielens",
        "--train",
        s(&base),
        "--test",
        s(&test),
        "-q",
        "-o",
        s(&out),
    ]);
    assert_eq!(
        (v["train"].as_u64(), v["test"].as_u64()),
        (Some(3), Some(1))
    );
    assert!((file.mean() - 4.0).abs() < 1e-12);
}

#[test]
fn import_movielens_dat_and_csv_with_half_stars() {
    let dir = tempfile::tempdir().unwrap();
    let dat = write(
        dir.path(),
        "ratings.dat",
        "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n",
    );
    let out = dir.path().join("d.funk");
    let (v, _) = import(&[
        "import",
        "-f",
        "movielens-dat",
        "--train",
        s(&dat),
        "-q",
        "-o",
        s(&out),
    ]);
    assert_eq!(v["train"], 3);
    let csv = write(dir.path(), "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.5,964981247\n2,1,0.5,964982224\n");
    let out = dir.path().join("c.funk");
    let (v, file) = import(&[
        "import",
        "-f",
        "movielens-csv",
        "--train",
        s(&csv),
        "-q",
        "-o",
        s(&out),
    ]);
    assert_eq!(v["train"], 3);
    assert_eq!(file.rating_range(), Some((0.5, 5.0)));
    let values: Vec<f32> = file.to_rating_set().train.iter().map(|t| t.value).collect();
    assert!(values.contains(&4.5) && values.contains(&0.5));
}

#[test]
fn import_generic_csv_tsv_and_libmf_keep_real_values() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "x.csv",
        "value,item,user\n-1.25,a,u1\n3.5e2,b,u1\n0,a,u2\n",
    );
    let out = dir.path().join("x.funk");
    let (v, file) = import(&[
        "import",
        "-f",
        "csv",
        "--header",
        "--columns",
        "3,2,1",
        "--train",
        s(&csv),
        "-q",
        "-o",
        s(&out),
    ]);
    assert_eq!(v["train"], 3);
    assert_eq!(file.rating_range(), None);
    let set = file.to_rating_set();
    let u1 = file.user_index().get("u1").unwrap() as u32;
    let a = file.item_index().get("a").unwrap() as u32;
    assert!(set
        .train
        .iter()
        .any(|t| t.user == u1 && t.item == a && t.value == -1.25));
    assert!(set.train.iter().any(|t| t.value == 350.0));

    let tsv = write(dir.path(), "x.tsv", "u1\ti1\t2.5\nu2\ti1\t-3\n");
    let out = dir.path().join("t.funk");
    let (v, _) = import(&[
        "import",
        "-f",
        "tsv",
        "--train",
        s(&tsv),
        "-q",
        "-o",
        s(&out),
    ]);
    assert_eq!(v["train"], 2);

    let libmf = write(dir.path(), "x.libmf", "0 0 0.5\n0  1\t-2\n1 0 7.25\n");
    let out = dir.path().join("l.funk");
    let (v, _) = import(&[
        "import",
        "-f",
        "libmf",
        "--train",
        s(&libmf),
        "--rating-range",
        "-5,10",
        "-q",
        "-o",
        s(&out),
    ]);
    assert_eq!(v["train"], 3);
    assert_eq!(v["rating_range"], serde_json::json!([-5.0, 10.0]));
}

#[test]
fn duplicates_follow_the_policy_and_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "u.data", "1\t1\t1\t0\n1\t1\t5\t0\n2\t1\t3\t0\n");
    let out = dir.path().join("d.funk");
    let (v, file) = import(&[
        "import",
        "-f",
        "movielens",
        "--train",
        s(&data),
        "-q",
        "-o",
        s(&out),
    ]);
    assert_eq!(v["duplicates"]["train"], 1);
    assert_eq!(v["duplicate_policy"], "keep-last");
    let u = file.user_index().get("1").unwrap() as u32;
    assert!(file
        .to_rating_set()
        .train
        .iter()
        .any(|t| t.user == u && t.value == 5.0));
    let (_, file) = import(&[
        "import",
        "-f",
        "movielens",
        "--train",
        s(&data),
        "--duplicates",
        "mean",
        "-q",
        "-o",
        s(&out),
    ]);
    assert!(file
        .to_rating_set()
        .train
        .iter()
        .any(|t| t.user == u && t.value == 3.0));
    let o = funkd(&[
        "import",
        "-f",
        "movielens",
        "--train",
        s(&data),
        "--duplicates",
        "error",
        "-q",
        "-o",
        s(&out),
    ]);
    assert_eq!(code(&o), 1);
    assert!(String::from_utf8_lossy(&o.stderr).contains("more than once"));
}

#[test]
fn test_fraction_splits_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    let text: String = (0..400)
        .map(|n| format!("{} {} {}\n", n % 40, n / 40, n % 7))
        .collect();
    let data = write(dir.path(), "r.txt", &text);
    let (a, b) = (dir.path().join("a.funk"), dir.path().join("b.funk"));
    let (v, _) = import(&[
        "import",
        "-f",
        "libmf",
        "--train",
        s(&data),
        "--test-fraction",
        "0.25",
        "--seed",
        "3",
        "-q",
        "-o",
        s(&a),
    ]);
    import(&[
        "import",
        "-f",
        "libmf",
        "--train",
        s(&data),
        "--test-fraction",
        "0.25",
        "--seed",
        "3",
        "-q",
        "-o",
        s(&b),
    ]);
    let test = v["test"].as_u64().unwrap();
    assert!((50..150).contains(&test), "test split {test} of 400");
    assert_eq!(v["train"].as_u64().unwrap() + test, 400);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

#[test]
fn malformed_lines_name_file_line_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.funk");
    for (format, name, text, expect) in [
        (
            "movielens",
            "u.data",
            "1\t1\t5\t0\n1\t2\tfive\t0\n",
            "u.data:2: rating \"five\" is not a number",
        ),
        (
            "movielens",
            "u.data",
            "1\t1\t9\t0\n",
            "u.data:1: rating 9 is outside the rating range",
        ),
        (
            "movielens-dat",
            "ratings.dat",
            "1::2::3::4\n1::2\n",
            "ratings.dat:2: expected at least 3 fields",
        ),
        (
            "netflix-combined",
            "c.txt",
            "10,3,2005\n",
            "c.txt:1: expected a \"MOVIE:\" line",
        ),
        (
            "libmf",
            "x.txt",
            "1 2 NaN\n",
            "x.txt:1: rating \"NaN\" is not finite",
        ),
        ("csv", "e.csv", "", "e.csv: no ratings"),
        ("tsv", "bin.tsv", "", "bin.tsv:2: not valid UTF-8"),
    ] {
        let path = write(dir.path(), name, text);
        if name == "bin.tsv" {
            std::fs::write(&path, b"a\tb\t1\n\xff\xfe\t1\t2\n").unwrap();
        }
        let o = funkd(&[
            "import",
            "-f",
            format,
            "--train",
            s(&path),
            "-q",
            "-o",
            s(&out),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(code(&o), 1, "{format}: {err}");
        assert!(err.contains(expect), "{format}: {err:?} lacks {expect:?}");
        assert_eq!(err.trim().lines().count(), 1, "not one line: {err}");
        assert!(!out.exists(), "partial output left behind");
    }
}

#[test]
fn import_usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "u.data", "1\t1\t5\t0\n");
    let out = dir.path().join("o.funk");
    for args in [
        vec!["import", "-f", "excel", "--train", s(&data), "-o", s(&out)],
        vec!["import", "-f", "movielens", "-o", s(&out)],
        vec![
            "import",
            "-f",
            "movielens",
            "--train",
            s(&data),
            "--probe",
            s(&data),
            "-o",
            s(&out),
        ],
        vec![
            "import",
            "-f",
            "movielens",
            "--train",
            s(&data),
            "--test-fraction",
            "2",
            "-o",
            s(&out),
        ],
        vec![
            "import",
            "-f",
            "movielens",
            "--train",
            s(&data),
            "--header",
            "-o",
            s(&out),
        ],
        vec![
            "import",
            "-f",
            "csv",
            "--train",
            s(&data),
            "--columns",
            "1,1,2",
            "-o",
            s(&out),
        ],
        vec![
            "import",
            "-f",
            "csv",
            "--train",
            s(&data),
            "--rating-range",
            "5,1",
            "-o",
            s(&out),
        ],
    ] {
        let o = funkd(&args);
        assert_eq!(
            code(&o),
            2,
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let o = funkd(&[
        "import",
        "-f",
        "movielens",
        "--train",
        "/nonexistent/u.data",
        "-o",
        s(&out),
    ]);
    assert_eq!(code(&o), 1);
    assert!(!out.exists());
}

#[test]
fn inspect_refuses_damaged_files_with_one_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("g.funk");
    assert_eq!(
        code(&funkd(&["gen", "--scale", "0.001", "-q", "-o", s(&good)])),
        0
    );
    let bytes = std::fs::read(&good).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "empty"),
        (
            "text",
            b"hello world, this is text".to_vec(),
            "not a funk rating file",
        ),
        (
            "truncated",
            bytes[..bytes.len() - 100].to_vec(),
            "truncated",
        ),
        (
            "flipped",
            {
                let mut b = bytes.clone();
                let n = b.len();
                b[n / 2] ^= 0x10;
                b
            },
            "checksum",
        ),
    ];
    for (name, content, expect) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let o = funkd(&["inspect", "--verify", s(&path)]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(code(&o), 1, "{name}: {err}");
        assert!(err.contains(expect), "{name}: {err:?} lacks {expect:?}");
        assert_eq!(err.trim().lines().count(), 1);
        assert!(o.stdout.is_empty());
    }
    let o = funkd(&["inspect", "/nonexistent.funk"]);
    assert_eq!(code(&o), 1);
    let o = funkd(&["inspect"]);
    assert_eq!(code(&o), 2);
}
