"""``funk.train``: ``funkd train`` from Python."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

from . import _data, _funk
from ._errors import UsageError
from ._model import Model

PathLike = Union[str, "os.PathLike[str]"]


def train(
    data: Any,
    test: Any = None,
    *,
    factors: Optional[int] = None,
    epochs: Optional[int] = None,
    seed: Optional[int] = None,
    threads: Optional[int] = None,
    method: Optional[str] = None,
    plain: bool = False,
    learning_rate: Optional[float] = None,
    schedule: Optional[str] = None,
    decay: Optional[float] = None,
    reg: Optional[float] = None,
    reg_bias: Optional[float] = None,
    reg_row: Optional[float] = None,
    validation: Optional[float] = None,
    early_stop: Optional[int] = None,
    max_backoffs: Optional[int] = None,
    isa: Optional[str] = None,
    checkpoint_dir: Optional[PathLike] = None,
    fresh: bool = False,
    checkpoint_every_secs: Optional[float] = None,
    checkpoint_every_epochs: Optional[int] = None,
    keep: Optional[int] = None,
    progress: Optional[Callable[[Dict[str, Any]], Any]] = None,
    verbose: bool = False,
    columns: Optional[Sequence[Any]] = None,
    rating_range: Optional[Tuple[float, float]] = None,
    test_fraction: Optional[float] = None,
    duplicates: str = "keep-last",
    split_seed: int = 1,
    grid: Optional[int] = None,
    _stratum_delay_ms: int = 0,
) -> Model:
    """Trains a Funk-SVD model and returns it as a :class:`funk.Model`.

    ``data`` is one of:

    - ``(users, items, ratings)``: three equally long array-likes; ids may
      be integers, strings or any other hashable (addressed by ``str(id)``);
    - a pandas DataFrame: its first three columns, or the three named by
      ``columns=(user, item, rating)``;
    - the path of a rating file made by ``funkd import`` or ``funkd gen``
      (it holds its own test split).

    ``test`` is held-out ratings in the same form (arrays or a DataFrame),
    reported as the test RMSE and used by :meth:`Model.evaluate`; or hold
    out a random ``test_fraction`` of ``data``. Arrays become a rating file
    exactly as ``funkd import`` makes one (``rating_range``,
    ``duplicates``, ``split_seed`` and ``grid`` are its ``--rating-range``,
    ``--duplicates``, ``--seed`` and ``--grid``), so that the model has the
    same bits as ``funkd import`` + ``funkd train`` on the same ratings.

    The training options are ``funkd train``'s, with its defaults (None
    means the CLI's default): ``factors`` 32, ``epochs`` 20, ``seed`` 1,
    ``threads`` every CPU (the model does not depend on it), ``method``
    ``"sgd"`` (or ``"gd"``), ``plain`` False (the biased model μ + b_u + b_i
    + p·q), ``schedule`` ``"decay"`` with ``decay`` 0.05 (or ``"constant"``,
    ``"adaptive"``), ``learning_rate``, ``reg``, ``reg_bias`` and
    ``reg_row`` derived from the data's shape (see :func:`funk.defaults`),
    ``validation`` 0.02 of the train ratings watched by ``early_stop`` 3
    epochs of patience (the best epoch's model is kept), ``max_backoffs`` 4
    after divergence, ``isa`` the best this CPU has.

    ``checkpoint_dir`` keeps the run: checkpoints (``keep`` 3, every
    ``checkpoint_every_epochs`` 1 epoch and every
    ``checkpoint_every_secs``), ``metrics.jsonl``, ``status.json`` and
    the rating file built from arrays. Training into a directory that holds
    a run resumes it exactly as ``funkd train`` does (same bits as a run
    that never stopped; options that disagree with it are refused, a
    larger ``epochs`` trains on); ``fresh=True`` moves the old run aside
    and starts over. Without ``checkpoint_dir`` the run lives in a
    temporary directory (under ``$TMPDIR``) removed with the model, or
    as soon as training fails.

    Training releases the GIL. Ctrl-C (KeyboardInterrupt) stops it after
    the blocks in flight, with a checkpoint to resume from, and is raised
    again. ``progress`` is called on this thread after every epoch with a
    dict (``epoch``, ``epochs``, ``train_rmse``, ``validation_rmse``,
    ``test_rmse``, ``seconds``, …: a line of ``metrics.jsonl``); an
    exception it raises stops training the same way and is raised again.
    ``verbose=True`` prints ``funkd train``'s progress lines on stderr.

    Errors raise :class:`funk.UsageError` (a ``ValueError``: a bad option,
    a conflict with the run in ``checkpoint_dir``) or
    :class:`funk.FunkError`, with the CLI's messages.
    """
    keep_alive = None
    if checkpoint_dir is None:
        if fresh:
            raise UsageError("fresh=True is for a checkpoint_dir that holds a run")
        # Under $TMPDIR; removed with the model, or at once if training fails.
        keep_alive = tempfile.TemporaryDirectory(prefix="funk-run-")
        run_dir = keep_alive.name
    else:
        run_dir = os.fspath(checkpoint_dir)
    try:
        from_file = isinstance(data, (str, os.PathLike))
        new_file = None
        if from_file:
            building = {"test": test, "columns": columns, "rating_range": rating_range,
                        "test_fraction": test_fraction, "grid": grid}
            given = [k for k, v in building.items() if v is not None]
            if duplicates != "keep-last":
                given.append("duplicates")
            if split_seed != 1:
                given.append("split_seed")
            if given:
                raise UsageError(
                    f"{', '.join(given)}: only for ratings given as arrays or a DataFrame; "
                    f"the rating file {os.fspath(data)} holds its split already "
                    "(funkd import sets it)")
            data_path = os.fspath(data)
        else:
            if test is not None and test_fraction:
                raise UsageError("test= and test_fraction= both choose the test split: give only one")
            train_columns = _data.columns_of(data, columns, "data")
            test_columns = None if test is None else _data.columns_of(test, columns, "test")
            if fresh:
                # The data file is written into the new run, not the old one.
                _funk.move_aside(run_dir, verbose)
                fresh = False
            data_path, created = _data.write(
                run_dir, train_columns, test_columns, rating_range=rating_range,
                duplicates=duplicates, test_fraction=test_fraction or 0.0,
                seed=split_seed, grid=grid, durable=keep_alive is None)
            new_file = data_path if created else None
        options = {
            "factors": factors, "epochs": epochs, "threads": threads, "seed": seed,
            "method": method, "plain": plain, "learning_rate": learning_rate,
            "schedule": schedule, "decay": decay, "reg": reg, "reg_bias": reg_bias,
            "reg_row": reg_row, "validation": validation,
            "checkpoint_every_secs": checkpoint_every_secs,
            "checkpoint_every_epochs": checkpoint_every_epochs, "keep": keep,
            "early_stop": early_stop, "max_backoffs": max_backoffs, "isa": isa,
            "fresh": fresh, "verbose": verbose, "stratum_delay_ms": _stratum_delay_ms,
        }
        try:
            summary = json.loads(_funk.train(os.path.abspath(data_path), run_dir, options, progress))
        except UsageError:
            # Refused before training: a data file this call added is not kept.
            if new_file is not None and os.path.exists(new_file):
                os.remove(new_file)
            raise
        raw = _funk.RawModel.load(run_dir, os.path.abspath(data_path))
        return Model(raw, summary=summary, keep_alive=keep_alive)
    except BaseException:
        # A temporary run that failed goes now, not whenever the exception
        # (whose traceback holds this frame, and so the directory) is let go.
        if keep_alive is not None:
            keep_alive.cleanup()
        raise


def defaults(data: PathLike) -> Dict[str, Any]:
    """The options ``funkd train`` (and :func:`train`) would use on the
    rating file ``data`` when none is given, the learning rate and the
    regularisation derived from its shape among them."""
    return dict(_funk.defaults(os.fspath(data)))
