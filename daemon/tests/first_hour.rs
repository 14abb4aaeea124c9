//! What a new user meets in a first hour of use, run as they run it (the
//! real binary, small generated or hand-written inputs): wrong files,
//! damaged files, outputs that cannot be written, sizes that cannot fit,
//! everyday CSV, and the warnings that keep surprises from being silent.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn funkd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_funkd"))
        .args(args)
        .output()
        .expect("cannot run funkd")
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs funkd and expects exit 0.
fn ok(args: &[&str]) -> Output {
    let out = funkd(args);
    assert_eq!(code(&out), 0, "funkd {args:?} failed: {}", stderr(&out));
    out
}

/// A small generated rating file (about 6,000 ratings, a test split).
fn small_data(dir: &Path) -> PathBuf {
    let data = dir.join("data.funk");
    ok(&[
        "gen",
        "--scale",
        "0.001",
        "--seed",
        "3",
        "-q",
        "-o",
        s(&data),
    ]);
    data
}

// ---------------------------------------------------------------- a text file given to train

#[test]
fn train_on_a_text_file_says_to_import_it_first() {
    let dir = tempfile::tempdir().unwrap();
    let text = write(
        dir.path(),
        "u1.base",
        "1\t1\t5\t874965758\n1\t2\t3\t876893171\n2\t1\t4\t878542960\n",
    );
    let run = dir.path().join("run");
    let out = funkd(&[
        "train",
        "--data",
        s(&text),
        "--checkpoint-dir",
        s(&run),
        "--quiet",
    ]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(err.contains("not a funk rating file"), "{err}");
    let expected = format!(
        "funkd import --format movielens --train {} -o {}",
        s(&text),
        s(&dir.path().join("u1.funk"))
    );
    assert!(err.contains(&expected), "{err}");
    assert!(err.contains(r#""1\t1\t5\t874965758""#), "{err}");
}

#[test]
fn a_binary_file_given_as_data_is_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = (0..=255u8).cycle().skip(1).take(600).collect();
    let path = dir.path().join("model.bin");
    std::fs::write(&path, &bytes).unwrap();
    let out = funkd(&["inspect", s(&path)]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(err.contains("not a funk rating file"), "{err}");
    assert!(err.contains("binary"), "{err}");
    assert!(
        !err.chars()
            .any(|c| c.is_control() && c != '\n' || c == '\u{fffd}'),
        "raw bytes in the message: {err:?}"
    );
}

// ---------------------------------------------------------------- damaged rating files

/// Where things are in a rating file: (records section offset, block
/// table section offset, block table length), read through the library.
fn layout(path: &Path) -> (usize, usize, usize) {
    let file = funkd::ratingfile::RatingFile::open(path).unwrap();
    let section = |name: &str| {
        file.sections()
            .into_iter()
            .find(|(n, _)| *n == name)
            .unwrap()
            .1
    };
    let (records, table) = (section("records"), section("block table"));
    (
        records.offset as usize,
        table.offset as usize,
        table.len as usize,
    )
}

/// The first block (in row-major order) with train ratings, and its entry.
fn first_train_block(path: &Path) -> (usize, usize, funkd::ratingfile::BlockEntry) {
    let file = funkd::ratingfile::RatingFile::open(path).unwrap();
    let p = file.grid();
    (0..p * p)
        .map(|b| (b / p, b % p, file.block_entry(b / p, b % p)))
        .find(|(_, _, e)| e.train_len > 0)
        .unwrap()
}

fn assert_refused_as_damaged(out: &Output, block: (usize, usize), data: &Path) {
    assert_eq!(code(out), 1, "{}", stderr(out));
    let err = stderr(out);
    assert!(
        err.contains(&format!("block {block:?} of the rating file is damaged")),
        "{err}"
    );
    assert!(
        err.contains(&format!("funkd inspect --verify {}", s(data))),
        "{err}"
    );
}

#[test]
fn train_refuses_a_rating_file_with_a_flipped_byte_in_a_rating_value() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_data(dir.path());
    // A model of the good file, to evaluate on the damaged one (the damage
    // leaves the file's identity, its header checksum, unchanged).
    let good_run = dir.path().join("good");
    ok(&[
        "train",
        "--data",
        s(&data),
        "--checkpoint-dir",
        s(&good_run),
        "--epochs",
        "1",
        "--quiet",
    ]);
    let (records, _, _) = layout(&data);
    let (ub, ib, entry) = first_train_block(&data);
    let mut bytes = std::fs::read(&data).unwrap();
    // The low byte of the first record's value (user, item, value: 12 bytes).
    let at = records + entry.train_start as usize * 12 + 8;
    bytes[at] ^= 0x01;
    std::fs::write(&data, &bytes).unwrap();
    // Opening stays cheap and does not see it; the full check does.
    assert!(funkd::ratingfile::RatingFile::open(&data).is_ok());
    let verify = funkd(&["inspect", s(&data), "--verify"]);
    assert_eq!(code(&verify), 1);

    let run = dir.path().join("run");
    for (threads, method) in [("1", "sgd"), ("3", "sgd"), ("2", "gd")] {
        let out = funkd(&[
            "train",
            "--data",
            s(&data),
            "--checkpoint-dir",
            s(&run),
            "--epochs",
            "2",
            "--threads",
            threads,
            "--method",
            method,
            "--quiet",
        ]);
        assert_refused_as_damaged(&out, (ub, ib), &data);
        assert!(stderr(&out).contains("do not match their checksum"));
    }
    let out = funkd(&["eval", "--data", s(&data), "--model", s(&good_run)]);
    assert_refused_as_damaged(&out, (ub, ib), &data);
}

#[test]
fn an_index_outside_its_band_is_refused_even_with_matching_checksums() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_data(dir.path());
    let (records, table, table_len) = layout(&data);
    let (ub, ib, entry) = first_train_block(&data);
    let p = funkd::ratingfile::RatingFile::open(&data).unwrap().grid();
    let mut bytes = std::fs::read(&data).unwrap();
    // The first record's user index far outside its band...
    let at = records + entry.train_start as usize * 12;
    bytes[at..at + 4].copy_from_slice(&1_000_000u32.to_le_bytes());
    // ...and every checksum sealed again, so that only the index is wrong.
    let block_records = records + entry.train_start as usize * 12;
    let hash = xxhash_rust::xxh3::xxh3_64(
        &bytes[block_records..block_records + entry.train_len as usize * 12],
    );
    let entry_at = table + (ub * p + ib) * 48;
    bytes[entry_at + 32..entry_at + 40].copy_from_slice(&hash.to_le_bytes());
    let old_table_hash =
        xxhash_rust::xxh3::xxh3_64(&std::fs::read(&data).unwrap()[table..table + table_len]);
    let new_table_hash = xxhash_rust::xxh3::xxh3_64(&bytes[table..table + table_len]);
    let in_header = bytes[..504]
        .windows(8)
        .position(|w| w == old_table_hash.to_le_bytes())
        .expect("the block table's checksum in the header");
    bytes[in_header..in_header + 8].copy_from_slice(&new_table_hash.to_le_bytes());
    let header_hash = xxhash_rust::xxh3::xxh3_64(&bytes[..504]);
    bytes[504..512].copy_from_slice(&header_hash.to_le_bytes());
    std::fs::write(&data, &bytes).unwrap();
    assert!(funkd::ratingfile::RatingFile::open(&data).is_ok());

    let out = funkd(&[
        "train",
        "--data",
        s(&data),
        "--checkpoint-dir",
        s(&dir.path().join("run")),
        "--quiet",
    ]);
    assert_refused_as_damaged(&out, (ub, ib), &data);
    assert!(stderr(&out).contains("lies outside"), "{}", stderr(&out));
}

// ---------------------------------------------------------------- outputs that cannot be written

/// A directory that takes no new files: a read-only one, or, for root
/// (who writes anywhere), `/proc`.
fn unwritable_dir(tmp: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = tmp.join("read-only");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let probe = dir.join("probe");
    if std::fs::write(&probe, b"").is_err() {
        return dir;
    }
    std::fs::remove_file(&probe).unwrap();
    PathBuf::from("/proc")
}

#[test]
fn train_refuses_an_unwritable_checkpoint_directory_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_data(dir.path());
    let locked = unwritable_dir(dir.path());
    let out = funkd(&[
        "train",
        "--data",
        s(&data),
        "--checkpoint-dir",
        s(&locked),
        "--epochs",
        "40",
    ]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "cannot write to the checkpoint directory {}",
            s(&locked)
        )),
        "{err}"
    );
    assert!(err.contains("give --checkpoint-dir a directory"), "{err}");
    // Refused before any work: no epoch ran, no warning was printed.
    assert!(!err.contains("warning"), "{err}");
    assert!(!err.contains("epoch 1"), "{err}");
}

