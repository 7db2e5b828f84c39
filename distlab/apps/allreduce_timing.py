"""distlab's all-reduce timed on the live cluster, with the arrays already in place.

A gradient is born on the worker that computed it, so the timings here first put a
seeded-size float64 array on each node's worker, run one warm-up all-reduce (connections,
caches, plans), then take the median wall time of repeated runs. Chapter 07 uses them for the Dask side of its
comparison with PyTorch (:mod:`distlab.apps.torch_compare`); chapter 08 for the star
against the ring as the number of nodes grows (:func:`live_star_vs_ring`), where the
cost of one message between worker processes plays the part of α in the α-β model.

Timings are of this machine at this moment: shown, never asserted.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from distlab.checks import choice, count, sequence
from distlab.concepts.cost import bytes_per_node
from distlab.concepts.plans import MAX_NODES
from distlab.engines.allreduce import ALGORITHMS, allreduce, make_plan
from distlab.engines.calibrate import make_array
from distlab.engines.workers import check_client, submit_on, worker_addresses

__all__ = ["MAX_BYTES", "MAX_REPEATS", "live_star_vs_ring"]

#: The largest array a timing puts on each node (256 MiB: a worker of a 2 GB Binder pod
#: holds two), and the most runs it times: more would only wait longer for a median.
MAX_BYTES = 1 << 28
MAX_REPEATS = 100


def _place_arrays(client, homes: list[str], n_bytes: int) -> list:
    """One future per node: a float64 array of about ``n_bytes`` computed on (and kept
    on) the node's worker ``homes[i]``, waited for."""
    from distributed import wait

    placed = [submit_on(client, make_array, int(n_bytes), worker=w, strict=True)
              for w in homes]
    wait(placed)
    return placed


def _median_allreduce_seconds(client, placed: list, homes: list[str], algorithm: str,
                              repeats: int) -> float:
    """Median wall seconds of ``repeats`` all-reduces of the ``placed`` arrays with
    ``algorithm``, node i on ``homes[i]`` (no warm-up: the caller runs one first)."""
    times = [allreduce(placed, algorithm, client, workers=homes).wall_time
             for _ in range(repeats)]
    return float(np.median(times))


def live_star_vs_ring(client, nodes=(2, 4, 8), n_bytes: int = 1 << 20,
                      algorithms=("star", "ring"), repeats: int = 1) -> pd.DataFrame:
    """Star against ring on the cluster: ``nodes`` logical nodes (round-robin on the
    workers, arrays of ``n_bytes`` already in place), the median wall time of
    ``repeats`` runs of distlab's all-reduce per algorithm (after one warm-up star),
    beside the rounds and the busiest node's bytes from the plan. One row per node
    count and algorithm; "measured (ms)" is a timing.

    ``nodes`` a non-empty list of ints in [1, :data:`~distlab.concepts.plans.MAX_NODES`],
    ``n_bytes`` an int in [8, :data:`MAX_BYTES`], ``algorithms`` a non-empty list of
    :data:`~distlab.engines.allreduce.ALGORITHMS`, ``repeats`` an int in [1,
    :data:`MAX_REPEATS`]. Raises ``TypeError``/``ValueError`` naming the argument (a
    closed or missing client included), ``RuntimeError`` for a cluster without workers."""
    check_client(client)
    node_counts = [count(f"nodes[{i}]", p, minimum=1, maximum=MAX_NODES)
                   for i, p in enumerate(sequence("nodes", nodes))]
    algorithms = [choice(f"algorithms[{i}]", a, ALGORITHMS)
                  for i, a in enumerate(sequence("algorithms", algorithms))]
    for name, values in (("nodes", node_counts), ("algorithms", algorithms)):
        if not values:
            raise ValueError(f"{name} must hold at least one entry")
    n_bytes = count("n_bytes", n_bytes, minimum=8, maximum=MAX_BYTES)
    repeats = count("repeats", repeats, minimum=1, maximum=MAX_REPEATS)
    workers = worker_addresses(client)
    rows = []
    for p in node_counts:
        homes = [workers[i % len(workers)] for i in range(p)]
        placed = _place_arrays(client, homes, n_bytes)
        allreduce(placed, "star", client, workers=homes)                   # warm-up
        for algorithm in algorithms:
            seconds = _median_allreduce_seconds(client, placed, homes, algorithm, repeats)
            plan = make_plan(algorithm, p)
            sent, _ = bytes_per_node(plan, max(1, n_bytes // 8))
            rows.append({"nodes": p, "algorithm": algorithm, "rounds": plan.n_rounds,
                         "busiest node sends (MiB)": round(float(sent.max()) / 2**20, 2),
                         "measured (ms)": seconds * 1e3})
        del placed
    return pd.DataFrame(rows)
