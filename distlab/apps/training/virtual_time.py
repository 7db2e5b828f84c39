"""Training in virtual time: the strategies against a clock, so that a straggler costs what
it costs.

On the cluster, :func:`~distlab.apps.training.train` shows what each strategy computes and
sends, but its rounds take whatever a shared machine gives them, and no node is slower than
another. Here the same arithmetic (the model, the shards, every mini-batch and learning
rate of ``train()``) runs in this process against a virtual clock (:class:`Timing`): a
node's mini-batch gradient takes ``compute`` seconds, the straggler's ``slowdown`` times
longer; an all-reduce of the model takes ``allreduce``; a push of a gradient to the
parameter server, with the pull of the new model, takes ``push``. Nothing sleeps and
nothing is timed: a run is deterministic, and its waits and staleness are counts.

- ``sync`` (bulk-synchronous): every step waits for the slowest node, so a round takes
  max_i c_i + allreduce and the healthy nodes idle for the difference.
- ``local`` (local SGD): H steps alone, then the barrier: max_i H·c_i + allreduce. It saves
  all-reduces, not waiting: a node that is slow at every step is slow at every round.
- ``async`` (asynchronous parameter server; Dean et al., "Large Scale Distributed Deep
  Networks", NIPS 2012; Li et al., OSDI 2014): each node loops gradient → push → pull;
  the server applies each push as it arrives, so healthy nodes never wait, and the
  straggler's gradients arrive stale by the updates applied meanwhile (recorded).
- ``ssp`` (stale synchronous parallel; Ho et al., "More Effective Distributed ML via a
  Stale Synchronous Parallel Parameter Server", NeurIPS 2013): the same server, but a node
  may start an iteration only while it is at most ``config.staleness`` iterations ahead of
  the slowest node. Staleness is bounded, and paid for in waiting: a persistent straggler
  sets everyone's pace again. (``train("async")`` bounds versions behind instead; here
  the bound is Ho et al.'s clock.)

The push of node i is applied with learning rate ``lr / nodes``, as in ``train("async")``.
"""
from __future__ import annotations

import dataclasses
import heapq
from dataclasses import dataclass

import numpy as np
import pandas as pd

from distlab import checks
from distlab.apps.training.config import TrainingConfig
from distlab.apps.training.data import N_CLASSES, N_FEATURES, load_shard, load_split
from distlab.apps.training.model import (_accuracy, _apply_gradient, _local_sgd, _loss,
                                         _node_gradient, init_params)
from distlab.concepts.plans import MAX_NODES

#: The strategies that run in virtual time.
VIRTUAL_STRATEGIES = ("sync", "local", "async", "ssp")
#: Bytes of one model or gradient: 65 × 10 float64.
MODEL_BYTES = N_FEATURES * N_CLASSES * 8
#: The most mini-batch steps one node may take in a simulated run (``until`` ÷
#: ``timing.compute``): 20,000 steps are a few seconds.
MAX_STEPS = 20_000


@dataclass(frozen=True)
class Timing:
    """Virtual seconds of each thing a node does: ``compute`` for one mini-batch gradient
    on a healthy node, ``allreduce`` for one all-reduce of the model (``sync``, ``local``),
    ``push`` for one push of a gradient and pull of the new model (``async``, ``ssp``).
    Node ``straggler`` (``None``: none) computes ``slowdown`` times slower. Raises
    ``TypeError``/``ValueError`` naming a bad field."""
    compute: float = 1.0
    allreduce: float = 0.25
    push: float = 0.25
    straggler: int | None = None
    slowdown: float = 3.0

    def __post_init__(self):
        checks.positive("compute", self.compute)
        checks.number("allreduce", self.allreduce, minimum=0)
        checks.number("push", self.push, minimum=0)
        checks.number("slowdown", self.slowdown, minimum=1)
        if self.straggler is not None:
            checks.count("straggler", self.straggler, minimum=0)

    def step(self, node: int) -> float:
        """Virtual seconds node ``node`` takes for one mini-batch gradient."""
        return self.compute * (self.slowdown if node == self.straggler else 1.0)


