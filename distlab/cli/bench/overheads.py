"""The floors under every other number: numpy's copy bandwidth and mean in one process,
Dask's per-task overhead and round trip beside the documented figures, and a CPU-bound
map on 1 and 2 worker processes beside the same map on bare processes."""
from __future__ import annotations

import statistics
import time

import numpy as np

from distlab.cli.bench.report import Report
from distlab.cli.bench.timing import best_of

#: Internal to ``python -m distlab bench`` (:func:`distlab.cli.bench.run`).
__all__: list[str] = []


def numpy_floor(report: Report, n_bytes: int) -> None:
    """Copy bandwidth (GB/s) and the mean of two vectors of ``n_bytes`` (ms), in this
    process: what memory alone allows."""
    n = n_bytes // 8
    a, out = np.ones(n), np.empty(n)
    copy = best_of(lambda: np.copyto(out, a))
    report.add("floor", f"np.copyto {n_bytes / 2**20:g} MiB", 2 * n_bytes / copy / 1e9, "GB/s")
    parts = np.ones((2, n))
    mean = best_of(lambda: parts.mean(axis=0))
    report.add("floor", f"numpy mean of 2 × {n_bytes / 2**20:g} MiB", mean * 1e3, "ms",
               reference="copy bandwidth",
               ratio=(3 * n_bytes / mean / 1e9) / (2 * n_bytes / copy / 1e9))


def _noop(i):
    return i


def dask_overheads(report: Report, client, tasks: int) -> None:
    """Dask's per-task overhead over ``tasks`` no-op tasks, and the median round trip of
    one ``submit().result()``, each against the figure Dask documents."""
    client.submit(_noop, -1, pure=False).result()          # warm up
    start = time.perf_counter()
    client.gather(client.map(_noop, range(tasks), pure=False))
    per_task = (time.perf_counter() - start) / tasks
    report.add("dask", f"per-task overhead ({tasks} no-op tasks)", per_task * 1e6, "µs",
               reference="Dask docs: 200 µs – 1 ms per task", ratio=per_task / 1e-3)
    trips = []
    for i in range(30):
        start = time.perf_counter()
        client.submit(_noop, i, pure=False).result()
        trips.append(time.perf_counter() - start)
    trip = statistics.median(trips)
    report.add("dask", "round trip submit().result(), median", trip * 1e3, "ms",
               reference="distributed#836: 10–20 ms", ratio=trip / 10e-3)


def cpu_speedup(report: Report, tasks: int, darts: int) -> None:
    """The same CPU-bound map on 1 and on 2 worker processes; and, as the machine's own
    ceiling at that moment, on 1 and 2 bare processes (a process pool, no Dask)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from functools import partial

    from distlab.concepts.darts import darts_in_circle
    from distlab.engines.cluster import connect
    seconds, bare = {}, {}
    for workers in (1, 2):
        with connect(n_workers=workers) as client:
            client.gather(client.map(darts_in_circle, range(workers), darts=1000, pure=False))

            def run():
                client.gather(client.map(darts_in_circle, range(tasks), darts=darts,
                                         pure=False))
            seconds[workers] = best_of(run, repeats=3)     # the least disturbed of three
        report.add("scaling", f"{tasks} CPU-bound tasks on {workers} worker(s)",
                   seconds[workers], "s")
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) \
                as pool:
            list(pool.map(partial(darts_in_circle, darts=1000), range(workers)))
            bare[workers] = best_of(lambda: list(pool.map(
                partial(darts_in_circle, darts=darts), range(tasks))), repeats=3)
        report.add("scaling", f"{tasks} CPU-bound tasks on {workers} bare process(es)",
                   bare[workers], "s", reference="a process pool, no Dask")
    speedup, ceiling = seconds[1] / seconds[2], bare[1] / bare[2]
    report.add("scaling", "bare processes: speed-up of 2 over 1", ceiling, "×",
               reference="the machine's ceiling now (ideal 2)", ratio=ceiling / 2)
    report.add("scaling", "speed-up on 2 workers over 1", speedup, "×",
               reference="bare processes; ratio: ÷ bare", ratio=speedup / ceiling,
               target="≥ 1.8", meets=speedup >= 1.8)
    report.add("targets", "CPU-bound map: speed-up on 2 workers ÷ bare processes' "
               "speed-up (issue 15)", speedup / ceiling, "×",
               reference=f"workers {speedup:.3g}×, bare processes {ceiling:.3g}×, the same "
                         "run", target="≥ 0.95", meets=speedup / ceiling >= 0.95)
