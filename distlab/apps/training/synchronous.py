"""Synchronous data parallelism: the naive distributed strategy, one all-reduce per step.

Every node computes the gradient of its own mini-batch, the gradients are averaged with
distlab's all-reduce, and every node applies the same averaged gradient, so the nodes'
copies of the model never differ. Averaging the gradients of equal-sized batches is the
gradient of their union, so this is mathematically the single process's run (Goyal et
al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", 2017; PyTorch's
DistributedDataParallel does the same with its buckets: Li et al., VLDB 2020).
"""
from __future__ import annotations

from distlab.apps.training.config import TrainingConfig
from distlab.apps.training.model import apply_gradient, node_gradient
from distlab.apps.training.nodes import ClusterStrategy, Placement, RoundResult


def synchronous_step(nodes: Placement, params: list, step: int,
                     config: TrainingConfig) -> RoundResult:
    """One synchronous data-parallel SGD step on the cluster. ``params[i]`` is node i's
    copy of the model (a future on its worker; all copies are equal), and
    ``nodes.submit(i, f, ...)`` runs ``f`` as a task on node i's worker. Returns the
    updated copies and the bytes the all-reduce sent. Its arguments come from
    ``train()``, which checks them; the tasks raise as
    :func:`~distlab.apps.training.model.node_gradient` does."""
    # 1. every node: the gradient of its own mini-batch, on its own shard
    gradients = [nodes.submit(i, node_gradient, params[i], nodes.shards[i], i, step,
                              config.batch, config.seed)
                 for i in range(len(nodes))]
    # 2. all nodes together: the mean gradient, by distlab's all-reduce
    averaged = nodes.average(gradients, config.algorithm)
    # 3. every node: the same step with the same mean gradient, so the copies stay equal
    updated = [nodes.submit(i, apply_gradient, params[i], averaged.futures[i], config.lr)
               for i in range(len(nodes))]
    return RoundResult(updated, bytes_sent=int(averaged.bytes_sent.sum()))


class SynchronousSGD(ClusterStrategy):
    """``sync``: one step, and one all-reduce of the gradients, per round. Built by ``train()``
    from a :class:`TrainingConfig` (``TypeError`` for anything else)."""

    def round(self, nodes, futures, k):
        return synchronous_step(nodes, futures, k - 1, self.config)