def simulate(strategy: str, config: TrainingConfig = TrainingConfig(),
             timing: Timing = Timing(), until: float = 60.0) -> pd.DataFrame:
    """Run ``strategy`` (one of :data:`VIRTUAL_STRATEGIES`) for ``until`` virtual seconds
    (every round, or update, that ends by then) and return its history, like ``train()``'s:
    one row per round (for ``async`` and ``ssp``, per ``nodes`` updates applied) with
    ``strategy``, ``round``, ``time`` (virtual seconds), ``samples`` (examples used by all
    nodes), ``bytes`` (between nodes), ``loss`` and ``accuracy``.

    ``history.attrs``: ``params`` (the final model); ``waited`` (virtual seconds each
    node sat idle while another computed, list of floats); ``gradients`` (mini-batch
    gradients each node computed; for the server strategies, those applied);
    ``staleness`` (for ``async`` and ``ssp``: per applied update, the updates applied
    since its node read the model).
    Raises ``TypeError``/``ValueError`` for a bad argument, a straggler outside the
    nodes, or an ``until`` longer than :data:`MAX_STEPS` steps of ``timing.compute``."""
    checks.choice("strategy", strategy, VIRTUAL_STRATEGIES)
    until = _check_run(config, timing, until)
    shards = [load_shard(i, config.nodes, config.seed, config.label_skew)
              for i in range(config.nodes)]
    run = _barrier_rounds if strategy in ("sync", "local") else _parameter_server
    rows, attrs = run(strategy, config, timing, until, shards)
    X, y, X_test, y_test = load_split(config.seed)
    history = pd.DataFrame(
        [dict(strategy=strategy, round=k, time=t, samples=n, bytes=b,
              loss=_loss(p, X, y), accuracy=_accuracy(p, X_test, y_test))
         for k, (t, n, b, p) in enumerate(rows)])
    history.attrs.update(attrs, params=rows[-1][3])
    return history


def _check_run(config, timing, until) -> float:
    """``until`` as a float, once config, timing and it are checked."""
    if not isinstance(config, TrainingConfig):
        raise TypeError(f"config must be a TrainingConfig, got {type(config).__name__}")
    if not isinstance(timing, Timing):
        raise TypeError(f"timing must be a Timing, got {type(timing).__name__}")
    checks.count("config.nodes", config.nodes, maximum=MAX_NODES)
    until = checks.positive("until", until)
    if until > MAX_STEPS * timing.compute:
        raise ValueError(f"until must be ≤ {MAX_STEPS * timing.compute:g} virtual seconds "
                         f"({MAX_STEPS:,} steps of timing.compute, the limit of this "
                         f"function), got {until:g}")
    if timing.straggler is not None and timing.straggler >= config.nodes:
        raise ValueError(f"timing.straggler must be a node below nodes ({config.nodes}), "
                         f"got {timing.straggler}")
    return until


def _allreduce_bytes(config: TrainingConfig) -> int:
    """Bytes all nodes send in one all-reduce of the model, from the algorithm's plan."""
    from distlab.concepts.cost import bytes_per_node
    from distlab.concepts.plans import EXACT_BUILDERS

    if config.nodes == 1:
        return 0
    sent, _ = bytes_per_node(EXACT_BUILDERS[config.algorithm](config.nodes),
                             N_FEATURES * N_CLASSES, 8)
    return int(sent.sum())


def _barrier_rounds(strategy, c, timing, until, shards):
    """``sync`` and ``local``: every round ends at a barrier, the all-reduce."""
    steps = 1 if strategy == "sync" else c.local_steps
    compute = [steps * timing.step(i) for i in range(c.nodes)]
    round_time = max(compute) + timing.allreduce
    params, k, t = init_params(), 0, 0.0
    rows = [(0.0, 0, 0, params)]
    while t + round_time <= until:
        if strategy == "sync":          # mean gradient, one step: train("sync")
            grads = [_node_gradient(params, shards[i], i, k, c.batch, c.seed)
                     for i in range(c.nodes)]
            params = _apply_gradient(params, np.mean(grads, axis=0), c.lr)
        else:                           # H steps alone, then the mean: train("local")
            params = np.mean([_local_sgd(params, shards[i], i, k * steps, steps, c.batch,
                                        c.lr, c.seed) for i in range(c.nodes)], axis=0)
        k, t = k + 1, t + round_time
        rows.append((t, k * steps * c.nodes * c.batch, k * _allreduce_bytes(c), params))
    waited = [k * (max(compute) - mine) for mine in compute]
    return rows, dict(waited=waited, gradients=[k * steps] * c.nodes)


