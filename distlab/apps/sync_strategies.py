"""Strong against eventual sync on the averaging formula itself (chapter 09, 9.2).

Strong: one exact all-reduce, after which every node holds the mean at once
(recursive doubling: lg N rounds). Eventual: gossip with neighbours, the nodes drifting
towards the mean round by round and disagreeing until they meet a tolerance (Xiao &
Boyd, "Fast linear iterations for distributed averaging", Systems & Control Letters
53(1), 2004; the plans are :mod:`distlab.concepts.gossip`). Both run on the
simulator, so every number is exact. (The store's kind of sync, copying the newest
write, is :mod:`distlab.apps.stores`; batching syncs is :mod:`distlab.apps.data_sync`.)
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from distlab.checks import count, fraction
from distlab.concepts.plans import check_node_count
from distlab.engines.allreduce import allreduce

__all__ = ["averaging_sync"]


def averaging_sync(n_nodes: int = 8, tolerance: float = 1e-6, seed: int = 0) -> pd.DataFrame:
    """``n_nodes`` nodes with seeded values (integers 0–99) reach their mean by an exact
    all-reduce, by gossip on a complete graph and by gossip between ring neighbours (to
    ``tolerance``). One row per strategy: the rounds, the most one node sends (values),
    and the final disagreement ("0" when exact). ``n_nodes`` an int in [1,
    :data:`~distlab.concepts.plans.MAX_NODES`], ``tolerance`` in (0, 1), ``seed`` an int
    ≥ 0; ``TypeError``/``ValueError`` naming the argument otherwise."""
    n_nodes = check_node_count(n_nodes, "n_nodes")
    seed = count("seed", seed)
    fraction("tolerance", tolerance, open_low=True, open_high=True)
    values = list(np.random.default_rng(seed).integers(0, 100, n_nodes).astype(float))
    rows = []
    for algorithm, kind in (("recursive_doubling", "exact all-reduce (BSP; the document's \"strong\")"),
                            ("gossip_complete", "gossip, complete graph (the document's \"eventual\")"),
                            ("gossip_ring", "gossip, ring neighbours (the document's \"eventual\")")):
        result = allreduce(values, algorithm, tolerance=tolerance)
        rows.append({"sync": kind, "algorithm": algorithm, "rounds": result.rounds,
                     "busiest node sends (values)": int(result.bytes_sent.max()) // 8,
                     "final disagreement": f"{result.error:.0e}" if result.error else "0"})
    return pd.DataFrame(rows).set_index("sync")
