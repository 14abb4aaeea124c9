//! `funkd export`: .npy, CSV and LIBMF model text.

use std::collections::HashMap;
use std::path::Path;

use crate::fixture::{fails, json, sparse};

/// Reads an f32 `.npy` file the way NumPy's format document describes it;
/// returns (shape, values).
fn read_npy_f32(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00", "{}", path.display());
    let len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + len) % 64, 0, "data not 64-byte aligned");
    let header = std::str::from_utf8(&bytes[10..10 + len]).unwrap();
    assert!(header.ends_with('\n'));
    assert!(
        header.contains("'descr': '<f4'") && header.contains("'fortran_order': False"),
        "{header}"
    );
    let dims = header
        .split("'shape': (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    let shape: Vec<usize> = dims
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.parse().unwrap())
        .collect();
    let values: Vec<f32> = bytes[10 + len..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(values.len(), shape.iter().product::<usize>());
    (shape, values)
}

#[test]
fn npy_arrays_hold_the_factors_and_biases_in_internal_order_with_id_lists() {
    let f = sparse(false, 41);
    let dir = f.path("npy");
    let out = json(&[
        "export",
        "--model",
        f.model_arg(),
        "--data",
        f.data_arg(),
        "--format",
        "npy",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out["format"], "npy");
    let model = f.model();
    let (shape, p) = read_npy_f32(&dir.join("user_factors.npy"));
    assert_eq!(shape, vec![model.users(), 6]);
    let (shape, q) = read_npy_f32(&dir.join("item_factors.npy"));
    assert_eq!(shape, vec![model.items(), 6]);
    assert_eq!(&p[6 * 11..6 * 12], model.user_row(11));
    assert_eq!(&q[6 * 3..6 * 4], model.item_row(3));
    let (shape, bu) = read_npy_f32(&dir.join("user_bias.npy"));
    assert_eq!(shape, vec![model.users()]);
    assert_eq!(bu, model.user_bias);
    let (_, bi) = read_npy_f32(&dir.join("item_bias.npy"));
    assert_eq!(bi, model.item_bias);
    let file = f.open();
    let user_ids = std::fs::read_to_string(dir.join("user_ids.txt")).unwrap();
    let user_ids: Vec<&str> = user_ids.lines().collect();
    assert_eq!(user_ids.len(), file.users());
    assert_eq!(user_ids[11], file.user_id(11));
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("model.json")).unwrap()).unwrap();
    assert_eq!(meta["kind"], "biased");
    assert_eq!(meta["rank"], 6);
    assert_eq!(meta["mu"].as_f64().unwrap() as f32, model.mu);
}

