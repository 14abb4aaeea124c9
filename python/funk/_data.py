"""Ratings in the forms Python users have them (NumPy arrays, a pandas
DataFrame, ids of any hashable kind) turned into what a rating file is
built from: dense codes in order of first appearance, and each id as text.

The text of an id is what ``funkd import`` would read from a file: an
integer in decimal (``42``), anything else as ``str(id)``. Floats that are
whole numbers (an integer column with a gap that pandas made float) count
as integers.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from ._errors import UsageError

Triple = Tuple[np.ndarray, np.ndarray, np.ndarray]


def _is_dataframe(data: Any) -> bool:
    return type(data).__name__ == "DataFrame" and hasattr(data, "columns")


def columns_of(data: Any, columns: Optional[Sequence[Any]], what: str) -> Triple:
    """The (users, items, ratings) columns of ``data``: a tuple of three
    array-likes, a DataFrame (``columns``, or its first three), or a 2-D
    array of three columns."""
    if _is_dataframe(data):
        names = list(columns) if columns is not None else list(data.columns[:3])
        if len(names) != 3:
            raise UsageError(
                f"{what}: columns={columns!r} must name three columns (user, item, rating)"
            )
        missing = [c for c in names if c not in data.columns]
        if missing:
            raise UsageError(
                f"{what}: the DataFrame has no column {missing[0]!r} "
                f"(its columns: {', '.join(map(repr, data.columns))})"
            )
        return tuple(data[c].to_numpy() for c in names)  # type: ignore[return-value]
    if columns is not None:
        raise UsageError(f"{what}: columns= is for a pandas DataFrame")
    if isinstance(data, np.ndarray) and data.ndim == 2:
        if data.shape[1] != 3:
            raise UsageError(
                f"{what}: a 2-D array needs three columns (user, item, rating), not {data.shape[1]}"
            )
        return data[:, 0], data[:, 1], data[:, 2]
    if isinstance(data, (tuple, list)) and len(data) == 3:
        return tuple(_column(c, what) for c in data)  # type: ignore[return-value]
    raise UsageError(
        f"{what}: expected (users, items, ratings) arrays, a pandas DataFrame, "
        f"a 2-D array of three columns or the path of a rating file, not {type(data).__name__}"
    )


def _column(values: Any, what: str) -> np.ndarray:
    if _is_dataframe(values):
        raise UsageError(f"{what}: give a DataFrame as data itself, not inside a tuple")
    column = np.asarray(values)
    if column.ndim != 1:
        raise UsageError(f"{what}: users, items and ratings must be one-dimensional")
    return column


def _whole_floats(column: np.ndarray) -> Optional[np.ndarray]:
    """The column as int64 when it is floats that are all whole numbers."""
    if column.dtype.kind != "f" or column.size == 0:
        return None
    if not np.all(np.isfinite(column)):
        return None
    if not np.all(column == np.round(column)):
        return None
    return column.astype(np.int64)


def id_texts(column: np.ndarray) -> Any:
    """Ids ready for a look-up in a model: an int64 array or a list of str."""
    column = np.asarray(column).reshape(-1)
    if column.dtype.kind in "iu":
        return column.astype(np.int64, copy=False)
    whole = _whole_floats(column)
    if whole is not None:
        return whole
    return [_text(x) for x in column.tolist()]


def _text(x: Any) -> str:
    if isinstance(x, (bool, np.bool_)):
        return str(x)
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


def factorize(column: np.ndarray, what: str) -> Tuple[np.ndarray, List[str]]:
    """Codes (uint32, in order of first appearance) and the text of each id."""
    whole = _whole_floats(column)
    if whole is not None:
        column = whole
    if column.dtype.kind in "iu" and _fits_int64(column):
        from . import _funk

        # Numbered natively: one hash-map pass, no Python object per id.
        return _funk.number_ints(column.astype(np.int64, copy=False))
    if column.dtype.kind == "f":
        bad = ~np.isfinite(column)
        if bad.any():
            at = int(np.argmax(bad))
            raise UsageError(f"{what}: id #{at} is missing ({column[at]})")
    try:
        import pandas as pd

        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        if (codes < 0).any():
            at = int(np.argmax(codes < 0))
            raise UsageError(f"{what}: id #{at} is missing ({column[at]!r})")
        return codes.astype(np.uint32), [_text(u) for u in uniques.tolist()]
    except ImportError:
        seen: dict = {}
        codes = np.empty(len(column), dtype=np.uint32)
        for n, x in enumerate(column.tolist()):
            if x is None or (isinstance(x, float) and x != x):
                raise UsageError(f"{what}: id #{n} is missing ({x!r})")
            codes[n] = seen.setdefault(x, len(seen))
        return codes, [_text(u) for u in seen]


def _fits_int64(column: np.ndarray) -> bool:
    """Whether every value of an integer column fits an int64."""
    if column.dtype.kind == "i" or column.dtype.itemsize < 8 or column.size == 0:
        return True
    return bool(column.max() <= np.iinfo(np.int64).max)


def ratings_of(column: np.ndarray, what: str) -> np.ndarray:
    try:
        return np.asarray(column, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise UsageError(f"{what}: ratings must be numbers ({e})") from None


def write(
    directory: str,
    train: Triple,
    test: Optional[Triple],
    *,
    rating_range: Optional[Tuple[float, float]],
    duplicates: str,
    test_fraction: float,
    seed: int,
    grid: Optional[int],
    durable: bool,
) -> Tuple[str, bool]:
    """Writes the rating file of ``train`` (and ``test``) into ``directory``
    as ``ratings-<identity>.funk``; returns its path and whether it is new
    (the same data written before gives the same file). ``durable``: synced
    to the disk before it is renamed into place, for a run that can be
    resumed; a temporary run's file is only written."""
    from . import _funk

    parts = [("train", train)] + ([("test", test)] if test is not None else [])
    for which, (u, i, r) in parts:
        if not (len(u) == len(i) == len(r)):
            raise UsageError(
                f"the {which} users, items and ratings differ in length ({len(u)}, {len(i)} and {len(r)})"
            )
    n_train = len(train[0])
    users = np.concatenate([p[1][0] for p in parts]) if test is not None else train[0]
    items = np.concatenate([p[1][1] for p in parts]) if test is not None else train[1]
    user_codes, user_names = factorize(users, "users")
    item_codes, item_names = factorize(items, "items")
    values = [ratings_of(r, which) for which, (_, _, r) in parts]
    coded_train = (user_codes[:n_train], item_codes[:n_train], values[0])
    coded_test = (user_codes[n_train:], item_codes[n_train:], values[1]) if test is not None else None
    os.makedirs(directory, exist_ok=True)
    partial = os.path.join(directory, f".funk-data-{uuid.uuid4().hex}.funk")
    try:
        written = json.loads(
            _funk.write_rating_file(
                partial,
                user_names,
                item_names,
                coded_train,
                coded_test,
                rating_range=None if rating_range is None else tuple(map(float, rating_range)),
                duplicates=duplicates,
                test_fraction=float(test_fraction),
                seed=int(seed),
                grid=grid,
                source="funk.train (Python): ratings given as arrays",
                durable=durable,
            )
        )
        final = os.path.join(directory, f"ratings-{written['identity']:016x}.funk")
        if os.path.exists(final):
            os.remove(partial)
            return final, False
        os.replace(partial, final)
        return final, True
    finally:
        if os.path.exists(partial):
            os.remove(partial)
