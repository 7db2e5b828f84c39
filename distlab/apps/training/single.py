"""The reference: one process, plain mini-batch SGD, no communication at all.

Each step's batch is the union of the nodes' batches (the same rows every distributed
strategy draws), so this is the run every distributed one is compared with: synchronous
data parallelism computes exactly this (Goyal et al., "Accurate, Large Minibatch SGD:
Training ImageNet in 1 Hour", 2017, §2).
"""
from __future__ import annotations

import numpy as np

from distlab.apps.training.config import Strategy
from distlab.apps.training.data import _batch_rows, load_shard
from distlab.apps.training.model import _apply_gradient, _gradient


class SingleProcess(Strategy):
    """``single``: runs in the client, so it has no workers to lose. Built by ``train()``
    from a :class:`TrainingConfig` (``TypeError`` for anything else)."""

    def run(self, rounds: int) -> list[np.ndarray]:
        """The model before round 1 and after each of ``rounds`` steps."""
        c = self.config
        shards = [load_shard(i, c.nodes, c.seed, c.label_skew) for i in range(c.nodes)]
        params = self.initial()
        states = [params]
        for k in range(rounds):
            rows = [_batch_rows(len(y), c.batch, c.seed, i, k)
                    for i, (_, y) in enumerate(shards)]
            X = np.concatenate([s[0][r] for s, r in zip(shards, rows)])
            y = np.concatenate([s[1][r] for s, r in zip(shards, rows)])
            params = _apply_gradient(params, _gradient(params, X, y), c.lr)
            states.append(params)
        return states
