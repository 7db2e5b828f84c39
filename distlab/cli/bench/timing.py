"""Two ways to time a call: the least disturbed of a few runs, and the median after a
warm-up. The benchmark reports times and nowhere else in distlab are they taken."""
from __future__ import annotations

import statistics
import time


def best_of(func, repeats: int = 5) -> float:
    """The fastest of ``repeats`` runs of ``func()``, in seconds (the least disturbed one):
    for work whose time only noise can lengthen (numpy, a CPU-bound map)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def median_time(run, repeats: int) -> float:
    """The median seconds of ``repeats`` runs of ``run()`` after one warm-up run
    (connections, caches, plans): for calls whose own time varies (a message round)."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
