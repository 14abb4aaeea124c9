//! Replays every fuzz seed and every kept fuzz finding (`fuzz/seeds/` and
//! `fuzz/regressions/`, one folder per target) through the same code the
//! fuzz targets run: nothing may panic, and a failed import leaves no file.

use std::path::{Path, PathBuf};

use funkd::import::{Columns, DuplicatePolicy, Format, ImportArgs};

fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut files = Vec::new();
    for dir in ["seeds", "regressions"] {
        if let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) {
            files.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
        }
    }
    files.sort();
    files
}

/// What the `ratingfile` target does.
fn replay_rating_file(path: &Path) {
    if let Ok(file) = funkd::ratingfile::RatingFile::open(path) {
        if file.verify().is_ok() {
            let set = file.to_rating_set();
            let users = file.user_index();
            for name in set.user_ids.iter().take(16) {
                assert_eq!(
                    users.get(name).map(|i| file.user_id(i)),
                    Some(name.as_str())
                );
            }
        }
        let _ = funkd::commands::inspect::describe(&file, 0.0, None);
    }
}

/// What the `import_*` targets do.
fn replay_import(format: Format, data: &[u8]) {
    let Some((&knob, text)) = data.split_first() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.txt");
    let out = dir.path().join("out.funk");
    std::fs::write(&input, text).unwrap();
    let generic = matches!(format, Format::Csv | Format::Tsv);
    let args = ImportArgs {
        format,
        train: vec![input],
        test: vec![],
        test_fraction: (knob & 4 != 0).then_some(0.3),
        probe: None,
        seed: u64::from(knob),
        out: out.clone(),
        duplicates: [
            DuplicatePolicy::KeepLast,
            DuplicatePolicy::KeepFirst,
            DuplicatePolicy::Mean,
            DuplicatePolicy::Error,
        ][usize::from(knob % 4)],
        rating_range: None,
        columns: if generic && knob & 8 != 0 {
            Columns([2, 0, 1])
        } else {
            Columns([0, 1, 2])
        },
        header: generic && knob & 16 != 0,
        delimiter: None,
        grid: None,
        json: false,
        quiet: true,
    };
    match funkd::import::import(&args, &funkd::report::Silent) {
        Ok(_) => replay_rating_file(&out),
        Err(_) => assert!(!out.exists(), "a failed import left its output"),
    }
}

#[test]
fn rating_file_seeds_and_findings_open_verify_and_never_panic() {
    let files = inputs("ratingfile");
    let seeds = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "seed"))
        .count();
    assert!(
        seeds >= 2,
        "the valid seeds in fuzz/seeds/ratingfile are missing"
    );
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "seed"))
    {
        // The seeds (named *.seed: the repository ignores *.funk) are valid
        // files: they must open and verify.
        let file = funkd::ratingfile::RatingFile::open(f).unwrap();
        file.verify().unwrap();
    }
    for f in &files {
        replay_rating_file(f);
    }
}

#[test]
fn importer_seeds_and_findings_never_panic() {
    for (target, format) in [
        ("import_netflix", Format::NetflixCombined),
        ("import_movielens", Format::Movielens),
        ("import_movielens_dat", Format::MovielensDat),
        ("import_movielens_csv", Format::MovielensCsv),
        ("import_csv", Format::Csv),
        ("import_tsv", Format::Tsv),
        ("import_libmf", Format::Libmf),
    ] {
        let files = inputs(target);
        assert!(!files.is_empty(), "no seeds for {target}");
        for f in files {
            replay_import(format, &std::fs::read(&f).unwrap());
        }
    }
}
