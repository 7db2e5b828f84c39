"""Steady speed at the largest size (issue 15, item 5): medians and 90th percentiles over
≥ 20 calls, beside gloo's and the one-process floor, with and without torch in the workers.

Rows go to the section ``steady p=… <size>``, one measure per
``cluster · pattern · algorithm · statistic``: *cluster* says how the workers were started
(:data:`BENCH_CLUSTER`, or the default 512 MiB workers without and with torch loaded),
*pattern* is :data:`ON_WORKERS` (inputs already on the workers, as gradients would be) or
:data:`FRESH` (new inputs scattered from the client before every call: what a user's
script does), the statistic ``median`` or ``p90`` in ms. Beside them: gloo's median and
p90 from the same run and numpy's mean of the same arrays in one process (the floor).
:func:`steady_targets` sets the best of them against issue 15's targets, giving the
measurement, and the reason where this machine explains a miss.
"""
from __future__ import annotations

import os
import statistics
import time

import numpy as np

from distlab.cli.bench.report import Report
from distlab.cli.bench.timing import call_times, p90

#: Internal to ``python -m distlab bench`` (:func:`distlab.cli.bench.run`).
__all__: list[str] = []

ON_WORKERS, FRESH = "inputs on the workers", "fresh inputs from the client"
BENCH_CLUSTER = "bench workers"
NO_TORCH, TORCH = "512 MiB workers, no torch", "512 MiB workers, torch loaded"
#: Calls per row: at least 20 (issue 15); a quick run takes a few.
CALLS, QUICK_CALLS = 21, 5
#: Issue 15's targets: median ÷ gloo's, p90 ÷ gloo's p90, median ÷ the one-process floor.
MEDIAN_LIMIT, P90_LIMIT, FLOOR_LIMIT = 1.3, 1.6, 2.0


def section_name(p: int, label: str) -> str:
    return f"steady p={p} {label}"


def fresh_input_times(client, workers, arrays, algorithm: str, calls: int) -> list[float]:
    """Seconds of each of ``calls`` all-reduces (after a warm-up) whose inputs, one
    array of ``arrays`` per worker, are scattered from the client in the call."""
    from distributed import wait

    from distlab.engines.allreduce import allreduce

    def run():
        inputs = [client.scatter(a, workers=[w], direct=True, hash=False)
                  for a, w in zip(arrays, workers)]
        wait(allreduce(inputs, algorithm, client, workers=workers).futures)
    return call_times(run, calls)


def add_times(report: Report, section: str, cluster: str, pattern: str, algorithm: str,
              times, gloo: list | None) -> None:
    """The median and p90 rows of ``times`` (seconds), each ÷ gloo's."""
    for stat, of in (("median", statistics.median), ("p90", p90)):
        value = of(times)
        reference = f"{len(times)} calls; ratio: ÷ gloo's {stat}"
        report.add(section, f"{cluster} · {pattern} · {algorithm} · {stat}", value * 1e3,
                   "ms", reference=reference, ratio=value / of(gloo) if gloo else None)


def add_references(report: Report, section: str, gloo: list | None, floor: float) -> None:
    """gloo's median and p90 and the one-process floor, in ms."""
    report.add(section, "numpy mean in one process (floor)", floor * 1e3, "ms",
               reference="the same arrays, one process")
    for stat, of in (("median", statistics.median), ("p90", p90)):
        report.add(section, f"gloo · {stat}", of(gloo) * 1e3 if gloo else None, "ms",
                   reference=f"{len(gloo)} calls, torch.distributed; ratio: ÷ floor"
                   if gloo else "gloo not measured", ratio=of(gloo) / floor if gloo else None)
    report.add(section, "load average (1 min)", os.getloadavg()[0], "",
               reference=f"{os.cpu_count()} cores")


def torch_section(report: Report, p: int, label: str, n_bytes: int, node_vector,
                  calls: int) -> None:
    """The best algorithm of ``section_name(p, label)`` on two clusters of default
    (512 MiB) workers alive together, one with torch imported when each worker starts
    (Dask's ``preload``, as a script's ``import torch`` would), calls alternating
    between them; both patterns."""
    from distributed import wait

    import dask

    from distlab.engines.allreduce import allreduce
    from distlab.engines.cluster import connect
    from distlab.engines.workers import submit_on, wait_for_workers, worker_addresses
    from distlab.engines import torch_gloo

    section = section_name(p, label)
    best = _best(report.frame(), section, BENCH_CLUSTER, ON_WORKERS)
    if best is None:
        return
    if not torch_gloo.available():
        report.add(section, f"{TORCH}: skipped, PyTorch not installed", None, "ms")
        return
    gloo = _gloo_times(report, section)
    arrays = [node_vector(n_bytes, i) for i in range(p)]
    clusters = {}
    try:
        for name, preload in ((NO_TORCH, []), (TORCH, ["torch"])):
            with dask.config.set({"distributed.worker.preload": preload}):
                client = connect(n_workers=p)
            clusters[name] = client
            wait_for_workers(client, p)
        homes = {name: worker_addresses(c)[:p] for name, c in clusters.items()}
        placed = {name: [submit_on(c, node_vector, n_bytes, i, worker=w, strict=True)
                         for i, w in enumerate(homes[name])] for name, c in clusters.items()}
        wait([f for futures in placed.values() for f in futures])

        def call(name, pattern):
            client, workers = clusters[name], homes[name]
            start = time.perf_counter()
            inputs = placed[name] if pattern == ON_WORKERS else [
                client.scatter(a, workers=[w], direct=True, hash=False)
                for a, w in zip(arrays, workers)]
            wait(allreduce(inputs, best, client, workers=workers).futures)
            return time.perf_counter() - start
        times = {(n, pattern): [] for n in clusters for pattern in (ON_WORKERS, FRESH)}
        for i in range(calls + 1):                    # the first round warms up
            for name, pattern in (times if i % 2 else reversed(list(times))):
                seconds = call(name, pattern)
                if i:
                    times[name, pattern].append(seconds)
    finally:
        for client in clusters.values():
            client.close()
    for (name, pattern), seconds in times.items():
        add_times(report, section, name, pattern, best, seconds, gloo)