#[test]
fn gen_import_and_export_refuse_an_unwritable_output_before_working() {
    let dir = tempfile::tempdir().unwrap();
    let locked = unwritable_dir(dir.path());
    let target = locked.join("out.funk");

    let out = funkd(&["gen", "--scale", "0.001", "-q", "-o", s(&target)]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("cannot write the output file {}", s(&target))),
        "{err}"
    );
    assert!(err.contains("give -o a path"), "{err}");
    assert!(!target.exists());

    // The input's error on line 2 is never reached: the output is checked
    // before the input is read.
    let csv = write(dir.path(), "r.csv", "1,1,4\n1,2,oops\n");
    let out = funkd(&[
        "import",
        "--format",
        "csv",
        "--train",
        s(&csv),
        "-q",
        "-o",
        s(&target),
    ]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(err.contains("cannot write the output file"), "{err}");
    assert!(!err.contains("oops"), "{err}");

    let data = small_data(dir.path());
    let run = dir.path().join("run");
    ok(&[
        "train",
        "--data",
        s(&data),
        "--checkpoint-dir",
        s(&run),
        "--epochs",
        "1",
        "--quiet",
    ]);
    let out = funkd(&[
        "export",
        "--model",
        s(&run),
        "--format",
        "npy",
        "--out",
        s(&locked),
    ]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "cannot write to the export directory {}",
            s(&locked)
        )),
        "{err}"
    );
}

