"""Speed-up measured on the cluster: the same seeded work on one worker, then on all.

The laws that turn these two points into predictions (Amdahl, Gustafson, Karp–Flatt)
are pure, in :mod:`distlab.concepts.scaling`; this module only runs the work and times
it. The work is chapter 00's darts (:func:`distlab.concepts.darts.darts_in_circle`),
CPU-bound and seeded, so both runs must return the same counts. Timings are shown,
never asserted.
"""
from __future__ import annotations

import time

from distlab.checks import count
from distlab.concepts.darts import darts_in_circle
from distlab.concepts.scaling import karp_flatt
from distlab.engines.workers import submit_on, worker_addresses

__all__ = ["measure_speedup"]


def measure_speedup(client, tasks: int = 8, darts: int = 8_000_000) -> dict:
    """Time ``tasks`` seeded dart-throwing tasks of ``darts`` darts each on one worker
    (pinned there), then spread over every worker (placed by Dask's scheduler).

    Returns ``{"workers": p, "T(1) (s)": …, "T(p) (s)": …, "speed-up": T(1) / T(p),
    "Karp-Flatt e": the serial fraction (NaN on one worker), "same result": whether both
    runs gave the same counts}`` (they must). Every worker runs the function once before
    the clock starts. Raises ``TypeError``/``ValueError`` for a bad count and
    ``RuntimeError`` for a cluster without workers.
    """
    from distributed import wait

    tasks = count("tasks", tasks, minimum=1)
    darts = count("darts", darts, minimum=1)
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
