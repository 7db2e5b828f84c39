"""The driver: run a strategy round by round, checkpoint, restart after a lost worker.

Fault tolerance is checkpoint and restart: every ``checkpoint_every`` rounds the client
keeps a copy of the model (it is tiny); when a worker dies, training restarts from the last
checkpoint on the workers still alive. Every mini-batch is a pure function of
``(seed, node, step)``, so the restarted run retraces the same steps and ends with the
very same model. ``train(..., kill_at=r)`` kills a worker (chosen by the seed) after
round ``r`` to show it.

    client = distlab.connect()
    history = train("local", client)             # H = 16 local steps per round
    history.tail(1)[["round", "bytes", "accuracy"]]
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from distlab import checks
from distlab.apps.training.config import DEFAULT_ROUNDS, TrainingConfig, _check_strategy
from distlab.apps.training.data import load_split, shard_rows
from distlab.apps.training.gossip import GossipSGD
from distlab.apps.training.local import LocalSGD
from distlab.apps.training.model import _accuracy, _loss
from distlab.apps.training.nodes import Placement
from distlab.apps.training.parameter_server import StaleParameterServer
from distlab.apps.training.single import SingleProcess
from distlab.apps.training.synchronous import SynchronousSGD
from distlab.engines.workers import (check_client, kill_worker, wait_for_workers,
                                     worker_addresses)

#: The most rounds one run takes (each is a few tasks and an all-reduce on the cluster).
MAX_ROUNDS = 1000
#: Each strategy's name and its class, naive first.
STRATEGY_CLASSES = {"single": SingleProcess, "sync": SynchronousSGD, "local": LocalSGD,
                    "async": StaleParameterServer, "gossip": GossipSGD}


def train(strategy: str = "sync", client=None, *, nodes: int = 4, rounds: int | None = None,
          lr: float = 2.0, batch: int = 64, local_steps: int = 16, staleness: int = 4,
          algorithm: str = "recursive_doubling", seed: int = 0, label_skew: float = 0.0,
          checkpoint_every: int = 5, kill_at: int | None = None, progress: bool = False
          ) -> pd.DataFrame:
    """Train softmax regression on the digits with ``strategy`` and return its history.

    One row per communication round (round 0 is the initial model): ``strategy``,
    ``round``, ``steps`` (SGD steps each node has taken), ``samples`` (training examples
    all nodes together have used: nodes × batch × steps), ``bytes`` (bytes sent between
    nodes so far, all nodes together), ``loss`` (training cross-entropy), ``accuracy``
    (on the held-out test set), ``consensus`` (mean distance of the nodes' models from
    their average; 0 when they agree). For ``gossip`` the loss and accuracy are those of
    the nodes' average model. ``history.attrs`` holds the final ``params``, the
    ``restarts`` after failures, the ``killed`` worker's index (or ``None``) and, for
    ``async``, the ``staleness`` of every push.

    ``nodes`` … ``label_skew``: see :class:`TrainingConfig` (recursive doubling by default:
    the model is 5 KB, so latency dominates and fewer rounds win; IID shards unless
    ``label_skew`` > 0); ``rounds`` defaults to
    :data:`DEFAULT_ROUNDS`; ``checkpoint_every`` rounds the client keeps a copy of the
    model; ``kill_at`` kills a worker (chosen by ``seed``) after that round;
    ``progress`` draws a bar of the rounds done (in a notebook).

    Raises ``TypeError``/``ValueError`` for bad arguments (a distributed strategy needs a
    ``distributed.Client``, and a client given must be an open one; ``batch`` must fit in
    a node's shard; ``rounds`` at most :data:`MAX_ROUNDS`).
    """
    _check_strategy(strategy)
    if client is not None:
        check_client(client)
    checks.flag("progress", progress)
    config = TrainingConfig(nodes=nodes, lr=lr, batch=batch, local_steps=local_steps,
                            staleness=staleness, algorithm=algorithm, seed=seed,
                            label_skew=label_skew)
    rounds = (DEFAULT_ROUNDS[strategy] if rounds is None
              else checks.count("rounds", rounds, minimum=1, maximum=MAX_ROUNDS))
    checkpoint_every = checks.count("checkpoint_every", checkpoint_every, minimum=1)
    if kill_at is not None:
        kill_at = checks.count("kill_at", kill_at, minimum=1)
        if kill_at >= rounds:
            raise ValueError(f"kill_at must be a round before the last ({rounds}), "
                             f"got {kill_at}")
    _check_shards_fit(config)
    runner = STRATEGY_CLASSES[strategy](config)
    if strategy == "single":
        if kill_at is not None:
            raise ValueError("kill_at needs a cluster: the single strategy has no workers")
        return _history(strategy, runner, runner.run(rounds), [0] * rounds, {}, 0, None)
    check_client(client)
    bar = None
    if progress:
        from distlab.engines.progress import StepsBar
        bar = StepsBar(strategy, rounds)
    return _history(strategy, runner, *_drive(client, runner, rounds, checkpoint_every,
                                              kill_at, bar))


def _check_shards_fit(config: TrainingConfig) -> None:
    train_rows = len(load_split(config.seed)[1])
    smallest = train_rows // config.nodes
    if config.label_skew and smallest:      # non-IID shards differ by up to 2 rows
        smallest = min(len(shard_rows(i, config.nodes, config.seed, config.label_skew))
                       for i in range(config.nodes))
    if smallest == 0:
        raise ValueError(f"nodes={config.nodes} leaves empty shards: the training set has "
                         f"only {train_rows} rows")
    if config.batch > smallest:
        raise ValueError(f"batch ({config.batch}) must not exceed a node's shard "
                         f"({smallest} rows with nodes={config.nodes})")


def _drive(client, runner, rounds, checkpoint_every, kill_at, bar=None):
    """Run ``rounds`` rounds in segments of ``checkpoint_every``; at each segment's end
    gather the snapshots (the history and the checkpoint). A killed worker abandons the
    segment, and training restarts from the last checkpoint on the live workers."""
    from distributed import wait

    n_workers = len(worker_addresses(client))
    states = [runner.initial()]
    per_round: list[int] = []
    staleness: dict[int, tuple] = {}
    done, restarts, killed = 0, 0, None
    while done < rounds:
        nodes = Placement.on(client, worker_addresses(client), runner.config)
        futures = runner.place(nodes, states[-1])
        end = min(done + checkpoint_every, rounds)
        snaps, results = [], {}
        failed = False
        for k in range(done + 1, end + 1):
            results[k] = runner.round(nodes, futures, k)
            futures = results[k].futures
            snaps.append(runner.snapshot(nodes, futures))
            if k == kill_at and killed is None:
                wait(futures)                    # the round is done; now a worker dies
                workers = worker_addresses(client)
                killed = int(np.random.default_rng([runner.config.seed, 4])
                              .integers(len(workers)))
                kill_worker(client, workers[killed], wait_for_replacement=False)
                failed = True
                break
        if failed:
            restarts += 1
            del futures, snaps, results
            continue                             # back to the last checkpoint
        states.extend(np.asarray(s) for s in client.gather(snaps))
        per_round.extend(results[k].bytes_sent for k in sorted(results))
        staleness.update((k, r.staleness) for k, r in results.items()
                         if r.staleness is not None)
        done = end
        if bar is not None:
            bar.update(done)
    if killed is not None:
        try:                                     # leave the cluster as we found it ...
            wait_for_workers(client, n_workers)
        except TimeoutError:
            pass                                 # ... or carry on with what is there
    return states, per_round, staleness, restarts, killed


def _history(strategy, runner, states, per_round, staleness, restarts, killed
             ) -> pd.DataFrame:
    X, y, X_test, y_test = load_split(runner.config.seed)
    rows = []
    sent = 0
    for k, state in enumerate(states):
        model, spread = runner.model(state)
        if k:
            sent += per_round[k - 1]
        rows.append((strategy, k, k * runner.steps_per_round, k * runner.samples_per_round,
                     sent, _loss(model, X, y), _accuracy(model, X_test, y_test), spread))
    history = pd.DataFrame(rows, columns=["strategy", "round", "steps", "samples", "bytes",
                                          "loss", "accuracy", "consensus"])
    history.attrs.update(params=runner.model(states[-1])[0], restarts=restarts,
                         killed=killed)
    if staleness:
        history.attrs["staleness"] = [d for k in sorted(staleness) for d in staleness[k]]
    return history
