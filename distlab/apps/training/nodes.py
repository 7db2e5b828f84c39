"""The data-parallel nodes on the cluster: where each lives, its shard, one round's result.

Node i lives on worker i mod W and loads its own shard there (:func:`load_shard` runs as a
task), so no training data goes through the client or the scheduler. A strategy that runs
on the cluster (:class:`ClusterStrategy`) keeps its state as futures on the nodes' workers;
each round returns a :class:`RoundResult`: the new futures and what the round sent.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from distlab.apps.training.config import Strategy, TrainingConfig
from distlab.apps.training.data import N_CLASSES, N_FEATURES, load_shard
from distlab.checks import count, fraction
from distlab.concepts.plans import MAX_NODES
from distlab.engines.workers import check_client, submit_on, worker_addresses

#: Bytes of one model: 65 × 10 float64.
PARAMS_BYTES = N_FEATURES * N_CLASSES * 8


@dataclass(frozen=True)
class Placement:
    """The nodes on the cluster: ``homes[i]`` is node i's worker, ``shards[i]`` the future
    of its ``(X, y)`` shard, loaded there. ``TypeError``/``ValueError`` for a client that
    is not an open ``distributed.Client``, homes that are not worker addresses, or as many
    shards."""
    client: object
    homes: tuple[str, ...]
    shards: tuple

    def __post_init__(self):
        check_client(self.client)
        if not isinstance(self.homes, tuple) or not all(isinstance(h, str) for h in self.homes):
            raise TypeError(f"homes must be a tuple of worker addresses, got {self.homes!r}")
        if not isinstance(self.shards, tuple) or len(self.shards) != len(self.homes):
            raise TypeError(f"shards must be a tuple of {len(self.homes)} futures, one per "
                            f"home; got {type(self.shards).__name__}")

    @classmethod
    def on(cls, client, workers: list[str], config: TrainingConfig) -> "Placement":
        """``config.nodes`` nodes round-robin on ``workers``, each loading its shard."""
        homes = tuple(workers[i % len(workers)] for i in range(config.nodes))
        # Pure keys: the same shard is loaded once and shared by every run that needs it.
        shards = tuple(client.submit(load_shard, i, config.nodes, config.seed,
                                     config.label_skew, workers=[home],
                                     allow_other_workers=True, pure=True)
                       for i, home in enumerate(homes))
        return cls(client, homes, shards)

    def __len__(self) -> int:
        return len(self.homes)

    def submit(self, node: int, func, *args):
        """``func(*args)`` as a task on node ``node``'s worker (a loose pin: if that worker
        has died the task runs elsewhere rather than wait forever)."""
        return submit_on(self.client, func, *args, worker=self.homes[node])

    def average(self, futures: list, algorithm: str):
        """The one place training calls distlab's all-reduce: node i's array (a future on
        ``homes[i]``) becomes the mean over nodes, computed by the workers themselves.
        Returns the all-reduce's result: ``.futures`` (one per node) and ``.bytes_sent``
        (per node)."""
        from distlab.engines.allreduce import allreduce
        return allreduce(futures, algorithm=algorithm, client=self.client, workers=self.homes)


@dataclass(frozen=True)
class RoundResult:
    """One communication round: the new state on the nodes (futures), the bytes the nodes
    sent each other, and for the asynchronous server the staleness of each push (model
    versions; ``None`` for the other strategies)."""
    futures: list
    bytes_sent: int
    staleness: tuple[int, ...] | None = None


class ClusterStrategy(Strategy):
    """A strategy whose nodes run on the workers. ``place`` puts a checkpointed state on
    the nodes; ``round`` submits round ``k`` (1, 2, …); ``snapshot`` is the one future
    whose value the history records after a round. Built by ``train()``
    from a :class:`TrainingConfig` (``TypeError`` for anything else)."""

    def place(self, nodes: Placement, state) -> list:
        return [nodes.submit(i, np.array, state) for i in range(len(nodes))]

    def round(self, nodes: Placement, futures: list, k: int) -> RoundResult:
        raise NotImplementedError

    def snapshot(self, nodes: Placement, futures: list):
        return futures[0]


def describe_shards(client, nodes: int = 4, seed: int = 0, label_skew: float = 0.0
                    ) -> pd.DataFrame:
    """Load every node's shard on its worker (node i on worker i mod W) and report, per
    node, its ``rows`` and how many examples of each digit (columns "0" … "9") it holds
    (``label_skew`` > 0: non-IID shards, see :func:`~distlab.apps.training.data.shard_rows`).
    Only counts travel back. Raises ``TypeError`` for a client that is not a
    ``distributed.Client`` and ``ValueError`` for a closed one, ``nodes`` outside [1,
    :data:`~distlab.concepts.plans.MAX_NODES`], a negative seed or a skew outside [0, 1]."""
    from distlab.engines.progress import progress

    check_client(client)
    nodes = count("nodes", nodes, minimum=1, maximum=MAX_NODES)
    count("seed", seed)
    fraction("label_skew", label_skew)
    workers = worker_addresses(client)
    futures = [submit_on(client, _shard_counts, i, nodes, seed, label_skew,
                         worker=workers[i % len(workers)]) for i in range(nodes)]
    progress(futures, label="load_shard")
    counts = client.gather(futures)
    frame = pd.DataFrame(counts, columns=[str(d) for d in range(N_CLASSES)])
    frame.insert(0, "rows", frame.sum(axis=1))
    frame.index.name = "node"
    return frame


def _shard_counts(node, nodes, seed, label_skew):
    _, y = load_shard(node, nodes, seed, label_skew)
    return np.bincount(y, minlength=N_CLASSES).tolist()