def steady_targets(report: Report, p: int, label: str) -> None:
    """Issue 15's targets for ``section_name(p, label)``: per cluster and pattern, the
    best algorithm's median ≤ 1.3× gloo's, its p90 ≤ 1.6× gloo's p90, its median ≤ 2×
    the floor; at p > 2 only the median against gloo. A miss gives the measurement and,
    where this machine explains it, the reason."""
    frame = report.frame()
    section = section_name(p, label)
    part = frame[frame.section == section].set_index("measure").value
    if "numpy mean in one process (floor)" not in part.index:
        return
    floor = float(part["numpy mean in one process (floor)"])
    gloo = {s: part.get(f"gloo · {s}") for s in ("median", "p90")}
    gloo = {s: float(v) for s, v in gloo.items() if v is not None and not np.isnan(v)}
    load = float(part.get("load average (1 min)", np.nan))
    cores = os.cpu_count() or 1
    for cluster in (BENCH_CLUSTER, NO_TORCH, TORCH):
        for pattern in (ON_WORKERS, FRESH):
            best = _best(frame, section, cluster, pattern)
            if best is None:
                continue
            key = f"{cluster} · {pattern} · {best}"
            median, tail = float(part[f"{key} · median"]), float(part[f"{key} · p90"])
            placed = part.get(f"{cluster} · {ON_WORKERS} · {best} · median")
            copying = median - float(placed) if pattern == FRESH and placed else None
            checks = [("median ÷ gloo's median", median, gloo.get("median"), MEDIAN_LIMIT)]
            if p == 2:
                checks += [("p90 ÷ gloo's p90", tail, gloo.get("p90"), P90_LIMIT),
                           ("median ÷ one-process floor", median, floor, FLOOR_LIMIT)]
            for what, value, against, limit in checks:
                if against is None:
                    continue
                ratio = value / against
                reason = "" if ratio <= limit else _reason(p, cores, copying, what, gloo,
                                                           floor, load)
                report.add("targets", f"{label} p={p}, {cluster}, {pattern}: distlab best "
                           f"({best}) {what}", ratio, "×",
                           reference=f"distlab {value:.3g} ms, against {against:.3g} ms"
                           + reason, target=f"≤ {limit}", meets=ratio <= limit)


def _reason(p, cores, copying, what, gloo, floor, load) -> str:
    """Why this machine may miss a target, from what the run measured (``copying``: ms
    a call's scatter of fresh inputs adds, or None)."""
    reasons = []
    if p > cores:
        reasons.append(f"{p} workers on {cores} cores, with the client and scheduler")
    if "floor" in what and gloo.get("median") and gloo["median"] / floor > FLOOR_LIMIT:
        reasons.append(f"gloo itself is {gloo['median'] / floor:.2g}× the floor here")
    if copying is not None:
        reasons.append(f"scattering the inputs from the client adds {copying:.3g} ms a "
                       "call (fresh − on the workers), which gloo's ranks do not do")
    if load > cores * 0.75:
        reasons.append(f"load average {load:.2g} on {cores} cores")
    return "; not met: " + "; ".join(reasons) if reasons else ""


def _best(frame, section, cluster, pattern) -> str | None:
    """The algorithm with the lowest median for ``cluster`` and ``pattern``, or None."""
    prefix, suffix = f"{cluster} · {pattern} · ", " · median"
    rows = frame[(frame.section == section) & frame.measure.str.startswith(prefix)
                 & frame.measure.str.endswith(suffix)]
    if not len(rows):
        return None
    return rows.loc[rows.value.astype(float).idxmin(), "measure"][len(prefix):-len(suffix)]


def _gloo_times(report: Report, section: str):
    """gloo's calls as the section recorded them (kept on the report), or None."""
    return getattr(report, "gloo_calls", {}).get(section)