#[test]
fn npy_files_load_in_numpy_when_it_is_installed() {
    let has_numpy = std::process::Command::new("python3")
        .args(["-c", "import numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_numpy {
        eprintln!("python3 with numpy not found: skipping the numpy.load check");
        return;
    }
    let f = sparse(true, 42);
    let dir = f.path("npy");
    json(&[
        "export",
        "--model",
        f.model_arg(),
        "--format",
        "npy",
        "-o",
        dir.to_str().unwrap(),
    ]);
    let model = f.model();
    let script = format!(
        "import numpy as np; p = np.load('{0}/user_factors.npy'); q = np.load('{0}/item_factors.npy'); \
         print(p.shape[0], p.shape[1], q.shape[0], p.dtype, repr(float((p[5] @ q[7]))))",
        dir.display()
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let fields: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(
        fields[..4],
        [
            model.users().to_string(),
            "6".into(),
            model.items().to_string(),
            "float32".into()
        ]
    );
    let dot: f64 = fields[4].parse().unwrap();
    assert!((dot - f64::from(model.predict(5, 7))).abs() < 1e-5);
    assert!(
        !dir.join("user_bias.npy").exists(),
        "plain models have no biases"
    );
}

#[test]
fn csv_rows_are_keyed_by_original_id_and_round_trip_the_values() {
    let f = sparse(false, 43);
    let dir = f.path("csv");
    json(&[
        "export",
        "--model",
        f.model_arg(),
        "--data",
        f.data_arg(),
        "--format",
        "csv",
        "-o",
        dir.to_str().unwrap(),
    ]);
    let file = f.open();
    let model = f.model();
    let text = std::fs::read_to_string(dir.join("users.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), "user,bias,f0,f1,f2,f3,f4,f5");
    let rows: HashMap<&str, Vec<f32>> = lines
        .map(|l| {
            let mut fields = l.split(',');
            let id = fields.next().unwrap();
            (id, fields.map(|v| v.parse().unwrap()).collect())
        })
        .collect();
    assert_eq!(rows.len(), file.users());
    for u in [0, 9, file.users() - 1] {
        let row = &rows[file.user_id(u)];
        assert_eq!(
            row[0],
            model.user_bias[u],
            "bias of user {}",
            file.user_id(u)
        );
        assert_eq!(&row[1..], model.user_row(u));
    }
    let items = std::fs::read_to_string(dir.join("items.csv")).unwrap();
    assert_eq!(items.lines().count(), file.items() + 1);
    let ids: Vec<u64> = items
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "rows sorted by id");
}

#[test]
fn libmf_text_carries_the_biases_in_two_extra_dimensions() {
    let f = sparse(false, 44);
    let dir = f.path("libmf");
    json(&[
        "export",
        "--model",
        f.model_arg(),
        "--data",
        f.data_arg(),
        "--format",
        "libmf",
        "-o",
        dir.to_str().unwrap(),
    ]);
    let file = f.open();
    let model = f.model();
    let text = std::fs::read_to_string(dir.join("model.txt")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("f 0"));
    let header = |l: Option<&str>, key: &str| -> f64 {
        let l = l.unwrap();
        assert!(l.starts_with(key), "{l}");
        l[key.len()..].trim().parse().unwrap()
    };
    let m = header(lines.next(), "m ") as usize;
    let n = header(lines.next(), "n ") as usize;
    assert_eq!(header(lines.next(), "k "), 8.0);
    assert_eq!(header(lines.next(), "b ") as f32, model.mu);
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), m + n);
    let parse = |line: &str| -> Vec<f32> {
        line.split_whitespace()
            .skip(2)
            .map(|v| v.parse().unwrap())
            .collect()
    };
    // Generated ids are integers: row r of P is the user whose id is r.
    let (u, i) = (13, 4);
    let (uid, iid): (usize, usize) = (
        file.user_id(u).parse().unwrap(),
        file.item_id(i).parse().unwrap(),
    );
    assert!(rows[uid].starts_with(&format!("p{uid} T ")));
    assert!(rows[m + iid].starts_with(&format!("q{iid} T ")));
    let (p, q) = (parse(rows[uid]), parse(rows[m + iid]));
    let dot: f32 = p.iter().zip(&q).map(|(a, b)| a * b).sum();
    assert!(
        (dot - model.predict(u, i)).abs() < 1e-4,
        "{dot} vs {}",
        model.predict(u, i)
    );
    let layout: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("libmf.json")).unwrap()).unwrap();
    assert_eq!(layout["layout"], "original_id");
}

#[test]
fn bad_export_requests_fail_cleanly() {
    let f = sparse(false, 45);
    let dir = f.path("x");
    // Without status.json nothing says which data file the model was
    // trained on, so csv needs --data.
    std::fs::remove_file(f.model.join("status.json")).unwrap();
    let err = fails(
        &[
            "export",
            "--model",
            f.model_arg(),
            "--format",
            "csv",
            "-o",
            dir.to_str().unwrap(),
        ],
        2,
    );
    assert!(err.contains("--data"), "{err}");
    fails(
        &[
            "export",
            "--model",
            f.model_arg(),
            "--format",
            "parquet",
            "-o",
            dir.to_str().unwrap(),
        ],
        2,
    );
    let other = sparse(false, 46);
    let err = fails(
        &[
            "export",
            "--model",
            f.model_arg(),
            "--data",
            other.data_arg(),
            "--format",
            "npy",
            "-o",
            dir.to_str().unwrap(),
        ],
        2,
    );
    assert!(err.contains("another data file"), "{err}");
    let blocker = f.path("file");
    std::fs::write(&blocker, b"x").unwrap();
    let err = fails(
        &[
            "export",
            "--model",
            f.model_arg(),
            "--format",
            "npy",
            "-o",
            blocker.to_str().unwrap(),
        ],
        1,
    );
    assert!(err.contains("file"), "{err}");
}

#[test]
fn the_library_call_returns_what_it_wrote_and_refuses_csv_without_the_data() {
    use funkd::export::{export, Format};
    use funkd::report::Silent;
    use funkd::trained::{load_checked_model, open_data};

    let f = sparse(false, 7);
    let loaded = load_checked_model(&f.model, &Silent).unwrap();
    let data = open_data(&f.data).unwrap();
    let out = f.path("npy");
    let report = export(&loaded, Some(&data), Format::Npy, &out).unwrap();
    assert_eq!(
        report.files,
        [
            "user_factors.npy",
            "item_factors.npy",
            "user_bias.npy",
            "item_bias.npy",
            "user_ids.txt",
            "item_ids.txt",
            "model.json"
        ]
    );
    for name in &report.files {
        assert!(out.join(name).is_file(), "{name}");
    }
    let model = f.model();
    assert_eq!(
        (report.users, report.items, report.rank),
        (model.users(), model.items(), model.rank)
    );

    let refused = export(&loaded, None, Format::Csv, &f.path("csv")).unwrap_err();
    assert_eq!(funkd::error::exit_code(&refused), 2, "{refused:#}");
}
