"""Ctrl-C, a failing progress callback, and resuming: a stopped run leaves
a checkpoint, and training on from it ends with the same bits as a run that
never stopped."""

import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import funk

FLAGS = dict(factors=8, epochs=6, seed=5)

CHILD = textwrap.dedent("""
    import sys, funk
    def progress(record):
        print("epoch", record["epoch"], flush=True)
    try:
        funk.train(sys.argv[1], checkpoint_dir=sys.argv[2], factors=8, epochs=6, seed=5,
                   progress=progress, _stratum_delay_ms=40)
        print("finished", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(3)
""")


def test_ctrl_c_stops_with_a_checkpoint_and_the_run_resumes_to_the_same_bits(rating_file, tmp_path):
    straight = funk.train(str(rating_file), **FLAGS)
    run = tmp_path / "run"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(rating_file), str(run)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = child.stdout.readline()
    assert first.startswith("epoch 1"), first + child.stderr.read()
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 3, out + err
    assert "interrupted" in out and "finished" not in out
    resumed = funk.train(str(rating_file), checkpoint_dir=run, **FLAGS)
    epoch, _ = resumed.summary["resumed_from"]
    assert 1 <= epoch < 6, "the run stopped before its end"
    assert resumed.model_hash == straight.model_hash


def test_an_exception_in_the_progress_callback_stops_the_run_and_is_raised(rating_file, tmp_path):
    seen = []

    def progress(record):
        seen.append(record)
        if record["epoch"] == 2:
            raise RuntimeError("enough")

    with pytest.raises(RuntimeError, match="enough"):
        funk.train(str(rating_file), checkpoint_dir=tmp_path / "run", progress=progress, **FLAGS)
    assert [r["epoch"] for r in seen] == [1, 2]
    assert {"train_rmse", "test_rmse", "validation_rmse", "seconds"} <= set(seen[0])
    straight = funk.train(str(rating_file), **FLAGS)
    resumed = funk.train(str(rating_file), checkpoint_dir=tmp_path / "run", **FLAGS)
    assert resumed.summary["resumed_from"][0] == 2
    assert resumed.model_hash == straight.model_hash


def test_more_epochs_train_on_from_a_finished_run(ratings, tmp_path):
    flags = dict(factors=6, seed=3, validation=0)
    straight = funk.train(ratings.train, epochs=5, **flags)
    funk.train(ratings.train, epochs=2, checkpoint_dir=tmp_path / "run", **flags)
    more = funk.train(ratings.train, epochs=5, checkpoint_dir=tmp_path / "run", **flags)
    assert more.summary["resumed_from"] == [2, 0]
    assert more.model_hash == straight.model_hash


def test_training_releases_the_gil(rating_file):
    ticks = 0
    done = threading.Event()

    def count():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    counter = threading.Thread(target=count)
    counter.start()
    try:
        before = ticks
        funk.train(str(rating_file), factors=4, epochs=2, _stratum_delay_ms=20)
        during = ticks - before
    finally:
        done.set()
        counter.join()
    # A GIL held for the whole run would leave the counter where it was.
    assert during > 20
