"""What a training run is: the strategies by name, their settings, what each one answers.

A strategy is configured by one frozen :class:`TrainingConfig` (checked once, here) and
answers three questions the driver asks: what the model starts as (:meth:`Strategy.initial`),
how many SGD steps a node takes per communication round, and which model and consensus
distance a gathered state stands for (:meth:`Strategy.model`). numpy only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distlab import checks
from distlab.apps.training.model import init_params

#: The strategies, naive first.
STRATEGIES = ("single", "sync", "local", "async", "gossip")
#: Rounds each strategy runs by default: about as far as it needs to converge.
DEFAULT_ROUNDS = {"single": 40, "sync": 40, "local": 6, "async": 30, "gossip": 6}
#: The most SGD steps a node takes alone in one round (``local_steps``): each is a task's
#: worth of work, so more would run for minutes.
MAX_LOCAL_STEPS = 10_000


def _check_strategy(strategy) -> str:
    """``strategy`` if it is one of :data:`STRATEGIES`; ``TypeError`` for a non-string,
    ``ValueError`` naming the known ones otherwise."""
    if isinstance(strategy, str) and strategy in STRATEGIES:
        return strategy
    known = ", ".join(STRATEGIES)
    if isinstance(strategy, str):
        raise ValueError(f"unknown strategy {strategy!r}; known strategies: {known}")
    raise TypeError(f"strategy must be a string, one of {known}; "
                    f"got {type(strategy).__name__}")


@dataclass(frozen=True)
class TrainingConfig:
    """The settings every strategy reads; ``seed`` fixes the split, the shards, every
    mini-batch and the asynchronous delays; ``label_skew`` (0 … 1) makes the shards
    non-IID (:func:`~distlab.apps.training.data.shard_rows`). Raises
    ``TypeError``/``ValueError`` (from :mod:`distlab.checks`) for a bad field, a
    ``local_steps`` above :data:`MAX_LOCAL_STEPS` included (``train`` refuses more nodes
    than the training set has rows)."""
    nodes: int = 4                 # data-parallel nodes, placed round-robin on the workers
    lr: float = 2.0                # the learning rate η
    batch: int = 64                # rows in each node's mini-batch
    local_steps: int = 16          # H: SGD steps a node takes alone per round (local, gossip)
    staleness: int = 4             # the bound for async, in model versions
    algorithm: str = "recursive_doubling"   # the exact all-reduce of sync and local
    seed: int = 0
    label_skew: float = 0.0        # 0: IID shards; up to 1: each node sees only some digits

    def __post_init__(self):
        # Imported here: the all-reduce brings Dask, which a torch rank reading a shard
        # through this package must not pay for.
        from distlab.engines.allreduce import EXACT_ALGORITHMS

        for name, value in (
                ("nodes", checks.count("nodes", self.nodes, minimum=1)),
                ("lr", checks.positive("lr", self.lr)),
                ("batch", checks.count("batch", self.batch, minimum=1)),
                ("local_steps", checks.count("local_steps (H)", self.local_steps, minimum=1,
                                             maximum=MAX_LOCAL_STEPS)),
                ("staleness", checks.count("staleness", self.staleness, minimum=0)),
                ("algorithm", checks.choice("algorithm (an exact all-reduce)", self.algorithm,
                                            EXACT_ALGORITHMS)),
                ("seed", checks.count("seed", self.seed, minimum=0)),
                ("label_skew", checks.fraction("label_skew", self.label_skew))):
            object.__setattr__(self, name, value)


def linear_scaled_lr(lr: float, batch: int, base_batch: int) -> float:
    """The linear scaling rule: "when the minibatch size is multiplied by k, multiply the
    learning rate by k" (Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet
    in 1 Hour", 2017, §2.1). ``lr`` suits batches of ``base_batch`` rows; the result suits
    ``batch`` rows: lr · batch / base_batch. Synchronous SGD on 4 nodes of 64 rows takes
    steps on 256 rows, so a learning rate tuned for 64 becomes 4 times larger. ``lr`` a
    finite number > 0, the batches ints ≥ 1; ``TypeError``/``ValueError`` otherwise."""
    lr = checks.positive("lr", lr)
    batch = checks.count("batch", batch, minimum=1)
    base_batch = checks.count("base_batch", base_batch, minimum=1)
    return lr * batch / base_batch


class Strategy:
    """What every strategy shares. ``state`` is what a checkpoint holds: numpy, in the
    client (one model, or for gossip one per node). ``TypeError`` for a config that is
    not a :class:`TrainingConfig`."""
    steps_per_round = 1

    def __init__(self, config: TrainingConfig):
        if not isinstance(config, TrainingConfig):
            raise TypeError(f"config must be a TrainingConfig, got {type(config).__name__}")
        self.config = config

    @property
    def samples_per_round(self) -> int:
        """Training examples all nodes together use per round: nodes × batch × steps."""
        return self.config.nodes * self.config.batch * self.steps_per_round

    def initial(self) -> np.ndarray:
        """The state before round 1: the all-zero model."""
        return init_params()

    def model(self, state) -> tuple[np.ndarray, float]:
        """(the model the state stands for, the mean distance of the nodes' models from
        it); 0 when the nodes agree."""
        return state, 0.0
