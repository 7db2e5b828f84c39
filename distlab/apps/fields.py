"""Where distributed systems are used (chapter 09, 9.4): one exact run per field.

The document lists the fields — databases, storage, computing, large-model training,
prediction serving, recommendation. :func:`fields` backs each with a run from the
package: the replicated store, the cost model and the sizing of chapter 01, serving's
tail latency, recommendation's hot shards. Every run is on the simulator, seeded data or
a closed form, so the table is exact and needs no cluster.
"""
from __future__ import annotations

import math

import pandas as pd

from distlab.apps import recsys, serving, stores
from distlab.concepts import memory, sizing
from distlab.concepts.projection import project

__all__ = ["fields"]


def fields(seed: int = 0) -> pd.DataFrame:
    """One row per field: the chapters that show it and what their run shows (text
    built from exact results: linearizability, convergence, memory and all-reduce time
    of GPT-3 175B, p99 latencies, the hottest shard's load). ``seed`` an int ≥ 0, else
    ``TypeError``/``ValueError`` naming the argument."""
    store = stores.run(stores.STRONG, seed=seed)
    eventual = stores.run(stores.StoreConfig(n=3, r=1, w=1, replication="async"), seed=seed)
    gpt3 = sizing.plan(175e9, 300e9)
    split = project(memory.shape("GPT-3 175B"), dp=16, tp=8, pp=8, zero_stage=1,
                    micro_batches=96)            # the book's assumptions (chapter 04)
    plain = serving.tail_latency(hedge_after=None, seed=seed)
    hedged = serving.tail_latency(hedge_after="p95", seed=seed)
    load = recsys.shard_load(seed=seed)
    fixed = recsys.shard_load(seed=seed, hot_items=20)
    rows = [
        ("distributed database", "02",
         f"3 replicas, quorums, a crash and a partition: linearizable = {store.linearizable}"),
        ("distributed storage", "02",
         f"asynchronous replicas converge after the faults: "
         f"{math.isfinite(eventual.metrics['convergence (ms)'])}"),
        ("distributed computing", "00 05",
         "map over workers, reduce the results: the π darts and the partitioned sum"),
        ("large-model training", "01 04 06",
         f"GPT-3 175B: {gpt3.memory_gb:,.0f} GB of training state; split 16 × 8 × 8 with "
         f"ZeRO-1, {split.memory.total / 1e9:.1f} GB per device and "
         f"{sum(split.seconds.values()):.2f} s of communication per step"),
        ("prediction serving", "06",
         f"p99 latency {plain['p99'] * 1e3:.0f} ms, with hedged requests "
         f"{hedged['p99'] * 1e3:.0f} ms"),
        ("recommendation", "06",
         f"hottest shard's load ÷ mean: {load.max() / load.mean():.2f}, with hot items "
         f"replicated {fixed.max() / fixed.mean():.2f}"),
    ]
    return pd.DataFrame(rows, columns=["field", "chapters", "what the run shows"]) \
        .set_index("field")
