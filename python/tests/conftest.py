"""Fixtures: a small synthetic data set (made here, never downloaded), the
same ratings as a CSV file and as a rating file made by ``funkd import``,
and the ``funkd`` binary to compare with."""

import json
import os
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1]
REPO = PACKAGE.parent


def _find_funkd() -> pathlib.Path:
    """``$FUNKD``, else a funkd built in this clone, else one built now
    (into the package's own target directory, next to the extension)."""
    given = os.environ.get("FUNKD")
    if given:
        return pathlib.Path(given)
    for candidate in [PACKAGE / "target/release/funkd", REPO / "target/release/funkd",
                      REPO / "target/debug/funkd"]:
        if candidate.is_file():
            return candidate
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "funkd",
                    "--manifest-path", str(PACKAGE / "Cargo.toml")], check=True)
    return PACKAGE / "target/release/funkd"


@pytest.fixture(scope="session")
def funkd():
    binary = _find_funkd()

    def run(*args, check=True):
        done = subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True)
        if check and done.returncode != 0:
            raise AssertionError(f"funkd {' '.join(map(str, args))} failed "
                                 f"({done.returncode}): {done.stderr}")
        return done

    run.path = binary
    return run


class Ratings:
    """A low-rank 1..5 star data set: train and test (users, items, ratings)."""

    def __init__(self, seed=7, users=150, items=90, count=5000, test=600, rank=4):
        rng = np.random.default_rng(seed)
        p = rng.normal(0, 0.6, (users, rank))
        q = rng.normal(0, 0.6, (items, rank))
        bu = rng.normal(0, 0.4, users)
        bi = rng.normal(0, 0.4, items)
        pairs = rng.choice(users * items, size=count + test, replace=False)
        u, i = pairs // items, pairs % items
        r = 3.6 + bu[u] + bi[i] + np.sum(p[u] * q[i], axis=1) + rng.normal(0, 0.5, len(u))
        r = np.clip(np.round(r), 1, 5)
        # Ids as a real data set has them: not dense, not in order.
        user_ids = rng.permutation(10_000)[:users] + 1
        item_ids = rng.permutation(5_000)[:items] + 1
        self.train = (user_ids[u[:count]], item_ids[i[:count]], r[:count])
        self.test = (user_ids[u[count:]], item_ids[i[count:]], r[count:])

    def write_csv(self, path, part):
        u, i, r = part
        with open(path, "w") as f:
            for a, b, c in zip(u, i, r):
                f.write(f"{a},{b},{c:g}\n")


@pytest.fixture(scope="session")
def ratings():
    return Ratings()


@pytest.fixture(scope="session")
def rating_file(tmp_path_factory, ratings, funkd):
    """The ratings imported by ``funkd import`` (1..5 stars, with the test split)."""
    d = tmp_path_factory.mktemp("data")
    ratings.write_csv(d / "train.csv", ratings.train)
    ratings.write_csv(d / "test.csv", ratings.test)
    out = d / "data.funk"
    funkd("import", "--format", "csv", "--train", d / "train.csv", "--test", d / "test.csv",
          "--rating-range", "1,5", "-o", out, "--quiet")
    return out


def cli_train(funkd, data, run_dir, *flags):
    """``funkd train --json`` on ``data``: its summary."""
    done = funkd("train", "--data", data, "--checkpoint-dir", run_dir, "--quiet", "--json", *flags)
    return json.loads(done.stdout)
