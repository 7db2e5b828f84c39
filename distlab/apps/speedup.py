"""Speed-up measured on the cluster: the same seeded work on one worker, then on more.

The laws that turn measurements into predictions (Amdahl, Gustafson, Karp–Flatt) are
pure, in :mod:`distlab.concepts.scaling`; this module only runs the work and times it.
The work is chapter 00's darts (:func:`distlab.concepts.darts.darts_in_circle`),
CPU-bound, seeded and almost perfectly parallel (the only serial step is adding the
counts), so every run must return the same counts, and whatever keeps the speed-up below
p is overhead or contention, not serial code. Timings are shown, never asserted.

- :func:`measure_speedup`: the naive measurement, one speed-up (1 worker against all).
  One point cannot separate serial code from overhead (Karp & Flatt, CACM 1990).
- :func:`measure_scaling`: the same darts at several p and cut into several task counts,
  on Dask and on bare processes (a ``concurrent.futures`` process pool: no scheduler,
  no messages, so its speed-up is the machine's own ceiling at that moment), each with
  its Karp–Flatt e. Serial code would give one e for every row; overhead gives an e that
  grows with the tasks, and the bare processes show how much the machine itself allows.
"""
from __future__ import annotations

import os
import time

from distlab.checks import count, sequence
from distlab.concepts.darts import MAX_DARTS, darts_in_circle
from distlab.concepts.scaling import karp_flatt, karp_flatt_table
from distlab.engines.workers import check_client, submit_on, worker_addresses

__all__ = ["MAX_TASKS", "MAX_REPEATS", "measure_speedup", "measure_scaling"]

#: The most tasks one measurement maps (each costs the scheduler about a millisecond) and
#: the most repeats of a timing (the best of a few is what counts).
MAX_TASKS = 10_000
MAX_REPEATS = 20


def measure_speedup(client, tasks: int = 8, darts: int = 8_000_000) -> dict:
    """Time ``tasks`` seeded dart-throwing tasks of ``darts`` darts each on one worker
    (pinned there), then spread over every worker (placed by Dask's scheduler).

    Returns ``{"workers": p, "T(1) (s)": …, "T(p) (s)": …, "speed-up": T(1) / T(p),
    "Karp-Flatt e": the serial fraction (NaN on one worker), "same result": whether both
    runs gave the same counts}`` (they must). Every worker runs the function once before
    the clock starts. ``tasks`` an int in [1, :data:`MAX_TASKS`], ``darts`` in [1,
    :data:`~distlab.concepts.darts.MAX_DARTS`]. Raises ``TypeError``/``ValueError`` naming
    a bad argument (a missing or closed client included) and ``RuntimeError`` for a
    cluster without workers.
    """
    from distributed import wait

    check_client(client)
    tasks = count("tasks", tasks, minimum=1, maximum=MAX_TASKS)
    darts = count("darts", darts, minimum=1, maximum=MAX_DARTS)
    workers = worker_addresses(client)
    p = len(workers)
    # Warm up: every worker imports numpy and runs the function once before timing.
    wait([submit_on(client, darts_in_circle, 0, 1000, worker=w) for w in workers])

    begin = time.perf_counter()
    one = client.map(darts_in_circle, range(tasks), darts=darts, workers=[workers[0]],
                     allow_other_workers=False, pure=False)
    wait(one)
    t1 = time.perf_counter() - begin

    begin = time.perf_counter()
    spread = client.map(darts_in_circle, range(tasks), darts=darts, pure=False)
    wait(spread)
    tp = time.perf_counter() - begin
    same = client.gather(one) == client.gather(spread)
    speedup = t1 / tp
    return {"workers": p, "T(1) (s)": t1, f"T({p}) (s)": tp, "speed-up": speedup,
            "Karp-Flatt e": karp_flatt(speedup, p) if p > 1 else float("nan"),
            "same result": same}


def _best_seconds(run, repeats: int) -> tuple[float, list]:
    """The least disturbed of ``repeats`` runs (the minimum, as ``timeit`` advises: the
    noise of a shared machine only ever adds time), and the last run's result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        begin = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - begin)
    return best, result


def _measured_counts(most: int) -> list[int]:
    """1, 2, 4, … and ``most`` itself: the p at which to measure."""
    counts, p = [], 1
    while p < most:
        counts.append(p)
        p *= 2
    return counts + [most]


def measure_scaling(client, darts: int = 16_000_000, task_counts=(2, 8, 32),
                    repeats: int = 3):
    """Time ``darts`` seeded darts, cut into each of ``task_counts`` tasks, on 1, 2, 4, …
    and all of the cluster's workers (Dask; below all, the tasks are pinned to the first
    p workers), and on as many bare processes (a spawned ``ProcessPoolExecutor``, capped
    at the cores of this machine): the best of ``repeats`` runs each, after a warm-up.

    Returns :func:`distlab.concepts.scaling.karp_flatt_table` of the timings (engine
    ``"Dask"`` or ``"processes"``, tasks, workers, seconds; then speed-up, efficiency,
    Karp-Flatt e, Amdahl 1 - f (fit)) with a column ``same result``: whether the run's
    counts equal those of Dask on one worker with the same tasks (they must).
    ``darts`` an int in [1, :data:`~distlab.concepts.darts.MAX_DARTS`], ``task_counts`` a
    non-empty list of ints in [1, min(darts, :data:`MAX_TASKS`)], ``repeats`` an int in
    [1, :data:`MAX_REPEATS`]. Raises ``TypeError``/``ValueError`` naming a bad argument
    (a missing or closed client included) and ``RuntimeError`` for a cluster without
    workers.
    """
    import importlib
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from functools import partial

    from distributed import wait

    check_client(client)
    darts = count("darts", darts, minimum=1, maximum=MAX_DARTS)
    counts = [count("task_counts[i]", k, minimum=1, maximum=min(darts, MAX_TASKS),
                    limit="darts, and the limit of this function")
              for k in sequence("task_counts", task_counts)]
    if not counts:
        raise ValueError("task_counts must hold at least one count")
    repeats = count("repeats", repeats, minimum=1, maximum=MAX_REPEATS)
    workers = worker_addresses(client)
    wait([submit_on(client, darts_in_circle, 0, 1000, worker=w) for w in workers])
    rows, reference = [], {}
    for p in _measured_counts(len(workers)):
        where = {} if p == len(workers) else dict(workers=workers[:p],
                                                  allow_other_workers=False)
        for k in counts:
            def run():
                futures = client.map(darts_in_circle, range(k), darts=darts // k,
                                     pure=False, **where)
                return client.gather(futures)
            seconds, result = _best_seconds(run, repeats)
            reference.setdefault(k, result)
            rows.append({"engine": "Dask", "tasks": k, "workers": p, "seconds": seconds,
                         "same result": result == reference[k]})
    context = multiprocessing.get_context("spawn")      # no fork of a threaded process
    for p in _measured_counts(min(len(workers), os.cpu_count() or 1)):
        # Every process imports the darts (and numpy) as it starts, before any timing.
        with ProcessPoolExecutor(p, mp_context=context, initializer=importlib.import_module,
                                 initargs=("distlab.concepts.darts",)) as pool:
            list(pool.map(partial(darts_in_circle, darts=1000), range(p)))   # start all p
            for k in counts:
                seconds, result = _best_seconds(
                    lambda: list(pool.map(partial(darts_in_circle, darts=darts // k),
                                          range(k))), repeats)
                rows.append({"engine": "processes", "tasks": k, "workers": p,
                             "seconds": seconds, "same result": result == reference[k]})
    return karp_flatt_table(rows)