// ---------------------------------------------------------------- sizes that cannot fit

#[test]
fn gen_refuses_a_scale_no_machine_can_hold_at_once_with_the_largest_that_fits() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("huge.funk");
    // A hundred billion ratings: terabytes of memory and of disk, refused
    // before anything is allocated.
    let out = funkd(&["gen", "--scale", "1000", "-q", "-o", s(&out_path)]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("--scale 1000 does not fit this machine"),
        "{err}"
    );
    assert!(err.contains("100,480,507,000 ratings need about"), "{err}");
    assert!(err.contains("TB of memory"), "{err}");
    let largest: f64 = err
        .split("the largest scale that fits is --scale ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no largest scale in {err}"));
    assert!(largest > 0.0 && largest < 1000.0, "{largest}");
    assert!(!out_path.exists());
}

// ---------------------------------------------------------------- everyday CSV

/// Imports with `--json`, expects success, returns the summary.
fn import_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["import"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-q", "--json"]);
    let out = ok(&all);
    serde_json::from_str(stdout(&out).trim()).unwrap()
}

#[test]
fn csv_with_quotes_commas_in_fields_and_a_byte_order_mark_imports() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("q.funk");
    let csv = write(
        dir.path(),
        "quoted.csv",
        "\u{feff}\"1\",\"10\",\"4\"\r\n\"2\",\"it,em\",\"3\"\r\n3,\"it,em\",5\r\n",
    );
    let i = import_json(&["--format", "csv", "--train", s(&csv), "-o", s(&out)]);
    assert_eq!(i["users"], 3, "{i}");
    assert_eq!(i["items"], 2, "{i}");
    assert_eq!(i["train"], 3, "{i}");
    let set = funkd::ratingfile::RatingFile::open(&out)
        .unwrap()
        .to_rating_set();
    let mut users = set.user_ids.clone();
    users.sort();
    assert_eq!(
        users,
        ["1", "2", "3"],
        "the BOM must not stick to the first id"
    );
    assert!(
        set.item_ids.iter().any(|i| i == "it,em"),
        "{:?}",
        set.item_ids
    );
}

#[test]
fn a_header_without_header_gets_a_hint_and_ids_written_as_floats_are_one_user() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("h.funk");
    let csv = write(dir.path(), "h.csv", "user,item,rating\n1,2,3\n1.0,3,4\n");
    let o = funkd(&[
        "import",
        "--format",
        "csv",
        "--train",
        s(&csv),
        "-q",
        "-o",
        s(&out),
    ]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(err.contains("h.csv:1:"), "{err}");
    assert!(err.contains("pass --header"), "{err}");
    let i = import_json(&[
        "--format",
        "csv",
        "--header",
        "--train",
        s(&csv),
        "-o",
        s(&out),
    ]);
    assert_eq!(i["users"], 1, "1 and 1.0 are the same user: {i}");
    assert_eq!(i["train"], 2, "{i}");
}

