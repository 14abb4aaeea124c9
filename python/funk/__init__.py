"""funk: Funk-SVD matrix factorisation for recommenders.

Trains the biased matrix-factorisation model (μ + b_u + b_i + p_u·q_i)
of Simon Funk's Netflix Prize write-up with cache-blocked, SIMD SGD in
Rust: deterministic (the same data and seed give the same bits for any
thread count), resumable from checkpoints, and the same model as the
``funkd`` command line gives on the same data.

    >>> import funk
    >>> model = funk.train((users, items, ratings), test=(tu, ti, tr), factors=64)
    >>> model.evaluate()                     # RMSE and MAE on the test ratings
    >>> model.predict(users[:5], items[:5])  # an array
    >>> model.recommend(user, 10)            # ten item ids, best first
    >>> model = funk.Model.load("runs/ml")   # a checkpoint directory

See :func:`train` and :class:`Model`.
"""

from ._errors import FunkError, FunkWarning, UnknownIdError, UsageError
from ._funk import __version__
from ._model import FoldedUser, Model
from ._train import defaults, train

__all__ = [
    "FoldedUser",
    "FunkError",
    "FunkWarning",
    "Model",
    "UnknownIdError",
    "UsageError",
    "__version__",
    "defaults",
    "train",
]