def _parameter_server(strategy, c, timing, until, shards):
    """``async`` and ``ssp``: each node loops gradient → push → pull; the server applies
    each push when it arrives (ties: the lower node first)."""
    bound = c.staleness if strategy == "ssp" else None
    n = c.nodes
    params, version = init_params(), 0
    done = [0] * n                              # iterations each node has completed
    read = [(0, params)] * n                    # (version, model) each node computes on
    waited, blocked = [0.0] * n, {}             # node -> since when it waits (ssp)
    arrivals = [(timing.step(i) + timing.push, i) for i in range(n)]
    heapq.heapify(arrivals)
    staleness, rows = [], [(0.0, 0, 0, params)]
    while arrivals and arrivals[0][0] <= until:
        t, i = heapq.heappop(arrivals)
        seen, model = read[i]
        g = _node_gradient(model, shards[i], i, done[i], c.batch, c.seed)
        params, version = _apply_gradient(params, g, c.lr / n), version + 1
        staleness.append(version - 1 - seen)
        done[i] += 1
        if version % n == 0:
            rows.append((t, version * c.batch, 2 * version * MODEL_BYTES, params))
        blocked[i] = t
        for j in sorted(blocked):               # whoever the bound now lets go, starts
            if bound is None or done[j] - min(done) <= bound:
                waited[j] += t - blocked.pop(j)
                read[j] = (version, params)
                heapq.heappush(arrivals, (t + timing.step(j) + timing.push, j))
    for j, since in blocked.items():            # still waiting when the clock stops
        waited[j] += until - since
    return rows, dict(waited=waited, gradients=done, staleness=staleness)


def straggler_comparison(timing: Timing = Timing(straggler=3), config: TrainingConfig =
                         TrainingConfig(), until: float = 100.0, target: float | None = None
                         ) -> tuple[pd.DataFrame, dict]:
    """Every strategy of :data:`VIRTUAL_STRATEGIES` for ``until`` virtual seconds with the
    same ``timing`` (by default node 3 is 3× slower), each at the same learning rate per
    example: ``config.lr`` for a step on ``config.batch`` examples, scaled by the linear
    rule where a step takes more (:func:`~distlab.apps.training.config.linear_scaled_lr`):
    ``sync`` steps on nodes × batch examples; the server strategies apply lr / nodes per
    push, so they get the scaled rate too and each push of ``batch`` examples takes
    ``config.lr``; ``local`` takes ``config.lr`` at every one of its steps.

    Returns ``(table, histories)``: ``histories`` maps each strategy to its
    :func:`simulate` history; ``table`` has one row per strategy: the learning rate of
    one update and the examples in it, the gradients a healthy node and the straggler
    computed, the share of the time the healthy nodes waited, the largest staleness,
    the accuracy at the end and (with ``target``) the virtual seconds and the examples
    it took to reach ``target`` (None, or an accuracy in [0, 1]). Errors as
    :func:`simulate`."""
    from distlab.apps.training.config import linear_scaled_lr
    from distlab.apps.training.history import rounds_to

    until = _check_run(config, timing, until)
    if target is not None:
        checks.fraction("target", target)

    n, batch = config.nodes, config.batch
    scaled = linear_scaled_lr(config.lr, n * batch, batch)
    healthy = next((i for i in range(n) if i != timing.straggler), 0)
    rows, histories = [], {}
    for strategy in VIRTUAL_STRATEGIES:
        lr = config.lr if strategy == "local" else scaled
        h = simulate(strategy, dataclasses.replace(config, lr=lr), timing, until)
        histories[strategy] = h
        per_update = config.lr if strategy != "sync" else scaled
        row = {"strategy": strategy, "lr per update": per_update,
               "examples per update": n * batch if strategy == "sync" else batch,
               "gradients: healthy node": h.attrs["gradients"][healthy],
               "gradients: straggler": (h.attrs["gradients"][timing.straggler]
                                        if timing.straggler is not None else None),
               "healthy nodes waiting (%)": round(100 * h.attrs["waited"][healthy] / until, 1),
               "max staleness": max(h.attrs.get("staleness") or [0]),
               f"accuracy at {until:g} s": round(float(h["accuracy"].iloc[-1]), 4)}
        if target is not None:
            r = rounds_to(h, target)
            hit = h.loc[h["round"] == r].iloc[0] if r is not None else None
            row["time to target (s)"] = None if r is None else float(hit["time"])
            row["samples to target"] = None if r is None else int(hit["samples"])
        rows.append(row)
    return pd.DataFrame(rows).set_index("strategy"), histories
