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
from distlab.engines.algorithms import EXACT_ALGORITHMS, check_algorithm, make_plan
from distlab.engines.allreduce import allreduce
from distlab.engines.calibrate import Calibration, make_array, two_workers
from distlab.engines.tasks import critical_path, wait_pinned
from distlab.engines.workers import submit_on, worker_addresses

#: Sizes in bytes for the ping-pong: latency-bound to bandwidth-bound.
PING_SIZES = (8, 1024 * 1024, 4 * 1024 * 1024, 16 * 1024 * 1024)


def bounce(x):
    """Runs on a worker: hand the array on; the next hop's task fetches it from here."""
    return x


def _chain(client, x, hops: int, a: str, b: str) -> float:
    start = time.perf_counter()
    y = x
    for h in range(hops):
        y = submit_on(client, bounce, y, worker=b if h % 2 == 0 else a, strict=True)
    wait_pinned(client, [y], [a, b])
    return time.perf_counter() - start


def ping_pong(client, sizes=PING_SIZES, hops: int = 8, repeats: int = 3) -> Calibration:
    """Time chains of 1 and ``hops`` hops at each size: the difference gives seconds per
    hop (fitted as ``t = α + s·β``, least squares on medians of ``repeats``), the rest is
    the client's fixed overhead per call. About a second on 2 idle cores. Raises
    ``TypeError`` / ``ValueError`` for bad arguments, ``ValueError`` with fewer than 2
    workers."""
    hops = checks.count("hops", hops, minimum=2)
    repeats = checks.count("repeats", repeats, minimum=1)
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError("sizes must hold at least two positive byte counts")
    a, b = two_workers(client)
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
    byte of each round's busiest node."""
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
    model describes) on arrays already on the workers."""
    algorithms = [check_algorithm(a) for a in algorithms]
    workers = worker_addresses(client)
    p = n_nodes or len(workers)
    if p > len(workers):
        raise ValueError(f"n_nodes={p} but the cluster has only {len(workers)} workers")
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


