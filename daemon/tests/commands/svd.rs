//! `funkd svd`: singular values recovered from trained factors.

use funkd::gen::{generate, GenConfig};
use funkd::ratingfile::RatingFile;
use nalgebra::DMatrix;

use crate::fixture::{fails, json, ok, rel, sparse};

/// The dense matrix of a fully observed rating file, by internal id.
fn dense_matrix(file: &RatingFile) -> DMatrix<f64> {
    let set = file.to_rating_set();
    let mut a = DMatrix::<f64>::from_element(file.users(), file.items(), f64::NAN);
    for t in set.train.iter().chain(&set.test) {
        a[(t.user as usize, t.item as usize)] = f64::from(t.value);
    }
    assert!(a.iter().all(|v| v.is_finite()), "not fully observed");
    a
}

#[test]
fn gradient_trained_plain_factors_of_a_dense_matrix_give_its_top_singular_values() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("dense.funk");
    let config = GenConfig {
        rank: 3,
        noise: 0.1,
        test_fraction: 0.0,
        seed: 5,
        dense: Some((60, 40)),
        ..GenConfig::default()
    };
    generate(&config, &data).unwrap();
    let run = dir.path().join("run");
    let (data_arg, run_arg) = (data.to_str().unwrap(), run.to_str().unwrap());
    // Plain SGD without regularisation, the learning rate decaying so the
    // factors settle on the Eckart–Young minimiser.
    ok(&[
        "train",
        "--data",
        data_arg,
        "--checkpoint-dir",
        run_arg,
        "--plain",
        "--reg",
        "0",
        "--factors",
        "3",
        "--epochs",
        "300",
        "--learning-rate",
        "0.02",
        "--decay",
        "0.02",
        "--quiet",
    ]);
    let reference = dense_matrix(&RatingFile::open(&data).unwrap())
        .svd(false, false)
        .singular_values;
    let out = json(&["svd", "--model", run_arg, "--data", data_arg]);
    let got: Vec<f64> = out["singular_values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(got.len(), 3);
    for (k, (g, w)) in got.iter().zip(reference.iter()).enumerate() {
        assert!(rel(*g, *w) < 1e-3, "σ{} = {g}, reference {w}", k + 1);
    }
}

#[test]
fn vectors_written_by_svd_rebuild_the_factor_product() {
    let f = sparse(false, 21);
    let out_dir = f.path("svd");
    let out = json(&[
        "svd",
        "--model",
        f.model_arg(),
        "-o",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out["rank"], 6);
    let s = out["numerical_rank"].as_u64().unwrap() as usize;
    assert_eq!(s, 6);
    let model = f.model();
    let read = |name: &str| -> Vec<u8> { std::fs::read(out_dir.join(name)).unwrap() };
    let values = |bytes: &[u8], width: usize| -> Vec<f64> {
        let header = 10 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        bytes[header..]
            .chunks_exact(width)
            .map(|c| {
                if width == 4 {
                    f64::from(f32::from_le_bytes(c.try_into().unwrap()))
                } else {
                    f64::from_le_bytes(c.try_into().unwrap())
                }
            })
            .collect()
    };
    let sigma = values(&read("S.npy"), 8);
    let u = values(&read("U.npy"), 4);
    let v = values(&read("V.npy"), 4);
    assert_eq!(u.len(), model.users() * s);
    assert_eq!(v.len(), model.items() * s);
    // U Σ Vᵀ = P Qᵀ entry by entry (f32 storage of U and V: 1e-5).
    for (uu, ii) in [(0, 0), (17, 5), (model.users() - 1, model.items() - 1)] {
        let rebuilt: f64 = (0..s)
            .map(|k| u[uu * s + k] * sigma[k] * v[ii * s + k])
            .sum();
        let direct: f64 = model
            .user_row(uu)
            .iter()
            .zip(model.item_row(ii))
            .map(|(a, b)| f64::from(*a) * f64::from(*b))
            .sum();
        assert!(
            (rebuilt - direct).abs() < 1e-5 * (1.0 + direct.abs()),
            "({uu}, {ii}): {rebuilt} vs {direct}"
        );
    }
    let text = ok(&["svd", "--model", f.model_arg()]);
    assert!(text.contains("singular values"), "{text}");
}

#[test]
fn svd_refuses_a_model_of_another_data_file() {
    let a = sparse(false, 22);
    let b = sparse(false, 23);
    let err = fails(
        &["svd", "--model", a.model_arg(), "--data", b.data_arg()],
        2,
    );
    assert!(err.contains("another data file"), "{err}");
    let err = fails(&["svd", "--model", "/nonexistent/run"], 1);
    assert!(err.contains("/nonexistent/run"), "{err}");
}

#[test]
fn the_library_call_returns_the_singular_values_of_the_factor_product() {
    use funkd::report::Silent;
    use funkd::trained::load_checked_model;

    let f = sparse(true, 8);
    let loaded = load_checked_model(&f.model, &Silent).unwrap();
    let model = &loaded.model;
    let report = funkd::svd::svd(&loaded, None, None).unwrap();
    assert!(report.files.is_empty());
    assert_eq!(report.kind, "plain");
    assert_eq!(report.singular_values.len(), model.rank);
    let product = DMatrix::<f64>::from_fn(model.users(), model.items(), |u, i| {
        model
            .user_row(u)
            .iter()
            .zip(model.item_row(i))
            .map(|(p, q)| f64::from(*p) * f64::from(*q))
            .sum()
    });
    let want = product.clone().svd(false, false).singular_values;
    for (got, want) in report.singular_values.iter().zip(want.iter()) {
        assert!(rel(*got, *want) < 1e-6, "{got} vs {want}");
    }
    assert!(rel(report.frobenius_norm, product.norm()) < 1e-9);

    let out = f.path("svd");
    let written = funkd::svd::svd(&loaded, None, Some(&out)).unwrap();
    assert_eq!(written.files, ["S.npy", "U.npy", "V.npy"]);
    assert_eq!(written.singular_values, report.singular_values);
    assert!(out.join("V.npy").is_file());
}
