//! `funkd recommend`: the top-N items for a user.

use crate::fixture::{fails, json, ok, sparse, write_file};

/// Internal ids of the items internal user `u` rated (both splits).
fn rated(f: &crate::fixture::Fixture, u: usize) -> Vec<usize> {
    let set = f.open().to_rating_set();
    set.train
        .iter()
        .chain(&set.test)
        .filter(|t| t.user as usize == u)
        .map(|t| t.item as usize)
        .collect()
}

#[test]
fn the_top_items_are_the_best_unrated_ones_by_the_model() {
    let f = sparse(false, 31);
    let file = f.open();
    let model = f.model();
    let u = 4;
    let seen = rated(&f, u);
    assert!(!seen.is_empty());
    let out = json(&[
        "recommend",
        "--data",
        f.data_arg(),
        "--model",
        f.model_arg(),
        "--user",
        file.user_id(u),
        "--top",
        "7",
    ]);
    let items = out["items"].as_array().unwrap();
    assert_eq!(items.len(), 7);
    let mut unique = seen.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(out["excluded"], unique.len() as u64);
    // Brute force through the library's prediction.
    let mut want: Vec<(usize, f32)> = (0..file.items())
        .filter(|i| !seen.contains(i))
        .map(|i| (i, model.predict(u, i)))
        .collect();
    want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    for (k, item) in items.iter().enumerate() {
        assert_eq!(item["rank"], k as u64 + 1);
        assert_eq!(item["item"], file.item_id(want[k].0), "position {k}");
        assert!((item["score"].as_f64().unwrap() - f64::from(want[k].1)).abs() < 1e-4);
        assert!(item["title"].is_null());
    }
}

#[test]
fn include_rated_may_recommend_what_the_user_rated() {
    let f = sparse(false, 32);
    let file = f.open();
    let u = 2;
    let n = file.items().to_string();
    let out = json(&[
        "recommend",
        "--data",
        f.data_arg(),
        "--model",
        f.model_arg(),
        "--user",
        file.user_id(u),
        "--top",
        &n,
        "--include-rated",
    ]);
    assert_eq!(out["items"].as_array().unwrap().len(), file.items());
    assert_eq!(out["excluded"], 0);
}

#[test]
fn titles_are_shown_from_a_movielens_or_netflix_titles_file() {
    let f = sparse(false, 33);
    let file = f.open();
    let u = 0;
    let out = json(&[
        "recommend",
        "--data",
        f.data_arg(),
        "--model",
        f.model_arg(),
        "--user",
        file.user_id(u),
        "--top",
        "3",
    ]);
    let ids: Vec<String> = out["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item"].as_str().unwrap().to_owned())
        .collect();
    // Netflix movie_titles.txt (commas in titles) and MovieLens u.item (Latin-1).
    let mut netflix = String::new();
    let mut movielens = Vec::new();
    for (k, id) in ids.iter().enumerate() {
        netflix.push_str(&format!("{id},1999,Movie {k}, the sequel\n"));
        movielens.extend_from_slice(format!("{id}|Caf").as_bytes());
        movielens.push(0xe9);
        movielens.extend_from_slice(format!(" {k} (1995)|01-Jan-1995||http://x|0|1\n").as_bytes());
    }
    let nf = write_file(f.dir.path(), "movie_titles.txt", netflix.as_bytes());
    let out = json(&[
        "recommend",
        "--data",
        f.data_arg(),
        "--model",
        f.model_arg(),
        "--user",
        file.user_id(u),
        "--top",
        "3",
        "--titles",
        &nf,
    ]);
    assert_eq!(out["items"][1]["title"], "Movie 1, the sequel (1999)");
    let ml = write_file(f.dir.path(), "u.item", &movielens);
    let text = ok(&[
        "recommend",
        "--data",
        f.data_arg(),
        "--model",
        f.model_arg(),
        "--user",
        file.user_id(u),
        "--top",
        "3",
        "--titles",
        &ml,
    ]);
    assert!(text.contains("Café 2 (1995)"), "{text}");
}

#[test]
fn unknown_users_missing_titles_and_bad_flags_fail_cleanly() {
    let f = sparse(false, 34);
    let err = fails(
        &[
            "recommend",
            "--data",
            f.data_arg(),
            "--model",
            f.model_arg(),
            "--user",
            "nobody",
        ],
        2,
    );
    assert!(err.contains("nobody"), "{err}");
    let err = fails(
        &[
            "recommend",
            "--data",
            f.data_arg(),
            "--model",
            f.model_arg(),
            "--user",
            "1",
            "--titles",
            "/nonexistent/u.item",
        ],
        1,
    );
    assert!(err.contains("/nonexistent/u.item"), "{err}");
    let garbage = write_file(f.dir.path(), "titles.txt", b"no titles here\n");
    let err = fails(
        &[
            "recommend",
            "--data",
            f.data_arg(),
            "--model",
            f.model_arg(),
            "--user",
            "1",
            "--titles",
            &garbage,
        ],
        1,
    );
    assert!(err.contains("titles"), "{err}");
    fails(
        &[
            "recommend",
            "--data",
            f.data_arg(),
            "--model",
            f.model_arg(),
            "--user",
            "1",
            "--top",
            "0",
        ],
        2,
    );
    let other = sparse(false, 35);
    let err = fails(
        &[
            "recommend",
            "--data",
            other.data_arg(),
            "--model",
            f.model_arg(),
            "--user",
            "1",
        ],
        2,
    );
    assert!(err.contains("another data file"), "{err}");
}

#[test]
fn the_library_call_returns_the_best_unrated_items_by_the_models_prediction() {
    use funkd::model::Scored;
    use funkd::report::Silent;
    use funkd::trained::recommend::{recommend, RecommendConfig};
    use funkd::trained::ModelWithData;

    let f = sparse(false, 6);
    let trained = ModelWithData::open(&f.model, Some(&f.data), &Silent).unwrap();
    let model = f.model();
    let user = 3;
    let seen = rated(&f, user);
    assert!(!seen.is_empty());
    let config = RecommendConfig {
        user,
        top: 5,
        include_rated: false,
        isa: funk_kernel::Isa::Scalar,
    };
    let found = recommend(&trained, &config).unwrap();
    let mut want: Vec<Scored> = (0..model.items())
        .filter(|i| !seen.contains(i))
        .map(|i| Scored {
            item: i,
            score: model.predict(user, i),
        })
        .collect();
    want.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.item.cmp(&b.item)));
    assert_eq!(found.top, want[..5]);
    assert_eq!(found.excluded, seen.len());
    assert_eq!(found.items_scored, model.items() - seen.len());

    let everything = RecommendConfig {
        top: model.items(),
        include_rated: true,
        ..config
    };
    let all = recommend(&trained, &everything).unwrap();
    assert_eq!((all.excluded, all.top.len()), (0, model.items()));
}
