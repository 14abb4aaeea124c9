"""A run trained without ``checkpoint_dir`` lives in a temporary directory
under ``$TMPDIR``: removed with its model, and at once when training fails
or is refused, so that nothing is left behind."""

import gc
import pathlib
import tempfile

import pytest

import funk

FLAGS = dict(factors=4, epochs=2, seed=3)


@pytest.fixture
def temp_dir(tmp_path, monkeypatch):
    """A fresh, empty ``$TMPDIR`` for this test (read anew by tempfile)."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    return temp


def left_in(temp):
    return sorted(p.relative_to(temp).as_posix() for p in temp.rglob("*"))


@pytest.mark.parametrize("given", ["arrays", "rating file"])
def test_a_temporary_run_lives_in_tmpdir_and_goes_with_its_model(temp_dir, ratings, rating_file,
                                                                  given):
    if given == "arrays":
        model = funk.train(ratings.train, ratings.test, **FLAGS)
    else:
        model = funk.train(str(rating_file), **FLAGS)
    run_dir = pathlib.Path(model.checkpoint).parent
    assert run_dir.parent == temp_dir and run_dir.name.startswith("funk-run-")
    assert model.predict(ratings.test[0][:3], ratings.test[1][:3]).shape == (3,)
    del model
    gc.collect()
    assert left_in(temp_dir) == []


def test_a_failed_temporary_run_is_removed_while_its_exception_is_still_held(temp_dir, ratings):
    def progress(record):
        raise RuntimeError("enough")

    with pytest.raises(RuntimeError, match="enough") as raised:
        funk.train(ratings.train, ratings.test, progress=progress, **FLAGS)
    # The traceback still holds funk.train's frame, and so its directory
    # object: the directory is gone all the same.
    assert raised.tb is not None
    assert left_in(temp_dir) == []


def test_a_refused_temporary_run_leaves_nothing(temp_dir, ratings):
    with pytest.raises(funk.UsageError) as raised:
        funk.train(ratings.train, ratings.test, schedule="sideways", **FLAGS)
    assert raised.tb is not None
    assert left_in(temp_dir) == []
