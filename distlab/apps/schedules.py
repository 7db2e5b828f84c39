"""Partitioning and load balancing on the live cluster, beside their simulation.

:mod:`distlab.concepts.partitioning` plans where tasks go and predicts the makespan and
the per-task overhead, exactly and for any number of workers. This module runs the same
plans on the Dask workers and times them:

- :func:`run_schedule_on_cluster`: tasks of known durations, pinned where a static
  strategy put them, or left to Dask's scheduler (``"dynamic"``).
- :func:`measure_overhead`: a fixed amount of busy work cut into more and more tasks,
  which :func:`~distlab.concepts.partitioning.fit_overhead` turns into seconds per task.
- :func:`balance`: skewed tasks three ways, simulated and measured, in one table.
- :func:`partitioned_sum`: chapter 05's corrected ``parallel_computation`` cut into
  different numbers of partitions; the sum does not depend on the cut.

Measured times are timings of this machine at this moment: shown, never asserted.
"""
from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd

from distlab.checks import choice, count, number
from distlab.apps.listing import parallel_computation
from distlab.concepts.partitioning import (STRATEGIES, alternating_durations, as_costs,
                                           lower_bound, simulate_schedule)
from distlab.engines.workers import submit_on, worker_addresses

__all__ = ["sleep_task", "spin_task", "run_schedule_on_cluster", "measure_overhead",
           "balance", "partitioned_sum"]


# -- the tasks ------------------------------------------------------------------------------
def sleep_task(seconds: float, index: int = 0) -> int:
    """A task that takes ``seconds`` without using the CPU (a stand-in for work whose
    length we want to control exactly on a shared machine); returns its index."""
    time.sleep(seconds)
    return index


def spin_task(seconds: float, index: int = 0) -> int:
    """A task that keeps one core busy for ``seconds`` of wall time; returns its index."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        pass
    return index


# -- load balancing -------------------------------------------------------------------------
def run_schedule_on_cluster(client, durations, strategy: str) -> dict:
    """Run ``sleep_task``s of ``durations`` (seconds) on the cluster with ``strategy``:
    the static strategies pin each task to the worker the plan chose; ``"dynamic"``
    submits them unpinned, in order, and lets Dask's scheduler place them.

    Returns ``{"strategy", "makespan (s)": wall-clock seconds, "indices": the tasks'
    indices in order}`` (to check that every task ran once). Raises ``ValueError`` for
    bad durations or an unknown strategy.
    """
    from distributed import wait

    values = as_costs(durations, "durations")
    choice("strategy", strategy, STRATEGIES)
    workers = worker_addresses(client)
    begin = time.perf_counter()
    if strategy == "dynamic":
        futures = [client.submit(sleep_task, d, i, pure=False) for i, d in enumerate(values)]
    else:
        plan = simulate_schedule(values, len(workers), strategy)
        futures = [submit_on(client, sleep_task, d, i, worker=workers[plan.worker[i]],
                             strict=True) for i, d in enumerate(values)]
    wait(futures)
    makespan = time.perf_counter() - begin
    return {"strategy": strategy, "makespan (s)": makespan,
            "indices": client.gather(futures)}


def balance(client, durations=None) -> pd.DataFrame:
    """Skewed tasks (default :func:`~distlab.concepts.partitioning.alternating_durations`)
    placed three ways: pinned round-robin, pinned longest-first (Graham's LPT rule), and
    unpinned (Dask's scheduler hands each task to a free worker). One row per placement:
    the simulated workers and makespan (exact), the lower bound, and the measured
    makespan (a timing, only shown). Raises ``RuntimeError`` if a task did not run
    exactly once."""
    durations = alternating_durations() if durations is None else list(durations)
    workers = len(worker_addresses(client))
    rows = []
    for strategy, name in (("round_robin", "static: round-robin"),
                           ("longest_first", "static: longest first"),
                           ("dynamic", "dynamic: Dask's scheduler")):
        plan = simulate_schedule(durations, workers, strategy)
        ran = run_schedule_on_cluster(client, durations, strategy)
        if sorted(ran["indices"]) != list(range(len(durations))):
            raise RuntimeError(f"{strategy}: not every task ran exactly once")
        rows.append({"placement": name, "simulated workers": list(plan.worker),
                     "simulated makespan (s)": round(plan.makespan, 3),
                     "lower bound (s)": round(lower_bound(durations, workers), 3),
                     "measured (s)": ran["makespan (s)"]})
    return pd.DataFrame(rows).set_index("placement")


# -- task partitioning and its overhead -----------------------------------------------------
def measure_overhead(client, total_seconds: float = 0.4,
                     task_counts=(2, 8, 32, 128, 512)) -> pd.DataFrame:
    """Split ``total_seconds`` of busy work into each number of tasks and time it on the
    cluster. Returns a DataFrame: tasks, task length (ms), measured (s), ideal (s),
    efficiency. Timings: show them, never assert them."""
    from distributed import wait

    total = number("total_seconds", total_seconds, minimum=0)
    counts = [count("task_counts[i]", k, minimum=1) for k in task_counts]
    if not counts:
        raise ValueError("task_counts must hold at least one count")
    workers = len(worker_addresses(client))
    wait(client.map(spin_task, [0.001] * workers, pure=False))   # warm up both workers
    rows = []
    for k in counts:
        begin = time.perf_counter()
        futures = client.map(spin_task, [total / k] * k, range(k), pure=False)
        wait(futures)
        measured = time.perf_counter() - begin
        if sorted(client.gather(futures)) != list(range(k)):
            raise RuntimeError(f"{k} tasks: not every task ran exactly once")
        del futures
        rows.append({"tasks": k, "task (ms)": 1000 * total / k, "measured (s)": measured,
                     "ideal (s)": total / workers, "efficiency": total / workers / measured})
    return pd.DataFrame(rows)


def partitioned_sum(client, rows: int = 1000, columns: int = 100, seed: int = 0,
                    partitions=(1, 2, 8)) -> pd.DataFrame:
    """Chapter 05's corrected ``parallel_computation``: a seeded ``rows`` × ``columns``
    array cut into each number of ``partitions``, each part summed on a worker, the
    partial sums gathered and added. One row per cut: rows per task, the sum, and whether
    it equals numpy's (to a relative 1e-12; it does however the array is cut)."""
    data = np.random.default_rng(seed).random((rows, columns))
    exact = float(data.sum())
    out = []
    for k in partitions:
        total = parallel_computation(client, data, partitions=k)
        out.append({"partitions": k, "rows per task": math.ceil(rows / k),
                    "sum": round(total, 6),
                    "equals numpy": bool(np.isclose(total, exact, rtol=1e-12))})
    return pd.DataFrame(out).set_index("partitions")
