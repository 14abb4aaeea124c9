"""``funk.Model``: a trained model and the rating file it was trained on."""

from __future__ import annotations

import os
import shutil
from typing import Any, Dict, NamedTuple, Optional, Tuple, Union

import numpy as np

from . import _funk
from ._data import columns_of, id_texts, ratings_of
from ._errors import UnknownIdError, UsageError


class FoldedUser(NamedTuple):
    """A user the model was not trained on, folded in from their ratings
    (:meth:`Model.fold_in`): a factor row and a bias, computed with the
    items held fixed. Pass it to :meth:`Model.predict` or
    :meth:`Model.recommend` in place of a user id."""

    factors: np.ndarray
    """The user's factor row (``rank`` values)."""
    bias: float
    """The user's bias (0 for the plain model)."""
    rated: np.ndarray
    """Internal ids of the items the user rated (left out of recommendations)."""


class Model:
    """A trained Funk-SVD model with the rating file it was trained on.

    Made by :func:`funk.train`, or loaded from a checkpoint directory with
    :meth:`Model.load` (``funkd train``'s as well as ``funk.train``'s).
    Users and items are addressed by their original ids: integers or
    strings (any other id is addressed by ``str(id)``). Predictions are
    clamped to the data's rating range when it has one.
    """

    def __init__(self, raw: "_funk.RawModel", *, summary: Optional[Dict[str, Any]] = None,
                 keep_alive: Any = None) -> None:
        self._raw = raw
        self._summary = summary
        # A temporary checkpoint directory lives as long as the model.
        self._keep_alive = keep_alive
        self._user_ids: Optional[np.ndarray] = None
        self._item_ids: Optional[np.ndarray] = None

    @classmethod
    def load(cls, path: Union[str, "os.PathLike[str]"], data: Union[str, "os.PathLike[str]", None] = None) -> "Model":
        """Loads a model: ``path`` is a checkpoint directory (its newest
        good checkpoint) or a checkpoint file. The rating file is ``data``
        when given; else the one :func:`funk.train` keeps in the directory;
        else the one ``funkd train`` recorded in its ``status.json``."""
        raw = _funk.RawModel.load(os.fspath(path), None if data is None else os.fspath(data))
        return cls(raw)

    def save(self, directory: Union[str, "os.PathLike[str]"]) -> str:
        """Copies the model's checkpoint and its rating file into
        ``directory`` (created if missing), which :meth:`load` then reads,
        as ``funkd predict --model DIR --data DIR/ratings-….funk`` does.
        A model trained without a ``checkpoint_dir`` lives in a temporary
        directory until saved. Returns the directory."""
        target = os.fspath(directory)
        os.makedirs(target, exist_ok=True)
        data = os.path.join(target, f"ratings-{self._raw.data_identity:016x}.funk")
        if not os.path.exists(data):
            shutil.copyfile(self.data_path, data + ".partial")
            os.replace(data + ".partial", data)
        checkpoint = os.path.join(target, os.path.basename(self.checkpoint))
        shutil.copyfile(self.checkpoint, checkpoint + ".partial")
        os.replace(checkpoint + ".partial", checkpoint)
        return target

    # ----- what the model is -------------------------------------------------

    @property
    def summary(self) -> Optional[Dict[str, Any]]:
        """How training went (``funkd train --json``'s object), for a model
        returned by :func:`funk.train`; None for a loaded one."""
        return self._summary

    @property
    def rank(self) -> int:
        """Factors per user and item."""
        return self._raw.rank

    @property
    def kind(self) -> str:
        """``"biased"`` (μ + b_u + b_i + p·q) or ``"plain"`` (p·q)."""
        return self._raw.kind

    @property
    def global_mean(self) -> float:
        """μ of the biased model (0 for the plain model)."""
        return self._raw.mu

    @property
    def rating_range(self) -> Optional[Tuple[float, float]]:
        """The data's rating range (predictions are clamped to it), if any."""
        return self._raw.rating_range

    @property
    def model_hash(self) -> str:
        """The hash of the parameters, as ``funkd train`` prints it: equal
        hashes, equal models."""
        return self._raw.model_hash

    @property
    def checkpoint(self) -> str:
        """The checkpoint file the model was read from."""
        return os.fspath(self._raw.checkpoint)

    @property
    def data_path(self) -> str:
        """The rating file the model was trained on."""
        return os.fspath(self._raw.data_path)

    @property
    def epoch(self) -> int:
        """The epoch whose parameters the model holds (early stopping keeps
        the one with the best validation RMSE)."""
        return self._raw.model_epoch

    @property
    def user_ids(self) -> np.ndarray:
        """The users' original ids; row ``n`` of :attr:`user_factors` is
        ``user_ids[n]``'s. int64 when every id is an integer, else str objects."""
        if self._user_ids is None:
            self._user_ids = _id_array(self._raw.user_ids())
        return self._user_ids

    @property
    def item_ids(self) -> np.ndarray:
        """The items' original ids, in the order of :attr:`item_factors`."""
        if self._item_ids is None:
            self._item_ids = _id_array(self._raw.item_ids())
        return self._item_ids

    @property
    def user_factors(self) -> np.ndarray:
        """users × rank float32 array, rows in the order of :attr:`user_ids`."""
        return self._raw.user_factors

    @property
    def item_factors(self) -> np.ndarray:
        """items × rank float32 array, rows in the order of :attr:`item_ids`."""
        return self._raw.item_factors

    @property
    def user_biases(self) -> np.ndarray:
        """One bias per user (zeros for the plain model)."""
        return self._raw.user_biases

    @property
    def item_biases(self) -> np.ndarray:
        """One bias per item (zeros for the plain model)."""
        return self._raw.item_biases

    def __repr__(self) -> str:
        return (f"<funk.Model {self.kind} rank {self.rank}: {self._raw.users} users × "
                f"{self._raw.items} items, epoch {self.epoch}, hash {self.model_hash}>")

    # ----- ids ---------------------------------------------------------------

    def _users(self, ids: Any) -> np.ndarray:
        return self._raw.lookup_users(id_texts(ids))

    def _items(self, ids: Any) -> np.ndarray:
        return self._raw.lookup_items(id_texts(ids))

    def _one_user(self, user: Any) -> int:
        found = int(self._users(np.array([user], dtype=object))[0])
        if found < 0:
            raise UnknownIdError(
                f"user {user!r}: no such user in {self.data_path} "
                "(ids are the original ones of the data trained on)")
        return found

    def _one_item(self, item: Any) -> int:
        found = int(self._items(np.array([item], dtype=object))[0])
        if found < 0:
            raise UnknownIdError(
                f"item {item!r}: no such item in {self.data_path} "
                "(ids are the original ones of the data trained on)")
        return found

    # ----- queries -----------------------------------------------------------

    def predict(self, users: Any, items: Any, *, clamp: bool = True) -> Any:
        """Predicted ratings for pairs of ``users`` and ``items`` (equally
        long arrays or lists, or two single ids: then a float).

        Unknown ids are not errors: as with ``funkd predict``, an unknown
        user gets μ + b_i, an unknown item μ + b_u, both unknown μ (the
        plain model: the mean train rating). ``users`` may be a
        :class:`FoldedUser` (then ``items`` are that user's to score).
        """
        if isinstance(users, FoldedUser):
            scalar = np.ndim(items) == 0
            found = self._items(np.array(items, dtype=object).reshape(-1) if scalar else items)
            out = self._raw.predict_row(np.asarray(users.factors, dtype=np.float32),
                                        float(users.bias), found, clamp)
            return float(out[0]) if scalar else out
        scalar = np.ndim(users) == 0 and np.ndim(items) == 0
        if scalar:
            users, items = np.array([users], dtype=object), np.array([items], dtype=object)
        u, i = self._users(users), self._items(items)
        if len(u) != len(i):
            raise UsageError(f"users and items differ in length ({len(u)} and {len(i)})")
        out = self._raw.predict(u, i, clamp)
        return float(out[0]) if scalar else out

    def recommend(self, user: Any, n: int = 10, *, exclude_rated: bool = True,
                  return_scores: bool = False) -> Any:
        """The ``n`` items with the highest predicted rating for ``user``,
        best first (ties to the item listed first in :attr:`item_ids`), as
        ``funkd recommend`` ranks them. Items the user rated (train or test
        split) are left out unless ``exclude_rated=False``. With
        ``return_scores=True``: ``(items, scores)``, the scores unclamped.
        ``user`` may be a :class:`FoldedUser`."""
        n = _count("n", n)
        if isinstance(user, FoldedUser):
            exclude = user.rated if exclude_rated else np.empty(0, dtype=np.int64)
            found, scores = self._raw.recommend_row(
                np.asarray(user.factors, dtype=np.float32), float(user.bias), n,
                np.asarray(exclude, dtype=np.int64))
        else:
            found, scores = self._raw.recommend(self._one_user(user), n, exclude_rated)
        items = self.item_ids[found]
        return (items, scores) if return_scores else items

    def similar_items(self, item: Any, n: int = 10, *, return_scores: bool = False) -> Any:
        """The ``n`` items whose factor rows are nearest to ``item``'s by
        cosine similarity, the item itself left out (``funkd serve``'s
        similar items). With ``return_scores=True``: ``(items, cosines)``."""
        n = _count("n", n)
        found, scores = self._raw.similar_items(self._one_item(item), n)
        items = self.item_ids[found]
        return (items, scores) if return_scores else items

    def fold_in(self, items: Any, ratings: Any) -> FoldedUser:
        """A new user from their ratings of known ``items``: the exact
        regularised least-squares row with the items held fixed (what
        ``funkd serve`` does for ratings it takes in). Use the result in
        :meth:`predict` and :meth:`recommend`."""
        found = self._items(items)
        values = ratings_of(np.asarray(ratings).reshape(-1), "fold_in")
        if len(found) != len(values):
            raise UsageError(f"items and ratings differ in length ({len(found)} and {len(values)})")
        unknown = np.flatnonzero(found < 0)
        if len(unknown):
            item = np.asarray(items, dtype=object).reshape(-1)[unknown[0]]
            raise UnknownIdError(f"item {item!r}: no such item in {self.data_path}")
        factors, bias = self._raw.fold_in(found, values)
        return FoldedUser(factors, bias, found)

    def evaluate(self, data: Any = None, *, columns: Any = None, clamp: bool = True,
                 split: str = "test") -> Dict[str, float]:
        """RMSE and MAE: on a split of the rating file (``split="test"``, the
        default, or ``"train"``; ``funkd eval``'s numbers), or on ``data``
        given as (users, items, ratings) or a DataFrame. Returns
        ``{"rmse": …, "mae": …, "count": …}``."""
        if data is None:
            rmse, mae, count = self._raw.evaluate(split, clamp, os.cpu_count() or 1)
            return {"rmse": rmse, "mae": mae, "count": count}
        users, items, ratings = columns_of(data, columns, "evaluate")
        truth = ratings_of(ratings, "evaluate").astype(np.float64)
        predicted = np.asarray(self.predict(users, items, clamp=clamp), dtype=np.float64)
        if len(truth) == 0:
            return {"rmse": float("nan"), "mae": float("nan"), "count": 0}
        error = predicted - truth
        return {"rmse": float(np.sqrt(np.mean(error * error))),
                "mae": float(np.mean(np.abs(error))), "count": len(truth)}

    def svd(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The truncated SVD U·diag(S)·Vᵀ of the factor product P·Qᵀ (μ and
        biases not included), without forming it: ``(S, U, V)`` with S
        (float64) the numerically non-zero singular values, largest first,
        U users × s and V items × s (float32), as ``funkd svd -o`` writes."""
        return self._raw.svd()


def _id_array(ids: Any) -> np.ndarray:
    if isinstance(ids, np.ndarray):
        return ids
    out = np.empty(len(ids), dtype=object)
    out[:] = ids
    return out


def _count(name: str, n: Any) -> int:
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 0:
        raise UsageError(f"{name}={n!r}: must be a whole number ≥ 0")
    return int(n)
