"""funk.train against funkd train (and Surprise's SVD, when installed) on
the same MovieLens-1M-sized synthetic ratings, runs alternated so that a
noisy machine slows both alike; prints the median wall-clock seconds of
each and their ratios. From arrays, funk.train numbers the ids and writes
a rating file first: its CLI peer is `funkd import` (of the same ratings as
CSV) followed by `funkd train`; Surprise's peer of it is its own data
preparation (`Dataset.load_from_df(...).build_full_trainset()` from the same
arrays) followed by `SVD.fit`, timed apart and together.

    python benches/vs_cli.py --funkd target/release/funkd [--rounds 5] [--epochs 20] [--surprise-runs 2]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import funk


def ratings(seed=1, users=6040, items=3706, count=1_000_209):
    rng = np.random.default_rng(seed)
    pairs = rng.choice(users * items, size=count, replace=False)
    u, i = pairs // items + 1, pairs % items + 1
    bu, bi = rng.normal(0, 0.4, users + 1), rng.normal(0, 0.4, items + 1)
    r = np.clip(np.round(3.6 + bu[u] + bi[i] + rng.normal(0, 0.9, count)), 1, 5)
    return u, i, r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--funkd", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--surprise-runs", type=int, default=None,
                    help="Surprise runs, one after each of the first rounds (default: rounds / 2)")
    args = ap.parse_args()
    surprise_runs = max(1, args.rounds // 2) if args.surprise_runs is None else args.surprise_runs
    surprise = _surprise() if surprise_runs > 0 else None
    u, i, r = ratings()
    work = tempfile.mkdtemp(prefix="funk-bench-")
    csv = os.path.join(work, "ratings.csv")
    np.savetxt(csv, np.c_[u, i, r], fmt="%d", delimiter=",")
    data = os.path.join(work, "ratings.funk")
    subprocess.run([args.funkd, "import", "--format", "csv", "--train", csv,
                    "--rating-range", "1,5", "-o", data, "--quiet"], check=True)
    flags = dict(epochs=args.epochs, early_stop=0)
    times = {"funkd train": [], "funkd import + train": [], "funk.train(file)": [],
             "funk.train(arrays)": []}
    hashes = set()
    for n in range(args.rounds):
        run = os.path.join(work, f"cli-{n}")
        began = time.perf_counter()
        subprocess.run([args.funkd, "import", "--format", "csv", "--train", csv,
                        "--rating-range", "1,5", "-o", os.path.join(work, f"again-{n}.funk"),
                        "--quiet"], check=True)
        imported = time.perf_counter() - began
        began = time.perf_counter()
        out = subprocess.run([args.funkd, "train", "--data", data, "--checkpoint-dir", run,
                              "--epochs", str(args.epochs), "--early-stop", "0", "--quiet",
                              "--json"], check=True, capture_output=True, text=True).stdout
        times["funkd train"].append(time.perf_counter() - began)
        times["funkd import + train"].append(imported + times["funkd train"][-1])
        hashes.add(json.loads(out)["model_hash"])
        began = time.perf_counter()
        hashes.add(funk.train(data, **flags).model_hash)
        times["funk.train(file)"].append(time.perf_counter() - began)
        began = time.perf_counter()
        funk.train((u, i, r), rating_range=(1, 5), **flags)
        times["funk.train(arrays)"].append(time.perf_counter() - began)
        if surprise is not None and n < surprise_runs:
            prepared, fitted = surprise(u, i, r, args.epochs)
            times.setdefault("surprise prepare", []).append(prepared)
            times.setdefault("surprise SVD fit", []).append(fitted)
            times.setdefault("surprise prepare + fit", []).append(prepared + fitted)
    base = statistics.median(times["funkd train"])
    for name, seconds in times.items():
        m = statistics.median(seconds)
        print(f"{name:24} median {m:8.3f} s over {len(seconds)} runs   ×{m / base:.2f} of funkd train"
              f"   ({' '.join(f'{x:.3f}' for x in seconds)})")
    print("same model from the CLI and from funk.train(file):", len(hashes) == 1)
    if "surprise prepare + fit" in times:
        arrays = statistics.median(times["funk.train(arrays)"])
        whole = statistics.median(times["surprise prepare + fit"])
        print(f"arrays to model: Surprise {whole:.2f} s, funk {arrays:.3f} s: ×{whole / arrays:.1f}")


def _surprise():
    """Surprise's arrays-to-model, timed in two parts: (prepare, fit)."""
    try:
        from surprise import SVD, Dataset, Reader
        import pandas as pd
    except ImportError:
        print("(Surprise is not installed: pip install scikit-surprise to compare)", file=sys.stderr)
        return None

    def run(u, i, r, epochs):
        began = time.perf_counter()
        frame = pd.DataFrame({"u": u, "i": i, "r": r})
        train = Dataset.load_from_df(frame, Reader(rating_scale=(1, 5))).build_full_trainset()
        prepared = time.perf_counter() - began
        began = time.perf_counter()
        SVD(n_factors=32, n_epochs=epochs).fit(train)
        return prepared, time.perf_counter() - began

    return run


if __name__ == "__main__":
    main()
