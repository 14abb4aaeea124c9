"""Bad input raises a Python exception with the CLI's message; it never
crashes the interpreter."""

import numpy as np
import pytest

import funk


def test_bad_options_raise_usage_errors_in_the_clis_words(ratings):
    with pytest.raises(funk.UsageError, match=r"--factors 0 must be within 1\.\.=256"):
        funk.train(ratings.train, factors=0)
    with pytest.raises(funk.UsageError, match=r"--epochs must be at least 1"):
        funk.train(ratings.train, epochs=0)
    with pytest.raises(funk.UsageError, match=r"method=\"newton\": expected one of \"sgd\", \"gd\""):
        funk.train(ratings.train, method="newton")
    with pytest.raises(funk.UsageError, match=r"--validation 0.9 must be within"):
        funk.train(ratings.train, validation=0.9)
    with pytest.raises(ValueError, match=r"factors=-3"):
        funk.train(ratings.train, factors=-3)


def test_bad_data_raises_usage_errors(ratings):
    u, i, r = ratings.train
    with pytest.raises(funk.UsageError, match="differ in length"):
        funk.train((u, i[:-1], r))
    bad = r.copy()
    bad[3] = np.nan
    with pytest.raises(funk.UsageError, match=r"rating #3 .* not a finite number"):
        funk.train((u, i, bad))
    with pytest.raises(funk.UsageError, match=r"outside the rating range 1\.\.5"):
        funk.train((u, i, r + 1), rating_range=(1, 5))
    with pytest.raises(funk.UsageError, match="ratings must be numbers"):
        funk.train((u, i, ["good"] * len(u)))
    with pytest.raises(funk.UsageError, match="id #0 is missing"):
        funk.train(([None] + list(u[1:]), i, r))
    with pytest.raises(funk.UsageError, match="expected \\(users, items, ratings\\)"):
        funk.train(42)
    with pytest.raises(funk.UsageError, match="more than once"):
        funk.train((np.r_[u, u[:1]], np.r_[i, i[:1]], np.r_[r, r[:1]]), duplicates="error")


def test_a_missing_or_foreign_file_raises_funk_error(tmp_path):
    with pytest.raises(funk.FunkError, match="cannot open the rating file"):
        funk.train(str(tmp_path / "nope.funk"))
    junk = tmp_path / "junk.funk"
    junk.write_bytes(b"not a rating file at all" * 40)
    with pytest.raises(funk.FunkError):
        funk.train(str(junk))
    with pytest.raises(funk.FunkError):
        funk.Model.load(tmp_path)


def test_options_for_building_a_file_are_refused_with_a_file(rating_file, ratings):
    with pytest.raises(funk.UsageError, match="test_fraction: only for ratings given as arrays"):
        funk.train(str(rating_file), test_fraction=0.1)


def test_unknown_ids_raise_key_errors_for_queries_that_need_them(ratings):
    model = funk.train(ratings.train, factors=2, epochs=1)
    with pytest.raises(KeyError, match="no such user"):
        model.recommend("nobody", 3)
    with pytest.raises(funk.UnknownIdError, match="no such item"):
        model.similar_items(-12345, 3)
    with pytest.raises(funk.UsageError, match="n=-1"):
        model.recommend(ratings.train[0][0], -1)
    with pytest.raises(funk.UsageError, match="differ in length"):
        model.predict([1, 2], [3])


def test_resuming_with_other_settings_is_refused_in_the_clis_words(ratings, tmp_path):
    funk.train(ratings.train, factors=4, epochs=1, checkpoint_dir=tmp_path / "run")
    with pytest.raises(funk.UsageError, match=r"another rank: --factors 6 \(the run there: --factors 4\)"):
        funk.train(ratings.train, factors=6, epochs=2, checkpoint_dir=tmp_path / "run")
    u, i, r = ratings.train
    with pytest.raises(funk.UsageError, match="trained on another data file"):
        funk.train((u[:-5], i[:-5], r[:-5]), factors=4, epochs=2, checkpoint_dir=tmp_path / "run")
    # The refused data left nothing behind; fresh=True starts over.
    assert len(list((tmp_path / "run").glob("ratings-*.funk"))) == 1
    model = funk.train((u[:-5], i[:-5], r[:-5]), factors=6, epochs=1,
                       checkpoint_dir=tmp_path / "run", fresh=True)
    assert model.rank == 6
    assert len(list(tmp_path.glob("run.old-*"))) == 1
