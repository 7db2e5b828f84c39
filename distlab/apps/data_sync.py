"""The document's data-sync algorithm (3.2.1) with the averaging formula as its sync step,
and what strong consistency costs against batching.

The four steps: **initialise** (each node holds a replica of the state), **write** (a
node applies a write to its own replica), **sync** (the replicas are averaged with an
all-reduce, X_i' = (1/N) Σ X_j, chapter 4's formula), **read** (a node reads its replica).
Syncing after every write keeps every read consistent, at one all-reduce per write;
syncing every k writes sends k times fewer all-reduces, and the final state is the same
(averaging is linear), but between syncs the replicas disagree: a read depends on which
node answers. ``replay`` measures both sides on the simulator, or runs the same writes on
the cluster.

This is the averaging kind of sync that data-parallel training needs (every node's
update counts). A key-value store syncs by copying the latest write instead; chapter 2's
replicated store shows that kind.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from distlab.checks import count
from distlab.concepts.cost import DEFAULT_NETWORK, Network, bytes_per_node, plan_time
from distlab.concepts.plans import check_node_count
from distlab.engines.allreduce import allreduce, make_plan
from distlab.engines.workers import check_client, submit_on, worker_addresses

#: The most numbers ``local_writes`` makes (writes × nodes × size): 2²⁴ float64 are
#: 128 MiB, far more than a replay needs; a larger request is refused, not allocated.
MAX_WRITE_VALUES = 2**24


def local_writes(n_nodes: int, n_writes: int, size: int = 4, seed: int = 0) -> np.ndarray:
    """Seeded updates: ``writes[k, i]`` is what node i adds to its replica at write k.

    A float64 array of shape (n_writes, n_nodes, size). Each count is an int ≥ 1
    (``n_nodes`` at most :data:`~distlab.concepts.plans.MAX_NODES`), ``seed`` an int ≥ 0,
    and all of them together at most :data:`MAX_WRITE_VALUES` numbers; ``TypeError`` /
    ``ValueError`` otherwise."""
    n_nodes = check_node_count(n_nodes, "n_nodes")
    n_writes = count("n_writes", n_writes, minimum=1)
    size = count("size", size, minimum=1)
    seed = count("seed", seed)
    if n_writes * n_nodes * size > MAX_WRITE_VALUES:
        raise ValueError(f"n_writes × n_nodes × size must be ≤ {MAX_WRITE_VALUES:,} (the "
                         f"limit of this function), got {n_writes * n_nodes * size:,}")
    return np.random.default_rng(seed).normal(size=(n_writes, n_nodes, size)).round(3)


def replay(writes, sync_every: int, algorithm: str = "ring", client=None,
           network: Network = DEFAULT_NETWORK) -> dict:
    """Apply ``writes`` (writes × nodes × size) starting from zeros, syncing every
    ``sync_every`` writes (and after the last). Returns ``history`` (one row per write:
    whether it synced, the read disagreement (how far one node's read can be from the
    mean of all replicas once the write, and its sync if any, is done),
    all-reduces and bytes so far, α-β time so far) and the ``final`` replicas; with a
    client also the same run on the cluster (writes and syncs as tasks on the workers,
    one node per worker): its ``wall_time`` and ``final_on_cluster`` replicas.

    Raises ``TypeError`` (writes not numeric, sync_every not an int, network not a
    Network, client not a ``distributed.Client``) or ``ValueError`` (writes not of shape
    (writes, nodes, size) or not finite, sync_every < 1, an unknown algorithm, a closed
    client, more nodes than workers).
    """
    try:
        writes = np.asarray(writes, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"writes must be a numeric array, got {type(writes).__name__}") from exc
    if writes.ndim != 3 or 0 in writes.shape:
        raise ValueError(f"writes must be an array of shape (writes, nodes, size), got "
                         f"shape {writes.shape}")
    if not np.all(np.isfinite(writes)):
        raise ValueError("writes must be finite, but contains NaN or infinity")
    sync_every = count("sync_every", sync_every, minimum=1)
    if client is not None:
        check_client(client)
    n_writes, n_nodes, size = writes.shape
    plan = make_plan(algorithm, n_nodes)
    per_sync_bytes = int(bytes_per_node(plan, size)[0].sum())
    per_sync_time = plan_time(plan, size, network=network)

    state = np.zeros((n_nodes, size))
    rows, syncs = [], 0
    for k in range(n_writes):
        state = state + writes[k]                                      # write
        sync = (k + 1) % sync_every == 0 or k == n_writes - 1
        if sync:                                                       # sync
            state = np.stack(allreduce(list(state), algorithm).values)
            syncs += 1
        stale = float(np.abs(state - state.mean(axis=0)).max())        # read
        rows.append({"write": k + 1, "synced": sync, "read disagreement": stale,
                     "all-reduces": syncs, "bytes": syncs * per_sync_bytes,
                     "α-β time (s)": syncs * per_sync_time})
    out = {"history": pd.DataFrame(rows), "final": state, "wall_time": None,
           "final_on_cluster": None}
    if client is not None:
        out["wall_time"], out["final_on_cluster"] = _on_cluster(client, writes, sync_every,
                                                                algorithm)
    return out


def _on_cluster(client, writes, sync_every, algorithm) -> tuple[float, np.ndarray]:
    from distributed import wait

    n_writes, n_nodes, size = writes.shape
    workers = worker_addresses(client)
    if n_nodes > len(workers):
        raise ValueError(f"{n_nodes} nodes but only {len(workers)} workers")
    homes = workers[:n_nodes]
    start = time.perf_counter()
    replicas = [submit_on(client, np.zeros, size, worker=w, strict=True) for w in homes]
    for k in range(n_writes):
        replicas = [submit_on(client, np.add, r, writes[k, i], worker=homes[i], strict=True)
                    for i, r in enumerate(replicas)]
        if (k + 1) % sync_every == 0 or k == n_writes - 1:
            replicas = allreduce(replicas, algorithm, client, workers=homes).futures
    wait(replicas)
    elapsed = time.perf_counter() - start
    return elapsed, np.stack(client.gather(replicas))
