"""Gossip SGD (D-PSGD): no all-reduce and no server, each node averages with its neighbours.

Each round every node averages its model with its two ring neighbours (mixing matrix
W = (I + A)/3, from :mod:`distlab.concepts.gossip`) and then takes H local steps (Lian et
al., "Can Decentralized Algorithms Outperform Centralized Algorithms? A Case Study for
Decentralized Parallel Stochastic Gradient Descent", NeurIPS 2017). The nodes never agree
exactly; the history's ``consensus`` measures how far apart they are.
"""
from __future__ import annotations

import numpy as np

from distlab.apps.training.model import init_params, _local_sgd
from distlab.apps.training.nodes import PARAMS_BYTES, ClusterStrategy, RoundResult
from distlab.concepts.gossip import ring_matrix


def _gossip_sgd(neighbours, weights, shard, node: int, first_step: int, steps: int,
               batch: int, lr: float, seed: int) -> np.ndarray:
    """One gossip round on a node: average with the neighbours (Σ_j W_ij θ_j, self
    included), then ``steps`` local SGD steps."""
    mixed = sum(w * p for w, p in zip(weights, neighbours))
    return _local_sgd(mixed, shard, node, first_step, steps, batch, lr, seed)


def _stack(*arrays) -> np.ndarray:
    """The nodes' models as one array, shape (nodes, 65, 10): gossip's checkpoint."""
    return np.stack(arrays)


class GossipSGD(ClusterStrategy):
    """``gossip``: its state is one model per node. Built by ``train()``
    from a :class:`TrainingConfig` (``TypeError`` for anything else)."""

    @property
    def steps_per_round(self) -> int:
        return self.config.local_steps

    def initial(self):
        return np.stack([init_params()] * self.config.nodes)

    def place(self, nodes, state):
        return [nodes.submit(i, np.array, state[i]) for i in range(len(nodes))]

    def round(self, nodes, futures, k):
        c, H, n = self.config, self.config.local_steps, len(nodes)
        W = ring_matrix(n)
        out = []
        for i in range(n):
            peers = [j for j in range(n) if W[i, j] > 0]
            out.append(nodes.submit(i, _gossip_sgd, [futures[j] for j in peers],
                                    [float(W[i, j]) for j in peers], nodes.shards[i], i,
                                    (k - 1) * H, H, c.batch, c.lr, c.seed))
        sends = int(np.count_nonzero(W) - n)            # messages per round, self excluded
        return RoundResult(out, bytes_sent=sends * PARAMS_BYTES)

    def snapshot(self, nodes, futures):
        return nodes.submit(0, _stack, *futures)

    def model(self, state):
        mean = state.mean(axis=0)
        spread = float(np.mean([np.linalg.norm(s - mean) for s in state]))
        return mean, spread
