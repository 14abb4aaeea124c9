//! Shared helpers of the fuzz targets: every target writes the input to a
//! scratch file (the readers under test take paths) and runs the real code.

use std::path::PathBuf;

use funkd::import::{Columns, DuplicatePolicy, Format, ImportArgs};

/// A scratch path private to this process.
pub fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("funk-fuzz-{}-{name}", std::process::id()))
}

/// Opens `data` as a rating file; when it opens, verifies it and reads
/// everything back. Must never panic.
pub fn rating_file(data: &[u8]) {
    let path = scratch("input.funk");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    if let Ok(file) = funkd::ratingfile::RatingFile::open(&path) {
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
        for ub in 0..file.grid().min(4) {
            let _ = file.train_block(ub, 0);
            let _ = file.test_block(0, ub);
        }
        let _ = funkd::commands::inspect::describe(&file, 0.0, None);
    }
}

/// Imports `data` as a file of `format` (the first input byte picks the
/// duplicate policy, the test split, the columns and the header) and
/// reads the encoded rating file back. Must never panic.
pub fn import(format: Format, data: &[u8]) {
    let Some((&knob, text)) = data.split_first() else {
        return;
    };
    let input = scratch("input.txt");
    let out = scratch("out.funk");
    if std::fs::write(&input, text).is_err() {
        return;
    }
    let duplicates = match knob % 4 {
        0 => DuplicatePolicy::KeepLast,
        1 => DuplicatePolicy::KeepFirst,
        2 => DuplicatePolicy::Mean,
        _ => DuplicatePolicy::Error,
    };
    let generic = matches!(format, Format::Csv | Format::Tsv);
    let args = ImportArgs {
        format,
        train: vec![input],
        test: vec![],
        test_fraction: (knob & 4 != 0).then_some(0.3),
        probe: None,
        seed: u64::from(knob),
        out,
        duplicates,
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
    // Parse, then encode in memory: no fsync per run, same bytes as a file.
    if let Ok(loaded) = funkd::import::load(&args, &funkd::report::Silent) {
        let opts = funkd::ratingfile::WriteOptions {
            grid: None,
            seed: 1,
        };
        if let Ok((bytes, _)) = funkd::ratingfile::encode(&loaded.set, &opts) {
            rating_file(&bytes);
        }
    }
}
