"""distlab's all-reduce timed on the live cluster, with the arrays already in place.

A gradient is born on the worker that computed it, so the timings here first put a
seeded-size float64 array on each node's worker (:func:`place_arrays`), run one warm-up
all-reduce (connections, caches, plans), then take the median wall time of repeated runs
(:func:`median_allreduce_seconds`). Chapter 07 uses them for the Dask side of its
comparison with PyTorch (:mod:`distlab.apps.torch_compare`); chapter 08 for the star
against the ring as the number of nodes grows (:func:`live_star_vs_ring`), where the
cost of one message between worker processes plays the part of α in the α-β model.

Timings are of this machine at this moment: shown, never asserted.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from distlab.checks import count
from distlab.concepts.cost import bytes_per_node
from distlab.engines.allreduce import allreduce, make_plan
from distlab.engines.calibrate import make_array
from distlab.engines.workers import submit_on, worker_addresses

__all__ = ["place_arrays", "median_allreduce_seconds", "live_star_vs_ring"]


def place_arrays(client, homes: list[str], n_bytes: int) -> list:
    """One future per node: a float64 array of about ``n_bytes`` computed on (and kept
    on) the node's worker ``homes[i]``, waited for."""
    from distributed import wait

    placed = [submit_on(client, make_array, int(n_bytes), worker=w, strict=True)
              for w in homes]
    wait(placed)
    return placed


def median_allreduce_seconds(client, placed: list, homes: list[str], algorithm: str,
                             repeats: int) -> float:
    """Median wall seconds of ``repeats`` all-reduces of the ``placed`` arrays with
    ``algorithm``, node i on ``homes[i]`` (no warm-up: the caller runs one first)."""
    times = [allreduce(placed, algorithm, client, workers=homes).wall_time
             for _ in range(count("repeats", repeats, minimum=1))]
    return float(np.median(times))


def live_star_vs_ring(client, nodes=(2, 4, 8), n_bytes: int = 1 << 20,
                      algorithms=("star", "ring"), repeats: int = 1) -> pd.DataFrame:
    """Star against ring on the cluster: ``nodes`` logical nodes (round-robin on the
    workers, arrays of ``n_bytes`` already in place), the median wall time of
    ``repeats`` runs of distlab's all-reduce per algorithm (after one warm-up star),
    beside the rounds and the busiest node's bytes from the plan. One row per node
    count and algorithm; "measured (ms)" is a timing."""
    node_counts = [count("nodes", p, minimum=1) for p in nodes]
    workers = worker_addresses(client)
    rows = []
    for p in node_counts:
        homes = [workers[i % len(workers)] for i in range(p)]
        placed = place_arrays(client, homes, n_bytes)
        allreduce(placed, "star", client, workers=homes)                   # warm-up
        for algorithm in algorithms:
            seconds = median_allreduce_seconds(client, placed, homes, algorithm, repeats)
            plan = make_plan(algorithm, p)
            sent, _ = bytes_per_node(plan, max(1, n_bytes // 8))
            rows.append({"nodes": p, "algorithm": algorithm, "rounds": plan.n_rounds,
                         "busiest node sends (MiB)": round(float(sent.max()) / 2**20, 2),
                         "measured (ms)": seconds * 1e3})
        del placed
    return pd.DataFrame(rows)
