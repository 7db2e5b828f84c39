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

from distlab.checks import choice, count, number, sequence
from distlab.apps.listing import parallel_computation
from distlab.concepts.partitioning import (STRATEGIES, alternating_durations, as_costs,
                                           lower_bound, simulate_schedule)
from distlab.engines.workers import check_client, submit_on, worker_addresses

__all__ = ["MAX_TASKS", "MAX_SECONDS", "MAX_VALUES", "run_schedule_on_cluster",
           "measure_overhead", "balance", "partitioned_sum"]

#: Bounds on one measurement on the cluster: tasks (each costs the scheduler about a
#: millisecond), seconds of work (the book's cells take seconds), numbers summed.
MAX_TASKS = 10_000
MAX_SECONDS = 60.0
MAX_VALUES = 10**7


def _durations(durations) -> list[float]:
    """Task durations in seconds: a list of at most :data:`MAX_TASKS`, adding up to at
    most :data:`MAX_SECONDS`."""
    values = as_costs(durations, "durations")
    if len(values) > MAX_TASKS:
        raise ValueError(f"durations must hold at most {MAX_TASKS:,} tasks (the limit of "
                         f"this function), got {len(values):,}")
    if sum(values) > MAX_SECONDS:
        raise ValueError(f"durations must add up to at most {MAX_SECONDS:g} s (the limit of "
                         f"this function), got {sum(values):g} s")
    return values


# -- the tasks ------------------------------------------------------------------------------
def _sleep_task(seconds: float, index: int = 0) -> int:
    """A task that takes ``seconds`` without using the CPU (a stand-in for work whose
    length we want to control exactly on a shared machine); returns its index."""
    time.sleep(seconds)
    return index


def _spin_task(seconds: float, index: int = 0) -> int:
    """A task that keeps one core busy for ``seconds`` of wall time; returns its index."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        pass
    return index


# -- load balancing -------------------------------------------------------------------------
def run_schedule_on_cluster(client, durations, strategy: str) -> dict:
    """Run sleeping tasks of ``durations`` (seconds) on the cluster with ``strategy``:
    the static strategies pin each task to the worker the plan chose; ``"dynamic"``
    submits them unpinned, in order, and lets Dask's scheduler place them.

    Returns ``{"strategy", "makespan (s)": wall-clock seconds, "indices": the tasks'
    indices in order}`` (to check that every task ran once). Raises ``TypeError``/
    ``ValueError`` naming the argument: durations not a list of numbers ≥ 0 (at most
    :data:`MAX_TASKS`, :data:`MAX_SECONDS` in all), an unknown strategy, a closed or
    missing client.
    """
    from distributed import wait

    check_client(client)
    values = _durations(durations)
    choice("strategy", strategy, STRATEGIES)
    workers = worker_addresses(client)
    begin = time.perf_counter()
    if strategy == "dynamic":
        futures = [client.submit(_sleep_task, d, i, pure=False) for i, d in enumerate(values)]
    else:
        plan = simulate_schedule(values, len(workers), strategy)
        futures = [submit_on(client, _sleep_task, d, i, worker=workers[plan.worker[i]],
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
    makespan (a timing, only shown). Raises ``TypeError``/``ValueError`` as
    :func:`run_schedule_on_cluster` and ``RuntimeError`` if a task did not run exactly
    once."""
    check_client(client)
    durations = _durations(alternating_durations() if durations is None else durations)
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
    efficiency. Timings: show them, never assert them. ``total_seconds`` in [0,
    :data:`MAX_SECONDS`], ``task_counts`` a non-empty list of ints in [1,
    :data:`MAX_TASKS`]; ``TypeError``/``ValueError`` naming the argument otherwise (a
    closed or missing client included)."""
    from distributed import wait

    check_client(client)
    total = number("total_seconds", total_seconds, minimum=0, maximum=MAX_SECONDS)
    counts = [count(f"task_counts[{i}]", k, minimum=1, maximum=MAX_TASKS)
              for i, k in enumerate(sequence("task_counts", task_counts))]
    if not counts:
        raise ValueError("task_counts must hold at least one count")
    workers = len(worker_addresses(client))
    wait(client.map(_spin_task, [0.001] * workers, pure=False))  # warm up both workers
    rows = []
    for k in counts:
        begin = time.perf_counter()
        futures = client.map(_spin_task, [total / k] * k, range(k), pure=False)
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
    it equals numpy's (to a relative 1e-12; it does however the array is cut).
    ``rows`` and ``columns`` ints ≥ 1 (at most :data:`MAX_VALUES` numbers), ``seed`` an
    int ≥ 0, ``partitions`` a non-empty list of ints in [1, rows]; ``TypeError``/
    ``ValueError`` naming the argument otherwise (a closed or missing client included)."""
    check_client(client)
    rows = count("rows", rows, minimum=1, maximum=MAX_VALUES)
    columns = count("columns", columns, minimum=1, maximum=MAX_VALUES // rows,
                    limit=f"{MAX_VALUES:,} numbers in all")
    seed = count("seed", seed)
    partitions = [count(f"partitions[{i}]", k, minimum=1, maximum=rows, limit="rows")
                  for i, k in enumerate(sequence("partitions", partitions))]
    if not partitions:
        raise ValueError("partitions must hold at least one number of partitions")
    data = np.random.default_rng(seed).random((rows, columns))
    exact = float(data.sum())
    out = []
    for k in partitions:
        total = parallel_computation(client, data, partitions=k)
        out.append({"partitions": k, "rows per task": math.ceil(rows / k),
                    "sum": round(total, 6),
                    "equals numpy": bool(np.isclose(total, exact, rtol=1e-12))})
    return pd.DataFrame(out).set_index("partitions")