#[test]
fn movielens_ids_must_be_integers_and_the_line_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.funk");
    let data = write(dir.path(), "u.data", "1\t2\t3\t0\nabc\t2\t4\t0\n");
    let o = funkd(&[
        "import",
        "--format",
        "movielens",
        "--train",
        s(&data),
        "-q",
        "-o",
        s(&out),
    ]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(err.contains("u.data:2:"), "{err}");
    assert!(err.contains("user id \"abc\" is not an integer"), "{err}");
    assert!(!out.exists());
}

// ---------------------------------------------------------------- no silent surprises

#[test]
fn import_warns_of_pairs_in_both_splits_and_records_the_whole_command() {
    let dir = tempfile::tempdir().unwrap();
    let train = write(dir.path(), "tr.csv", "1,1,4\n1,2,3\n2,1,5\n3,3,1\n");
    let test = write(dir.path(), "te.csv", "1,1,4\n2,2,3\n2,1,2\n");
    let out = dir.path().join("both.funk");
    let o = ok(&[
        "import",
        "--format",
        "csv",
        "--train",
        s(&train),
        "--test",
        s(&test),
        "-q",
        "-o",
        s(&out),
    ]);
    let err = stderr(&o);
    assert!(
        err.contains(
            "warning: 2 (user, item) pairs are rated in both the train and the test input"
        ),
        "{err}"
    );
    let inspect = ok(&["inspect", s(&out), "--json"]);
    let i: serde_json::Value = serde_json::from_str(stdout(&inspect).trim()).unwrap();
    let source = i["source"].as_str().unwrap();
    assert!(source.contains(&format!("--test {}", s(&test))), "{source}");
    assert!(source.ends_with(&format!("-o {}", s(&out))), "{source}");

    // Separate splits: no warning.
    let alone = write(dir.path(), "te2.csv", "3,1,4\n");
    let o = ok(&[
        "import",
        "--format",
        "csv",
        "--train",
        s(&train),
        "--test",
        s(&alone),
        "-q",
        "-o",
        s(&out),
    ]);
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
}

#[test]
fn duplicates_error_names_the_file_and_both_lines() {
    let dir = tempfile::tempdir().unwrap();
    let first = write(dir.path(), "a.csv", "1,1,4\n1,2,3\n");
    let second = write(dir.path(), "b.csv", "2,2,4\n\n1,2,5\n");
    let out = dir.path().join("d.funk");
    let o = funkd(&[
        "import",
        "--format",
        "csv",
        "--train",
        s(&first),
        s(&second),
        "--duplicates",
        "error",
        "-q",
        "-o",
        s(&out),
    ]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(err.contains(&format!("{}:3:", s(&second))), "{err}");
    assert!(err.contains(&format!("first at {}:2", s(&first))), "{err}");
    assert!(
        err.contains("user \"1\" rated item \"2\" more than once"),
        "{err}"
    );
}

#[test]
fn a_titles_file_of_another_data_set_is_not_used_silently() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_data(dir.path());
    let run = dir.path().join("run");
    ok(&[
        "train",
        "--data",
        s(&data),
        "--checkpoint-dir",
        s(&run),
        "--epochs",
        "1",
        "--quiet",
    ]);
    let items = funkd::ratingfile::RatingFile::open(&data).unwrap().items();
    let titles_of = |first_id: usize| {
        (first_id..first_id + items)
            .map(|id| format!("{id}|Film {id} (1999)|01-Jan-1999\n"))
            .collect::<String>()
    };
    let recommend = |titles: &Path| {
        ok(&[
            "recommend",
            "--model",
            s(&run),
            "--data",
            s(&data),
            "--user",
            "1",
            "--titles",
            s(titles),
        ])
    };
    let other = write(dir.path(), "other.item", &titles_of(5000));
    let err = stderr(&recommend(&other));
    assert!(
        err.contains(&format!("warning: only 0 of the {items} items")),
        "{err}"
    );
    assert!(err.contains("other.item"), "{err}");
    let own = write(dir.path(), "u.item", &titles_of(1));
    let err = stderr(&recommend(&own));
    assert!(!err.contains("warning"), "{err}");
}
