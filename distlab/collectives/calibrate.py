"""α and β of the live cluster by ping-pong, and the α-β model's predictions against
measured all-reduce times.

Ping-pong: an array is made on worker A; a chain of tasks alternately pinned to B and A
passes it back and forth, so every hop is one task that fetches the array from the other
process. The time per hop, fitted against the size s as ``t = α + s·β``, gives the
cluster's latency per message (which on Dask is mostly scheduling one dependent task:
"about 1 ms of overhead per task", distributed docs; [local] 2–10 ms on a busy 2-core box)
and its time per byte (loopback TCP and pickling, [local] 0.3–0.7 GB/s; see
reference/performance-models.md §2).

The Dask engine then runs each algorithm on arrays already placed on the workers, and the
wall time is set against two predictions from the same plan: the plain α-β model, and a
"tasks" model that pays α per dependent task on the critical path of the engine's graph
(a chunked message costs two: one to cut the chunk on the sender, one to apply it on the
receiver) plus the client's fixed overhead per call.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .api import EXACT_ALGORITHMS, allreduce, check_algorithm, make_plan
from .cost import Network, round_bytes

#: Sizes in bytes for the ping-pong: latency-bound to bandwidth-bound.
PING_SIZES = (8, 1024 * 1024, 4 * 1024 * 1024, 16 * 1024 * 1024)


def make_array(n_bytes: int) -> np.ndarray:
    """Runs on a worker: a float64 array of about ``n_bytes`` (at least one element)."""
    return np.ones(max(1, n_bytes // 8))


def bounce(x):
    """Runs on a worker: hand the array on; the next hop's task fetches it from here."""
    return x


@dataclass(frozen=True)
class Calibration:
    """Fitted α (s per message) and β (s per byte), the client's fixed cost of submitting
    work and hearing it finished (``overhead``, s), and the samples they came from."""
    alpha: float
    beta: float
    overhead: float
    samples: pd.DataFrame           # columns: bytes, seconds_per_hop

    @property
    def network(self) -> Network:
        return Network(alpha=self.alpha, bandwidth=1.0 / self.beta)

    def __str__(self) -> str:
        return (f"α ≈ {self.alpha * 1e3:.2f} ms per message, "
                f"1/β ≈ {1e-6 / self.beta:.0f} MB/s, "
                f"client overhead ≈ {self.overhead * 1e3:.1f} ms per call")


def _two_workers(client) -> tuple[str, str]:
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    if len(workers) < 2:
        raise ValueError(f"a ping-pong needs at least 2 workers, the cluster has "
                         f"{len(workers)}")
    return workers[0], workers[1]


def _chain(client, x, hops: int, a: str, b: str) -> float:
    from distributed import wait

    start = time.perf_counter()
    y = x
    for h in range(hops):
        y = client.submit(bounce, y, workers=[b if h % 2 == 0 else a],
                          allow_other_workers=False, pure=False)
    wait([y])
    return time.perf_counter() - start


def ping_pong(client, sizes=PING_SIZES, hops: int = 8, repeats: int = 3) -> Calibration:
    """Time chains of 1 and ``hops`` hops at each size: the difference gives seconds per
    hop (fitted as ``t = α + s·β``, least squares on medians of ``repeats``), the rest is
    the client's fixed overhead per call. About a second on 2 idle cores."""
    from distributed import wait

    if isinstance(hops, bool) or not isinstance(hops, int) or hops < 2:
        raise ValueError(f"hops must be an int of at least 2, got {hops!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive int, got {repeats!r}")
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError("sizes must hold at least two positive byte counts")
    a, b = _two_workers(client)
    rows, overheads = [], []
    for size in sizes:
        x = client.submit(make_array, size, workers=[a], allow_other_workers=False,
                          pure=False)
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
    """Two predictions for the Dask engine: the plain α-β model of the plan, and the
    "tasks" model: the client's overhead, α per dependent task on the critical path of
    the engine's graph, and β per byte of each round's busiest node."""
    from .cost import plan_time
    from .dask_engine import critical_path

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
            n_nodes: int | None = None) -> pd.DataFrame:
    """Predicted against measured: one row per algorithm and message size (bytes per
    node), on ``n_nodes`` nodes (default: one per worker). Measured is the median wall
    time of ``repeats`` runs of the Dask engine on arrays already on the workers."""
    from distributed import wait

    algorithms = [check_algorithm(a) for a in algorithms]
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    p = n_nodes or len(workers)
    if p > len(workers):
        raise ValueError(f"n_nodes={p} but the cluster has only {len(workers)} workers")
    rows = []
    for size in sizes:
        n = max(1, int(size) // 8)
        placed = [client.submit(make_array, n * 8, workers=[w], allow_other_workers=False,
                                pure=False) for w in workers[:p]]
        wait(placed)
        for algorithm in algorithms:
            times = [allreduce(placed, algorithm, client, workers=workers[:p]).wall_time
                     for _ in range(repeats)]
            plan = make_plan(algorithm, p)
            row = {"algorithm": algorithm, "nodes": p, "bytes": n * 8,
                   "rounds": plan.n_rounds, **predict(plan, n, calibration),
                   "measured_s": float(np.median(times))}
            row["measured/predicted (tasks)"] = row["measured_s"] / row["predicted_tasks_s"]
            rows.append(row)
        del placed
    return pd.DataFrame(rows)
