"""funk.train and funk.Model give what the funkd command line gives on the
same inputs: the same model bits, the same predictions and rankings."""

import json
import os

import numpy as np

import funk
from conftest import cli_train

FLAGS = dict(factors=8, epochs=6, seed=5)
CLI_FLAGS = ["--factors", "8", "--epochs", "6", "--seed", "5"]


def test_a_rating_file_trains_to_the_same_bits_as_funkd_train(funkd, rating_file, tmp_path):
    cli = cli_train(funkd, rating_file, tmp_path / "cli", *CLI_FLAGS)
    model = funk.train(str(rating_file), checkpoint_dir=tmp_path / "py", **FLAGS)
    assert model.summary["model_hash"] == cli["model_hash"]
    assert model.model_hash == cli["model_hash"]
    assert model.summary["test_rmse"] == cli["test_rmse"]
    # The checkpoint the CLI wrote loads to the very same parameters.
    from_cli = funk.Model.load(tmp_path / "cli")
    np.testing.assert_array_equal(from_cli.user_factors, model.user_factors)
    np.testing.assert_array_equal(from_cli.item_biases, model.item_biases)


def test_arrays_train_to_the_same_bits_as_funkd_import_and_train(funkd, ratings, tmp_path):
    cli = cli_train(funkd, _import(funkd, ratings, tmp_path), tmp_path / "cli", *CLI_FLAGS)
    model = funk.train(ratings.train, test=ratings.test, rating_range=(1, 5), **FLAGS)
    assert model.model_hash == cli["model_hash"]
    assert model.summary["test_rmse"] == cli["test_rmse"]
    assert model.summary["validation_rmse"] == cli["validation_rmse"]


def test_negative_and_wide_integer_ids_train_to_the_same_bits_as_funkd_import(funkd, ratings,
                                                                               tmp_path):
    # Ids numbered natively must match funkd's numbering of their text.
    u, i, r = ratings.train
    users = np.where(u % 2 == 0, -u, u + 2**40)
    items = (i * 7).astype(np.int32)
    ratings.write_csv(tmp_path / "wide.csv", (users, items, r))
    data = tmp_path / "wide.funk"
    funkd("import", "--format", "csv", "--train", tmp_path / "wide.csv", "--rating-range", "1,5",
          "-o", data, "--quiet")
    cli = cli_train(funkd, data, tmp_path / "cli", *CLI_FLAGS)
    model = funk.train((users, items, r), rating_range=(1, 5), **FLAGS)
    assert model.model_hash == cli["model_hash"]
    assert model.user_ids.tolist() == funk.Model.load(tmp_path / "cli").user_ids.tolist()


def test_a_temporary_run_writes_the_rating_file_a_kept_run_writes(ratings, tmp_path):
    # Without checkpoint_dir the file is written without syncing it to the
    # disk; its bytes must not change.
    temporary = funk.train(ratings.train, test=ratings.test, rating_range=(1, 5), **FLAGS)
    kept = funk.train(ratings.train, test=ratings.test, rating_range=(1, 5),
                      checkpoint_dir=tmp_path / "run", **FLAGS)
    assert os.path.dirname(temporary.data_path) != os.path.dirname(kept.data_path)
    with open(temporary.data_path, "rb") as a, open(kept.data_path, "rb") as b:
        assert a.read() == b.read()
    assert temporary.model_hash == kept.model_hash


def test_a_dataframe_trains_to_the_same_bits_as_its_arrays(ratings):
    import pandas as pd

    u, i, r = ratings.train
    df = pd.DataFrame({"rating": r, "movie": i, "viewer": u})
    from_df = funk.train(df, columns=("viewer", "movie", "rating"), **FLAGS)
    from_arrays = funk.train((u, i, r), **FLAGS)
    assert from_df.model_hash == from_arrays.model_hash


def test_the_thread_count_does_not_change_the_model(rating_file):
    one = funk.train(str(rating_file), threads=1, **FLAGS)
    two = funk.train(str(rating_file), threads=2, **FLAGS)
    assert one.model_hash == two.model_hash


def test_predictions_equal_funkd_predict(funkd, rating_file, ratings, tmp_path):
    model = funk.train(str(rating_file), checkpoint_dir=tmp_path / "run", **FLAGS)
    u, i, _ = ratings.test
    users = list(u[:40]) + [999_999, u[0], 999_999]
    items = list(i[:40]) + [i[0], 999_999, 999_998]  # every fallback, too
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("".join(f"{a}\t{b}\n" for a, b in zip(users, items)))
    cli = json.loads(funkd("predict", "--model", tmp_path / "run", "--pairs", pairs, "--json").stdout)
    expected = np.array([p["prediction"] for p in cli["predictions"]], dtype=np.float32)
    got = model.predict(np.array(users), np.array(items))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)
    assert model.predict(users[0], items[0]) == float(expected[0])


def test_recommendations_equal_funkd_recommend(funkd, rating_file, ratings, tmp_path):
    model = funk.train(str(rating_file), checkpoint_dir=tmp_path / "run", **FLAGS)
    user = ratings.train[0][0]
    for include in [False, True]:
        flags = ["--include-rated"] if include else []
        cli = json.loads(funkd("recommend", "--model", tmp_path / "run", "--user", user,
                               "--top", "10", "--json", *flags).stdout)
        items, scores = model.recommend(user, 10, exclude_rated=not include, return_scores=True)
        assert len(items) == 10
        assert [str(x) for x in items] == [r["item"] for r in cli["items"]]
        np.testing.assert_array_equal(scores, np.array([r["score"] for r in cli["items"]],
                                                       dtype=np.float32))


def test_evaluate_equals_funkd_eval(funkd, rating_file, tmp_path):
    model = funk.train(str(rating_file), checkpoint_dir=tmp_path / "run", **FLAGS)
    cli = json.loads(funkd("eval", "--model", tmp_path / "run", "--json").stdout)
    got = model.evaluate()
    assert got["rmse"] == cli["test"]["rmse"]
    assert got["mae"] == cli["test"]["mae"]
    assert got["count"] == cli["test"]["count"]


def _import(funkd, ratings, tmp_path):
    ratings.write_csv(tmp_path / "train.csv", ratings.train)
    ratings.write_csv(tmp_path / "test.csv", ratings.test)
    out = tmp_path / "data.funk"
    funkd("import", "--format", "csv", "--train", tmp_path / "train.csv", "--test",
          tmp_path / "test.csv", "--rating-range", "1,5", "-o", out, "--quiet")
    return out
