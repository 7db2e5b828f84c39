"""Reading training histories: when a run reached an accuracy, and one table for many runs.

A history is the ``pandas.DataFrame`` that :func:`~distlab.apps.training.train` returns:
one row per communication round with ``strategy``, ``round``, ``steps``, ``bytes``,
``loss``, ``accuracy`` and ``consensus``.
"""
from __future__ import annotations

import pandas as pd


def check_history(history) -> pd.DataFrame:
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


def rounds_to(history: pd.DataFrame, target: float) -> int | None:
    """The first round at which the test accuracy reaches ``target`` (None if never)."""
    check_history(history)
    hit = history.loc[history["accuracy"] >= target, "round"]
    return None if hit.empty else int(hit.iloc[0])


def summary(histories, target: float | None = None, reference: dict | None = None
            ) -> pd.DataFrame:
    """One row per run, indexed by strategy: rounds, steps, bytes, final loss and
    accuracy, and (with ``target``) the rounds and bytes it took to reach the target
    accuracy. ``reference`` adds rows with an accuracy only, e.g.
    ``{"scikit-learn": 0.9689}``."""
    if isinstance(histories, pd.DataFrame):
        histories = [histories]
    rows = []
    for h in histories:
        check_history(h)
        last = h.iloc[-1]
        row = dict(strategy=last["strategy"], rounds=int(last["round"]),
                   steps=int(last["steps"]), bytes=int(last["bytes"]),
                   loss=round(float(last["loss"]), 4),
                   accuracy=round(float(last["accuracy"]), 4))
        if target is not None:
            r = rounds_to(h, target)
            row["rounds_to_target"] = r
            row["bytes_to_target"] = (None if r is None
                                      else int(h.loc[h["round"] == r, "bytes"].iloc[0]))
        rows.append(row)
    for name, acc in (reference or {}).items():
        rows.append(dict(strategy=name, accuracy=round(float(acc), 4)))
    table = pd.DataFrame(rows).set_index("strategy")
    for column in ("rounds", "steps", "bytes", "rounds_to_target", "bytes_to_target"):
        if column in table:
            table[column] = table[column].astype("Int64")    # blanks stay blank, not NaN
    return table
