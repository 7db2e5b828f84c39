"""α and β of the task engine by ping-pong, and its predictions against measured times.

Ping-pong: an array is made on worker A; a chain of tasks alternately pinned to B and A
passes it back and forth, so every hop is one task that fetches the array from the other
process. The time per hop, fitted against the size s as ``t = α + s·β``, gives the
cluster's latency per message (which on Dask is mostly scheduling one dependent task:
"about 1 ms of overhead per task", distributed docs; [local] 2–10 ms on a busy 2-core box)
and its time per byte (loopback TCP and pickling, [local] 0.3–0.7 GB/s).

The task engine then runs each algorithm on arrays already placed on the workers, and the
wall time is set against two predictions from the same plan: the plain α-β model, and a
"tasks" model that pays α per dependent task on the critical path of the engine's graph
(a chunked message costs two: one to cut the chunk on the sender, one to apply it on the
receiver) plus the client's fixed overhead per call. The direct engine's calibration is
:mod:`~distlab.engines.calibrate`.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
from distributed import wait

from distlab import checks
from distlab.concepts.cost import plan_time, round_bytes
from distlab.engines.algorithms import EXACT_ALGORITHMS, make_plan
from distlab.engines.allreduce import DASK_ENGINES, allreduce
from distlab.engines.calibrate import (MAX_HOPS, MAX_REPEATS, Calibration,
    _check_measure, _check_model, _check_sizes, _two_workers, make_array)
from distlab.engines.tasks import _wait_pinned, critical_path
from distlab.engines.workers import check_client, submit_on, worker_addresses

__all__ = ["PING_SIZES", "ping_pong", "predict", "measure"]

#: Sizes in bytes for the ping-pong: latency-bound to bandwidth-bound.
PING_SIZES = (8, 1024 * 1024, 4 * 1024 * 1024, 16 * 1024 * 1024)


def _bounce(x):
    """Runs on a worker: hand the array on; the next hop's task fetches it from here."""
    return x


def _chain(client, x, hops: int, a: str, b: str) -> float:
    start = time.perf_counter()
    y = x
    for h in range(hops):
        y = submit_on(client, _bounce, y, worker=b if h % 2 == 0 else a, strict=True)
    _wait_pinned(client, [y], [a, b])
    return time.perf_counter() - start


def ping_pong(client, sizes=PING_SIZES, hops: int = 8, repeats: int = 3) -> Calibration:
    """Time chains of 1 and ``hops`` hops at each size: the difference gives seconds per
    hop (fitted as ``t = α + s·β``, least squares on medians of ``repeats``), the rest is
    the client's fixed overhead per call. About a second on 2 idle cores.

    ``sizes``: at least two byte counts in [1, MAX_BYTES]; ``hops`` an int in [2,
    MAX_HOPS]; ``repeats`` in [1, MAX_REPEATS] (:mod:`~distlab.engines.calibrate`). Raises
    ``TypeError`` / ``ValueError`` naming a bad argument (a closed ``client`` included),
    ``RuntimeError`` with fewer than 2 workers."""
    check_client(client)
    hops = checks.count("hops", hops, minimum=2, maximum=MAX_HOPS)
    repeats = checks.count("repeats", repeats, minimum=1, maximum=MAX_REPEATS)
    sizes = _check_sizes(sizes, 2)
    a, b = _two_workers(client)
    rows, overheads = [], []
    for size in sizes:
        x = submit_on(client, make_array, size, worker=a, strict=True)
        wait([x])
        one = float(np.median([_chain(client, x, 1, a, b) for _ in range(repeats)]))
        many = float(np.median([_chain(client, x, hops, a, b) for _ in range(repeats)]))
        per_hop = max((many - one) / (hops - 1), 1e-9)
        overheads.append(max(one - per_hop, 0.0))
        rows.append({"bytes": max(8, size // 8 * 8), "seconds_per_hop": per_hop})
        del x
    samples = pd.DataFrame(rows)
    beta, alpha = np.polyfit(samples["bytes"], samples["seconds_per_hop"], 1)
    if alpha <= 0:                   # noise: fall back to the smallest message's hop time
        alpha = float(samples["seconds_per_hop"].iloc[0])
    if beta <= 0:
        beta = 1e-12
    return Calibration(float(alpha), float(beta), float(np.median(overheads)), samples)


def predict(plan, n: int, calibration: Calibration, itemsize: int = 8) -> dict:
    """Two predictions for the task engine, in seconds: the plain α-β model of the plan
    (``predicted_s``), and the "tasks" model (``predicted_tasks_s``): the client's
    overhead, α per dependent task on the critical path of the engine's graph, and β per
    byte of each round's busiest node. Arguments and errors as
    :func:`distlab.engines.calibrate.round_seconds`."""
    n, itemsize = _check_model(plan, n, calibration, itemsize)
    network = calibration.network
    alpha_beta = plan_time(plan, n, itemsize, network)
    if plan.n_rounds == 0:
        return {"predicted_s": 0.0, "predicted_tasks_s": calibration.overhead}
    _, _, b_out, b_in, _ = round_bytes(plan, n, itemsize)
    busiest = np.maximum(b_out, b_in).max(axis=1).sum()
    tasks = calibration.overhead + critical_path(plan).sum() * network.alpha \
        + busiest * network.beta
    return {"predicted_s": alpha_beta, "predicted_tasks_s": float(tasks)}


def measure(client, calibration: Calibration, algorithms=EXACT_ALGORITHMS,
            sizes=(8 * 1024, 1024 * 1024, 8 * 1024 * 1024), repeats: int = 3,
            n_nodes: int | None = None, dask_engine: str = "tasks") -> pd.DataFrame:
    """Predicted against measured: one row per algorithm and message size (bytes per
    node), on ``n_nodes`` nodes (default: one per worker). Measured is the median wall
    time of ``repeats`` runs of the task engine (``dask_engine="tasks"``, which the "tasks"
    model describes) on arrays already on the workers.

    ``sizes``: byte counts in [1, MAX_BYTES]; ``repeats`` in [1, MAX_REPEATS];
    ``n_nodes`` ``None`` or an int from 1 to the number of workers; ``dask_engine`` one of
    ``allreduce``'s. Raises ``TypeError`` / ``ValueError`` naming a bad argument (a closed
    ``client`` included)."""
    algorithms, sizes, repeats = _check_measure(client, calibration, algorithms, sizes,
                                                repeats)
    checks.choice("dask_engine", dask_engine, DASK_ENGINES)
    workers = worker_addresses(client)
    p = len(workers) if n_nodes is None else checks.count(
        "n_nodes", n_nodes, minimum=1, maximum=len(workers), limit="the cluster's workers")
    rows = []
    for size in sizes:
        n = max(1, int(size) // 8)
        placed = [submit_on(client, make_array, n * 8, worker=w, strict=True)
                  for w in workers[:p]]
        wait(placed)
        for algorithm in algorithms:
            times = [allreduce(placed, algorithm, client, workers=workers[:p],
                               dask_engine=dask_engine).wall_time
                     for _ in range(repeats)]
            plan = make_plan(algorithm, p)
            row = {"algorithm": algorithm, "nodes": p, "bytes": n * 8,
                   "rounds": plan.n_rounds, **predict(plan, n, calibration),
                   "measured_s": float(np.median(times))}
            row["measured/predicted (tasks)"] = row["measured_s"] / row["predicted_tasks_s"]
            rows.append(row)
        del placed
    return pd.DataFrame(rows)


