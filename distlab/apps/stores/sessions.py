"""Session guarantees on the eventual store: broken, then kept two ways.

The eventual store (``replication="async"``, R = W = 1) answers each client from the
replica it works through. When that replica crashes the client fails over to another
one, and when it recovers the client comes back — to a replica that may not yet hold what
the client wrote or read meanwhile. :func:`session_check` judges a run's history with the
pure checker :func:`distlab.concepts.sessions.check_sessions` (read your writes,
monotonic reads; Terry et al., PDIS 1994), each client one session across its timeouts;
:func:`session_guarantees` sets the three ``sessions`` settings of
:class:`~distlab.apps.stores.config.StoreConfig` side by side over many seeds:

- ``"none"``: the guarantees break on some seeds;
- ``"sticky"``: a client never leaves its replica, so it never sees older data — and
  while that replica is down its operations time out (availability paid for the session);
- ``"versioned"``: the client carries the newest version it has seen; any replica at
  least that new may answer, so it fails over and still keeps both guarantees.

Neither fix makes the store linearizable: another client may still read stale data.
"""
from __future__ import annotations

from typing import Iterable

from distlab.apps.stores.config import EVENTUAL, SESSIONS, Fault, StoreConfig, with_changes
from distlab.apps.stores.runs import Run, _mean_or_nan, run
from distlab.checks import count, sequence
from distlab.concepts.sessions import GUARANTEES, SessionVerdict, check_sessions

__all__ = ["client_of", "session_check", "session_guarantees"]


def client_of(process) -> str:
    """The client behind a history's process: ``"c0'"`` (c0 after a timeout) → ``"c0"``.
    Any process name is read as text: it raises nothing."""
    return str(process).rstrip("'")


def session_check(outcome: Run) -> SessionVerdict:
    """Read-your-writes and monotonic reads in every client's session of one store run,
    against the store's own version order (``outcome.versions``). Raises ``TypeError``
    for anything but a :class:`~distlab.apps.stores.runs.Run`."""
    if not isinstance(outcome, Run):
        raise TypeError(f"outcome must be a stores Run, got {type(outcome).__name__}")
    return check_sessions(outcome.history, outcome.versions, session=client_of)


def session_guarantees(seeds: Iterable[int] = range(20), *, config: StoreConfig = EVENTUAL,
                       faults: Iterable[Fault] | None = None):
    """``config`` with each ``sessions`` setting, run on every seed under ``faults``
    (default: the standard crash and partition). One row per setting: on how many seeds
    some read broke read-your-writes, broke monotonic reads, was linearizable; and the
    means over the seeds of the share of operations that timed out and of the read
    latency (virtual ms). Returns a pandas DataFrame indexed by setting. Raises
    ``TypeError`` / ``ValueError`` for a config that is not an async StoreConfig or
    for no seeds."""
    import pandas as pd

    if not isinstance(config, StoreConfig):
        raise TypeError(f"config must be a StoreConfig, got {type(config).__name__}")
    if config.replication != "async":
        raise ValueError("session guarantees are compared on an async (eventual) store; "
                         "a sync one is linearizable and keeps them already")
    seeds = [count(f"seeds[{i}]", s) for i, s in enumerate(sequence("seeds", seeds))]
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    faults = None if faults is None else tuple(sequence("faults", faults))
    rows = []
    for mode in SESSIONS:
        runs = [run(with_changes(config, sessions=mode), seed=s, faults=faults) for s in seeds]
        verdicts = [session_check(r) for r in runs]
        n = len(runs)
        row = {"sessions": mode}
        for guarantee in GUARANTEES:
            row[f"broke {guarantee}"] = f"{sum(v.count(guarantee) > 0 for v in verdicts)}/{n}"
        row["linearizable"] = f"{sum(r.linearizable for r in runs)}/{n}"
        for key in ("timed out (%)", "read latency (ms)"):
            row[key] = round(_mean_or_nan(r.metrics[key] for r in runs), 2)
        rows.append(row)
    return pd.DataFrame(rows).set_index("sessions")
