"""The Python API: ids of any kind, DataFrames, arrays out, loading, the
model's queries."""

import os
import shutil

import numpy as np
import pytest

import funk


def _string_frame(ratings, part):
    import pandas as pd

    u, i, r = part
    return pd.DataFrame({"user": [f"u-{x}" for x in u], "item": [f"film {x}" for x in i],
                         "stars": r})


def test_a_dataframe_with_string_ids_round_trips(ratings, tmp_path):
    train = _string_frame(ratings, ratings.train)
    test = _string_frame(ratings, ratings.test)
    model = funk.train(train, test=test, factors=6, epochs=4, checkpoint_dir=tmp_path / "run",
                       rating_range=(1, 5))
    assert model.user_ids.dtype == object
    assert set(model.user_ids) == set(train["user"]) | set(test["user"])
    assert set(model.item_ids) == set(train["item"]) | set(test["item"])
    predicted = model.predict(test["user"], test["item"])
    assert predicted.shape == (len(test),)
    assert np.all((predicted >= 1) & (predicted <= 5))
    user = train["user"].iloc[0]
    top = model.recommend(user, 10)
    assert len(top) == 10 and all(isinstance(x, str) for x in top)
    rated = set(train.loc[train["user"] == user, "item"]) | set(test.loc[test["user"] == user, "item"])
    assert not rated & set(top)
    # The directory alone holds the run: loaded elsewhere, it answers alike.
    moved = shutil.move(str(tmp_path / "run"), str(tmp_path / "moved"))
    loaded = funk.Model.load(moved)
    assert loaded.model_hash == model.model_hash
    np.testing.assert_array_equal(loaded.predict(test["user"], test["item"]), predicted)
    assert list(loaded.recommend(user, 10)) == list(top)
    # Test RMSE on the arrays equals the one on the rating file's test split.
    on_arrays = model.evaluate(test, columns=("user", "item", "stars"))
    assert on_arrays["count"] == len(test)
    assert on_arrays["rmse"] == pytest.approx(model.evaluate()["rmse"], rel=1e-6)


def test_integer_ids_come_back_as_integers(ratings):
    model = funk.train(ratings.train, factors=4, epochs=2)
    assert model.user_ids.dtype == np.int64
    assert set(model.user_ids) == set(ratings.train[0])
    top = model.recommend(int(ratings.train[0][0]), 5)
    assert top.dtype == np.int64 and len(top) == 5
    # The same ids as strings address the same users.
    u, i = ratings.train[0][:5], ratings.train[1][:5]
    np.testing.assert_array_equal(model.predict([str(x) for x in u], [str(x) for x in i]),
                                  model.predict(u, i))


def test_ids_that_are_not_canonical_integers_stay_strings():
    users = ["007", "7", "+7", "x"] * 3
    items = ["a", "b", "c"] * 4
    model = funk.train((users, items, np.arange(12) % 5 + 1.0), factors=2, epochs=1)
    assert sorted(model.user_ids) == ["+7", "007", "7", "x"]
    assert model.predict("007", "a") != model.predict("7", "a")


def test_parameters_are_arrays_in_the_order_of_the_ids(ratings):
    model = funk.train(ratings.train, factors=5, epochs=3)
    users, items = len(model.user_ids), len(model.item_ids)
    assert model.user_factors.shape == (users, 5)
    assert model.item_factors.shape == (items, 5)
    assert model.user_biases.shape == (users,) and model.item_biases.shape == (items,)
    u, i = model.user_ids[3], model.item_ids[7]
    by_hand = (model.global_mean + model.user_biases[3] + model.item_biases[7]
               + model.user_factors[3] @ model.item_factors[7])
    assert model.predict(u, i, clamp=False) == pytest.approx(float(by_hand), abs=1e-5)


def test_svd_reproduces_the_factor_product(ratings):
    model = funk.train(ratings.train, factors=6, epochs=3)
    s, u, v = model.svd()
    assert np.all(np.diff(s) <= 0)
    product = model.user_factors.astype(np.float64) @ model.item_factors.T.astype(np.float64)
    np.testing.assert_allclose((u * s) @ v.T, product, atol=1e-4)


def test_similar_items_leave_the_item_out_and_rank_by_cosine(ratings):
    model = funk.train(ratings.train, factors=6, epochs=3)
    item = model.item_ids[0]
    found, cosines = model.similar_items(item, 5, return_scores=True)
    assert len(found) == 5 and item not in set(found)
    assert np.all(np.diff(cosines) <= 0)
    q = model.item_factors
    j = list(model.item_ids).index(found[0])
    expected = q[0] @ q[j] / (np.linalg.norm(q[0]) * np.linalg.norm(q[j]))
    assert cosines[0] == pytest.approx(float(expected), rel=1e-5)


