"""Local SGD (model averaging): H steps alone, then one all-reduce of the parameters.

Every node takes ``local_steps`` (H) SGD steps on its own shard, then the *parameters*
are averaged with the all-reduce: H times fewer communication rounds than synchronous SGD
for the same number of steps (Stich, "Local SGD Converges Fast and Communicates Little",
ICLR 2019; McMahan et al., "Communication-Efficient Learning of Deep Networks from
Decentralized Data" (FedAvg), AISTATS 2017). With H = 1 and plain SGD it is exactly the
synchronous strategy: mean(θ − η g_i) = θ − η mean(g_i).
"""
from __future__ import annotations

from distlab.apps.training.model import _local_sgd
from distlab.apps.training.nodes import ClusterStrategy, RoundResult


class LocalSGD(ClusterStrategy):
    """``local``: H local steps per node, then the parameters averaged. Built by ``train()``
    from a :class:`TrainingConfig` (``TypeError`` for anything else)."""

    @property
    def steps_per_round(self) -> int:
        return self.config.local_steps

    def round(self, nodes, futures, k):
        c, H = self.config, self.config.local_steps
        trained = [nodes.submit(i, _local_sgd, futures[i], nodes.shards[i], i, (k - 1) * H, H,
                                c.batch, c.lr, c.seed)
                   for i in range(len(nodes))]
        averaged = nodes.average(trained, c.algorithm)
        return RoundResult(list(averaged.futures), bytes_sent=int(averaged.bytes_sent.sum()))
