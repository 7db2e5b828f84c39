"""One run of the replicated store: simulate a workload under faults, judge the history.

:func:`run` sets up a :class:`~distlab.apps.stores.replicas.SimulatedStore`, lets it run,
checks the recorded history with the linearizability checker
(:func:`distlab.concepts.linearizability.check_linearizable`) and measures latency, stale
reads (:func:`stale_reads`), timeouts and how long the replicas took to agree again.
Everything is drawn from one seed, so a run is exactly reproducible.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

from distlab.apps.stores.config import STRONG, Fault, StoreConfig, Workload, standard_faults
from distlab.apps.stores.replicas import SimulatedStore, _check_setup
from distlab.checks import count
from distlab.concepts.linearizability import Op, Verdict, as_history, check_linearizable


@dataclass(frozen=True)
class Run:
    """One simulated run: its history (times in ms), what it measured, and the network's
    message counts. ``result`` is the linearizability verdict on the history; ``versions``
    maps each written value to the version the store ordered it by (last-writer-wins)."""
    config: StoreConfig
    seed: int
    history: tuple[Op, ...]
    result: Verdict
    metrics: dict
    messages: dict
    faults: tuple[Fault, ...]
    versions: dict = field(default_factory=dict)

    @property
    def linearizable(self) -> bool:
        return self.result.ok


def stale_reads(history: Iterable[Op]) -> list[tuple[Op, Op]]:
    """Reads that returned a value already overwritten before they began.

    A read is stale when some write completed before the read was invoked and had itself
    been invoked after the write whose value the read returned had completed (or the read
    returned the initial value). Returns (read, the newer write) pairs. Such a read is
    never linearizable; reads concurrent with writes are not counted. ``history`` as
    :func:`~distlab.concepts.linearizability.as_history` takes it (and errors as it).
    """
    history = as_history(history)
    writes = {o.value: o for o in history if o.kind == "write"}
    done_writes = [o for o in history if o.kind == "write" and o.complete is not None]
    found = []
    for read in history:
        if read.kind != "read" or read.complete is None:
            continue
        source = writes.get(read.value)
        source_end = -math.inf if read.value is None else \
            (math.inf if source is None or source.complete is None else source.complete)
        newer = [w for w in done_writes if w.complete < read.invoke and w.invoke > source_end]
        if newer:
            found.append((read, max(newer, key=lambda w: w.complete)))
    return found


def _mean_or_nan(values) -> float:
    """The mean of ``values``; NaN when there are none (no read completed, say)."""
    values = list(values)
    return sum(values) / len(values) if values else math.nan


def run(config: StoreConfig = STRONG, *, seed: int = 0, workload: Workload = Workload(),
        faults: Iterable[Fault] | None = None) -> Run:
    """Simulate ``workload`` on a store set up by ``config`` under ``faults`` (default:
    ``standard_faults``), with every random choice drawn from ``seed``.

    The run goes on after the clients stop until every replica holds the same version
    (or 5 s of virtual time pass). ``metrics``: mean write and read latency (ms) of the
    operations that completed, the share of stale reads and of operations that timed out,
    the time from the last completed write until the replicas agreed (ms; inf if never),
    and the number of operations. Raises ``TypeError`` for arguments of the wrong type
    and ``ValueError`` for a seed < 0 or a fault naming a replica that does not exist.
    """
    _check_setup(config, workload, ())
    count("seed", seed)
    faults = _check_setup(config, workload, standard_faults(config.n, workload.duration)
                          if faults is None else faults)
    store = SimulatedStore(config, workload, faults, seed)
    store.run()
    history = tuple(store.history)
    result = check_linearizable(history)
    completed = [o for o in history if o.complete is not None]
    reads = [o for o in completed if o.kind == "read"]
    stale = stale_reads(history)
    converged = store.agree_since is not None
    metrics = {
        "write latency (ms)": _mean_or_nan(o.complete - o.invoke for o in completed
                                          if o.kind == "write"),
        "read latency (ms)": _mean_or_nan(o.complete - o.invoke for o in reads),
        "stale reads (%)": 100 * len(stale) / len(reads) if reads else 0.0,
        "timed out (%)": 100 * store.timed_out / len(history) if history else 0.0,
        "convergence (ms)": (max(0.0, store.agree_since - store.last_write_done) * 1000
                             if converged else math.inf),
        "operations": len(history),
    }
    return Run(config, seed, history, result, metrics, dict(store.net.stats), faults,
               dict(store.versions))