def test_a_folded_in_user_is_recommended_items_they_did_not_rate(ratings):
    model = funk.train(ratings.train, factors=6, epochs=5, rating_range=(1, 5))
    items = model.item_ids[:8]
    folded = model.fold_in(items, [5, 5, 5, 5, 1, 1, 1, 1])
    assert folded.factors.shape == (6,)
    top = model.recommend(folded, 10)
    assert len(top) == 10 and not set(items) & set(top)
    liked, disliked = model.predict(folded, [items[0], items[7]])
    assert liked > disliked
    with pytest.raises(funk.UnknownIdError):
        model.fold_in(["no such item"], [3])


def test_a_test_fraction_holds_ratings_out(ratings):
    model = funk.train(ratings.train, test_fraction=0.2, factors=4, epochs=2)
    held = model.evaluate()["count"]
    assert 0.15 * len(ratings.train[0]) < held < 0.25 * len(ratings.train[0])
    assert model.summary["test_rmse"] is not None


def test_defaults_are_the_clis(rating_file):
    d = funk.defaults(str(rating_file))
    assert d["factors"] == 32 and d["epochs"] == 20 and d["seed"] == 1
    assert d["learning_rate"] > 0 and d["reg"] > 0
    model = funk.train(str(rating_file), epochs=1, learning_rate=d["learning_rate"],
                       reg=d["reg"], reg_row=d["reg_row"])
    plain = funk.train(str(rating_file), epochs=1)
    assert model.model_hash == plain.model_hash


def test_a_saved_model_outlives_its_temporary_run(ratings, tmp_path, funkd):
    import gc

    model = funk.train(ratings.train, factors=4, epochs=2, rating_range=(1, 5))
    run_dir = os.path.dirname(model.checkpoint)
    u, i = ratings.train[0][:20], ratings.train[1][:20]
    predicted, digest = model.predict(u, i), model.model_hash
    model.save(tmp_path / "kept")
    del model
    gc.collect()
    assert not os.path.exists(run_dir), "the temporary run goes with its model"
    loaded = funk.Model.load(tmp_path / "kept")
    assert loaded.model_hash == digest
    np.testing.assert_array_equal(loaded.predict(u, i), predicted)
    data = next((tmp_path / "kept").glob("ratings-*.funk"))
    out = funkd("predict", "--model", tmp_path / "kept", "--data", data,
                "--user", u[0], "--item", i[0]).stdout
    assert np.float32(out.split("\t")[2]) == predicted[0]


def test_integer_ids_of_any_width_and_sign_are_numbered_in_order_of_first_appearance():
    from funk import _data

    lo, hi = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    codes, names = _data.factorize(np.array([42, -7, 42, 0, lo, -7, hi]), "ids")
    assert codes.dtype == np.uint32
    assert codes.tolist() == [0, 1, 0, 2, 3, 1, 4]
    assert names == ["42", "-7", "0", str(lo), str(hi)]
    codes, names = _data.factorize(np.array([9, 1, 9], dtype=np.uint8), "ids")
    assert (codes.tolist(), names) == ([0, 1, 0], ["9", "1"])
    # Beyond int64: numbered by the general path, same rule.
    codes, names = _data.factorize(np.array([2**64 - 1, 5, 2**64 - 1], dtype=np.uint64), "ids")
    assert (codes.tolist(), names) == ([0, 1, 0], [str(2**64 - 1), "5"])
    # A column of a 2-D array is strided: the same numbers.
    table = np.array([[3, 8], [1, 8], [3, 9]])
    codes, names = _data.factorize(table[:, 0], "ids")
    assert (codes.tolist(), names) == ([0, 1, 0], ["3", "1"])


def test_ids_are_numbered_alike_with_and_without_pandas(monkeypatch, ratings):
    import sys

    from funk import _data

    mixed = np.array([5, "a", 5, 3.0, "b", "a", 3], dtype=object)
    cases = [ratings.train[0], np.array([3.0, 1.0, 3.0, 2.0]), mixed]
    with_pandas = [_data.factorize(c, "ids") for c in cases]
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now fails
    for column, (codes, names) in zip(cases, with_pandas):
        plain_codes, plain_names = _data.factorize(column, "ids")
        np.testing.assert_array_equal(plain_codes, codes)
        assert plain_names == names
    assert with_pandas[2][1] == ["5", "a", "3", "b"]
