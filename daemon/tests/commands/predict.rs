//! `funkd predict`: by original ids, with documented fallbacks.

use crate::fixture::{clamped, fails, funkd_with_stdin, json, ok, sparse, write_file};

#[test]
fn a_known_pair_gets_the_clamped_model_prediction() {
    let f = sparse(false, 11);
    let file = f.open();
    let model = f.model();
    for (u, i) in [
        (0usize, 0usize),
        (7, 3),
        (file.users() - 1, file.items() - 1),
    ] {
        let (user, item) = (file.user_id(u), file.item_id(i));
        let out = json(&[
            "predict",
            "--data",
            f.data_arg(),
            "--model",
            f.model_arg(),
            "--user",
            user,
            "--item",
            item,
        ]);
        let p = &out["predictions"][0];
        assert_eq!(p["user"], user);
        assert_eq!(p["item"], item);
        assert_eq!(p["source"], "model");
        let want = clamped(&model, u, i, file.rating_range());
        assert!(
            (p["prediction"].as_f64().unwrap() - want).abs() < 1e-6,
            "{p} vs {want}"
        );
    }
}

#[test]
fn unknown_ids_get_the_documented_fallbacks() {
    let f = sparse(false, 12);
    let file = f.open();
    let model = f.model();
    let item = file.item_id(5);
    let user = file.user_id(9);
    let text = "# user item\nnobody\t{item}\n{user},nothing\nnobody nothing\n"
        .replace("{item}", item)
        .replace("{user}", user);
    let pairs = write_file(f.dir.path(), "pairs.tsv", text.as_bytes());
    let out = json(&[
        "predict",
        "--data",
        f.data_arg(),
        "--model",
        f.model_arg(),
        "--pairs",
        &pairs,
    ]);
    assert_eq!(out["count"], 3);
    assert_eq!(out["fallbacks"], 3);
    let p = out["predictions"].as_array().unwrap();
    let range = |v: f32| f64::from(v.clamp(1.0, 5.0));
    assert_eq!(p[0]["source"], "item_bias");
    assert!(
        (p[0]["prediction"].as_f64().unwrap() - range(model.mu + model.item_bias[5])).abs() < 1e-6
    );
    assert_eq!(p[1]["source"], "user_bias");
    assert!(
        (p[1]["prediction"].as_f64().unwrap() - range(model.mu + model.user_bias[9])).abs() < 1e-6
    );
    assert_eq!(p[2]["source"], "global_mean");
    assert!((p[2]["prediction"].as_f64().unwrap() - range(model.mu)).abs() < 1e-6);
}

#[test]
fn the_plain_model_falls_back_to_the_mean_rating() {
    let f = sparse(true, 13);
    let file = f.open();
    let out = json(&[
        "predict",
        "--data",
        f.data_arg(),
        "--model",
        f.model_arg(),
        "--user",
        "nobody",
        "--item",
        file.item_id(0),
    ]);
    let p = &out["predictions"][0];
    assert_eq!(p["source"], "global_mean");
    assert!((p["prediction"].as_f64().unwrap() - file.mean()).abs() < 1e-5);
}

#[test]
fn pairs_from_stdin_print_one_line_each() {
    let f = sparse(false, 14);
    let file = f.open();
    let input = format!(
        "{} {}\n{} {}\n",
        file.user_id(1),
        file.item_id(2),
        file.user_id(3),
        file.item_id(4)
    );
    let out = funkd_with_stdin(
        &[
            "predict",
            "--data",
            f.data_arg(),
            "--model",
            f.model_arg(),
            "--pairs",
            "-",
        ],
        Some(&input),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    let fields: Vec<&str> = lines[1].split('\t').collect();
    assert_eq!(fields[0], file.user_id(3));
    assert_eq!(fields[1], file.item_id(4));
    let value: f64 = fields[2].parse().unwrap();
    assert!((value - clamped(&f.model(), 3, 4, file.rating_range())).abs() < 1e-6);
    assert_eq!(fields[3], "model");
}

#[test]
fn bad_pair_lists_and_flag_combinations_fail_cleanly() {
    let f = sparse(false, 15);
    let pairs = write_file(f.dir.path(), "bad.txt", b"1 2\nlonely\n");
    let err = fails(
        &[
            "predict",
            "--data",
            f.data_arg(),
            "--model",
            f.model_arg(),
            "--pairs",
            &pairs,
        ],
        1,
    );
    assert!(err.contains("bad.txt:2"), "{err}");
    let err = fails(
        &[
            "predict",
            "--data",
            f.data_arg(),
            "--model",
            f.model_arg(),
            "--pairs",
            "/nonexistent/pairs",
        ],
        1,
    );
    assert!(err.contains("/nonexistent/pairs"), "{err}");
    fails(
        &["predict", "--data", f.data_arg(), "--model", f.model_arg()],
        2,
    );
    fails(
        &[
            "predict",
            "--data",
            f.data_arg(),
            "--model",
            f.model_arg(),
            "--user",
            "1",
        ],
        2,
    );
    let other = sparse(false, 16);
    let err = fails(
        &[
            "predict",
            "--data",
            other.data_arg(),
            "--model",
            f.model_arg(),
            "--user",
            "1",
            "--item",
            "1",
        ],
        2,
    );
    assert!(err.contains("another data file"), "{err}");
    let text = ok(&[
        "predict",
        "--data",
        f.data_arg(),
        "--model",
        f.model_arg(),
        "--user",
        "1",
        "--item",
        "1",
    ]);
    assert_eq!(text.lines().count(), 1);
}

#[test]
fn the_library_call_predicts_pairs_in_order_with_fallbacks() {
    use funkd::input::pairs::Pair;
    use funkd::model::Source;
    use funkd::report::Silent;
    use funkd::trained::predict::predict_pairs;
    use funkd::trained::ModelWithData;

    let f = sparse(false, 10);
    let trained = ModelWithData::open(&f.model, Some(&f.data), &Silent).unwrap();
    let data = &trained.data;
    let model = f.model();
    let (user, item) = (data.user_id(4).to_owned(), data.item_id(7).to_owned());
    let pair = |user: &str, item: &str| Pair {
        user: user.to_owned(),
        item: item.to_owned(),
    };
    let pairs = [pair(&user, &item), pair("no such user", &item)];
    let range = data.rating_range();
    let got = predict_pairs(&trained, &pairs, range);
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].user, got[0].item), (user.as_str(), item.as_str()));
    assert_eq!(got[0].source, Source::Model);
    assert_eq!(f64::from(got[0].prediction), clamped(&model, 4, 7, range));
    assert_eq!(got[1].source, Source::ItemBias);
    assert_eq!(
        got[1].prediction,
        funk_kernel::clamp(model.mu + model.item_bias[7], range)
    );
    let unclamped = predict_pairs(&trained, &pairs[..1], None);
    assert_eq!(unclamped[0].prediction, model.predict(4, 7));
}
