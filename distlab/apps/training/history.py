"""Reading training histories: when a run reached an accuracy, and one table for many runs.

A history is the ``pandas.DataFrame`` that :func:`~distlab.apps.training.train` returns:
one row per communication round with ``strategy``, ``round``, ``steps``, ``samples``,
``bytes``, ``loss``, ``accuracy`` and ``consensus``; the virtual-time runs of
:mod:`~distlab.apps.training.virtual_time` add ``time``.
"""
from __future__ import annotations

import pandas as pd

from distlab import checks


def _check_history(history) -> pd.DataFrame:
    """``history`` if it is a non-empty history from ``train()``; ``TypeError`` for
    anything but a DataFrame, ``ValueError`` for missing columns or no rows."""
    if not isinstance(history, pd.DataFrame):
        raise TypeError(f"history must be the DataFrame train() returned, "
                        f"got {type(history).__name__}")
    missing = {"strategy", "round", "bytes", "accuracy"} - set(history.columns)
    if missing or history.empty:
        raise ValueError(f"history must be a non-empty history from train(); "
                         f"missing columns {sorted(missing)}" if missing else
                         "history must not be empty")
    return history


def _named_histories(histories) -> list[tuple]:
    """(name or None, history) pairs from one history, a list of them, or a dict naming
    each; ``TypeError``/``ValueError`` naming ``histories`` otherwise."""
    if isinstance(histories, pd.DataFrame):
        histories = [histories]
    if isinstance(histories, dict):
        pairs = list(histories.items())
    elif isinstance(histories, (str, bytes)) or not hasattr(histories, "__iter__"):
        raise TypeError(f"histories must be a history from train(), a list of them or a "
                        f"dict naming each; got {type(histories).__name__}")
    else:
        pairs = [(None, h) for h in histories]
    if not pairs:
        raise ValueError("histories must hold at least one history")
    for i, (name, h) in enumerate(pairs):
        try:
            _check_history(h)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"histories[{i if name is None else repr(name)}]: {exc}") from None
    return pairs


def rounds_to(history: pd.DataFrame, target: float) -> int | None:
    """The first round at which the test accuracy reaches ``target`` (None if never).
    ``history`` from ``train()``, ``target`` an accuracy in [0, 1]; ``TypeError``/
    ``ValueError`` naming the argument otherwise."""
    _check_history(history)
    target = checks.fraction("target", target)
    hit = history.loc[history["accuracy"] >= target, "round"]
    return None if hit.empty else int(hit.iloc[0])


#: The columns that count work done so far, in the order a summary shows them.
PROGRESS = ("rounds", "steps", "samples", "bytes", "time")


def summary(histories, target: float | None = None, reference: dict | None = None
            ) -> pd.DataFrame:
    """One row per run, indexed by strategy: rounds, steps, samples, bytes (and virtual
    time, for a virtual-time run), final loss and accuracy, and (with ``target``) the
    rounds, samples, bytes (and time) it took to reach the target accuracy.
    ``histories``: one history, a list of them, or a dict naming each run (the names then
    index the table, e.g. two runs of one strategy at different learning rates).
    ``reference`` adds rows with an accuracy only, e.g. ``{"scikit-learn": 0.9689}``.
    ``target`` None or an accuracy in [0, 1]; ``TypeError``/``ValueError`` naming the
    argument otherwise."""
    named = _named_histories(histories)
    if target is not None:
        target = checks.fraction("target", target)
    if reference is not None and not isinstance(reference, dict):
        raise TypeError(f"reference must be a dict {{name: accuracy}}, got "
                        f"{type(reference).__name__}")
    reference = {name: checks.fraction(f"reference[{name!r}]", acc)
                 for name, acc in (reference or {}).items()}
    rows = []
    for name, h in named:
        last = h.iloc[-1]
        row = dict(strategy=last["strategy"] if name is None else name,
                   rounds=int(last["round"]))
        row.update((c, last[c]) for c in PROGRESS[1:] if c in h)
        row.update(loss=round(float(last["loss"]), 4), accuracy=round(float(last["accuracy"]), 4))
        if target is not None:
            r = rounds_to(h, target)
            row["rounds_to_target"] = r
            reached = h.loc[h["round"] == r].iloc[0] if r is not None else None
            for column in PROGRESS[1:]:
                if column in h and column != "steps":
                    row[f"{column}_to_target"] = None if r is None else reached[column]
        rows.append(row)
    for name, acc in (reference or {}).items():
        rows.append(dict(strategy=name, accuracy=round(float(acc), 4)))
    table = pd.DataFrame(rows).set_index("strategy")
    for column in ("rounds", "steps", "samples", "bytes", "rounds_to_target",
                   "samples_to_target", "bytes_to_target"):
        if column in table:
            table[column] = table[column].astype("Int64")    # blanks stay blank, not NaN
    return table
