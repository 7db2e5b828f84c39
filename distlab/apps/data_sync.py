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

from distlab.engines.allreduce import allreduce, make_plan
from distlab.concepts.cost import DEFAULT_NETWORK, Network, bytes_per_node, plan_time


def local_writes(n_nodes: int, n_writes: int, size: int = 4, seed: int = 0) -> np.ndarray:
    """Seeded updates: ``writes[k, i]`` is what node i adds to its replica at write k."""
    for name, value in (("n_nodes", n_nodes), ("n_writes", n_writes), ("size", size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
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
    """
    writes = np.asarray(writes, dtype=float)
    if writes.ndim != 3:
        raise ValueError(f"writes must be an array of shape (writes, nodes, size), got "
                         f"shape {writes.shape}")
    if isinstance(sync_every, bool) or not isinstance(sync_every, int) or sync_every < 1:
        raise ValueError(f"sync_every must be a positive int, got {sync_every!r}")
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
    workers = sorted(client.nthreads())          # not scheduler_info(): see api
    if n_nodes > len(workers):
        raise ValueError(f"{n_nodes} nodes but only {len(workers)} workers")
    homes = workers[:n_nodes]
    start = time.perf_counter()
    replicas = [client.submit(np.zeros, size, workers=[w], pure=False) for w in homes]
    for k in range(n_writes):
        replicas = [client.submit(np.add, r, writes[k, i], workers=[homes[i]], pure=False)
                    for i, r in enumerate(replicas)]
        if (k + 1) % sync_every == 0 or k == n_writes - 1:
            replicas = allreduce(replicas, algorithm, client, workers=homes).futures
    wait(replicas)
    elapsed = time.perf_counter() - start
    return elapsed, np.stack(client.gather(replicas))
