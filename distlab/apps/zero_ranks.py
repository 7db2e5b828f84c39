"""ZeRO stages 0–3 live: the digits MLP trained with Adam by SPMD ranks on the workers.

:mod:`distlab.concepts.zero` has the formulas and the sharding on arrays in one process;
here every rank is a worker process (:func:`distlab.engines.spmd.run_ranks`) that keeps
only its part of the training state and talks to the others through real collectives.
Each layer's weight matrix is one flat vector, sharded on its own (FSDP's "unit"; Zhao et
al., "PyTorch FSDP", VLDB 2023, §3): rank r owns the chunk ``group.shard_bounds(n)``.
One training step, per stage (Rajbhandari et al., "ZeRO", SC 2020, §5, §7):

=====  ======================================  ==========================================
stage  a rank keeps between steps              the step's collectives, per layer
=====  ======================================  ==========================================
0      everything (plain data parallelism)     all-reduce of the gradient
1      its shard of the optimizer state        reduce-scatter of the gradient (kept in a
                                               full buffer), all-gather of the weights
2      + only its shard of the gradient        the same; the full gradient is transient
3      + only its shard of the weights         all-gather of the weights before the
                                               forward and again before the backward,
                                               reduce-scatter of the gradient
=====  ======================================  ==========================================

Everything is float64 (weights, gradients, and an optimizer state of a master copy and
Adam's two moments: K = 24 bytes per parameter) so that every stage can be compared with
plain data parallelism bit for bit. Measured on every rank: the ``nbytes`` of what it
keeps (:meth:`~distlab.concepts.zero.RankState.held_bytes`), equal to
:func:`~distlab.concepts.zero.state_bytes`, and the bytes it sends per step
(``group.bytes_sent``), equal to :func:`~distlab.concepts.zero.step_bytes` — both exactly
when the rank count divides every layer's size (else the ring's chunks differ by one
element). Gradients are averaged by the ring (``reduce_scatter`` gives the mean), so every
stage gives the same weights as plain data parallelism with the same seeds.

    table = run(client)                  # one row per (stage, rank)
    table = run(client, [1], MLPTraining(steps=20, hidden=(64, 32)))
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from distlab import checks
from distlab.apps import mlp
from distlab.apps.mlp import MLPTraining
from distlab.apps.training.data import batch_rows, load_shard, shard_rows
from distlab.concepts import zero
from distlab.concepts.kernel import run_plan
from distlab.concepts.plans import ring, ring_shard
from distlab.engines.spmd import check_group, run_ranks
from distlab.engines.workers import check_client, worker_addresses

__all__ = ["run", "reference", "HELD", "SENT"]

#: Bytes per parameter held, as :func:`~distlab.concepts.zero.state_bytes` takes them:
#: float64 weights and gradients, a float64 master copy and two moments.
HELD = {"weight_bytes": 8, "gradient_bytes": 8, "optimizer_bytes": 24}
#: Bytes per communicated element (float64).
SENT = 8
#: The most ranks :func:`reference` simulates (each one's shard of the digits is loaded).
MAX_RANKS = 64


# -- one rank -------------------------------------------------------------------------------
def _state(group, stage: int, w: np.ndarray) -> zero.RankState:
    """What this rank keeps of one layer: :func:`~distlab.concepts.zero.shard`'s cut,
    taking the chunk the ring leaves this rank."""
    states = zero.shard(w.reshape(-1), group.size, stage, weight_dtype=np.float64,
                        optimizer_dtype=np.float64)
    return replace(states[ring_shard(group.rank, group.size)], rank=group.rank)


def _weights(group, state: zero.RankState, shape) -> np.ndarray:
    """The layer's whole weights, gathered just in time at stage 3."""
    if state.weights.size == np.prod(shape):
        return state.weights.reshape(shape)
    return group.all_gather(state.weights, int(np.prod(shape))).reshape(shape)


def _reduce_gradient(group, state: zero.RankState, g: np.ndarray) -> None:
    """The stage's collective on this rank's gradient ``g`` (flat), kept as it says."""
    if state.stage == 0:
        state.gradients[:] = group.allreduce(g)
    elif state.stage == 1:                        # a full buffer, its shard the mean
        state.gradients[:] = g
        state.gradients[state.lo:state.hi] = group.reduce_scatter(g)
    else:
        state.gradients[:] = group.reduce_scatter(g)


def _update(group, state: zero.RankState, step: int, lr: float) -> None:
    """Adam on the part of the optimizer state this rank owns, then the weights it keeps
    (gathered from every rank's updated shard at stages 1 and 2)."""
    whole = state.gradients.size == state.master.size
    g = state.gradients if whole else state.gradients[state.lo:state.hi]
    mlp.adam(state.master, state.exp_avg, state.exp_avg_sq, g, step, lr)
    if state.weights.size == state.master.size:
        state.weights[:] = state.master
    else:
        state.weights[:] = group.all_gather(state.master, state.weights.size)


def _train_stage(group, stage: int, s: MLPTraining) -> dict:
    shapes = mlp.layer_shapes(s.hidden)
    states = [_state(group, stage, w) for w in mlp.init_layers(s.hidden, s.seed)]
    X_all, y_all = load_shard(group.rank, group.size, s.seed)
    last = len(shapes) - 1
    sent = []
    for step in range(s.steps):
        before = group.bytes_sent
        rows = batch_rows(len(y_all), s.batch, s.seed, group.rank, step)
        acts = [X_all[rows]]
        for k, state in enumerate(states):
            acts.append(mlp.forward_layer(_weights(group, state, shapes[k]), acts[-1], k == last))
        d = mlp.output_gradient(acts[-1], y_all[rows], s.batch)
        for k in reversed(range(len(states))):
            w = _weights(group, states[k], shapes[k])
            g, d = mlp.backward_layer(w, acts[k], acts[k + 1], d, k == last)
            _reduce_gradient(group, states[k], g.reshape(-1))
        for state in states:
            _update(group, state, step + 1, s.lr)
        sent.append(group.bytes_sent - before)
    held = [state.held_bytes() for state in states]
    return {"held": {part: sum(h[part] for h in held) for part in held[0]}, "sent": sent,
            "weights": np.concatenate([_weights(group, st, sh).reshape(-1)
                                       for st, sh in zip(states, shapes)])}


def _train_rank(group, stages, settings: MLPTraining) -> dict:
    """Runs on every rank: train from the same seeded weights at each of ``stages``; per
    stage the bytes held per part of the state (after the last step), the bytes sent in
    each step, and the final weights (flat, every layer, gathered)."""
    group, stages = check_group(group), _check_stages(stages)
    settings = _check_settings(settings)
    return {stage: _train_stage(group, stage, settings) for stage in stages}


# -- the client -----------------------------------------------------------------------------
def _check_settings(settings) -> MLPTraining:
    if not isinstance(settings, MLPTraining):
        raise TypeError(f"settings must be an MLPTraining, got {type(settings).__name__}")
    return settings


def _stage(i: int, stage) -> int:
    try:
        return zero.check_stage(stage)
    except (TypeError, ValueError) as error:           # say which of the stages
        raise type(error)(f"stages[{i}]: {error}") from None


def _check_stages(stages) -> tuple[int, ...]:
    stages = tuple(_stage(i, s) for i, s in enumerate(checks.sequence("stages", stages)))
    if not stages:
        raise ValueError("stages must name at least one ZeRO stage (0, 1, 2, 3)")
    return stages


def reference(ranks: int, settings: MLPTraining = MLPTraining()) -> np.ndarray:
    """Plain data-parallel training in this process: every rank's gradient on its own
    mini-batch, averaged by the ring plan on the kernel (:func:`~distlab.concepts.kernel.
    run_plan`, the arithmetic every engine shares), one Adam step on the whole model. The
    final weights, flat.

    ``TypeError``/``ValueError`` naming the argument: ``settings`` not an
    :class:`~distlab.apps.mlp.MLPTraining`, ``ranks`` not an int in [1,
    :data:`MAX_RANKS`], or a batch larger than a rank's shard of the digits."""
    s = _check_settings(settings)
    ranks = checks.count("ranks", ranks, minimum=1, maximum=MAX_RANKS,
                         limit="more ranks than this book trains with")
    layers = mlp.init_layers(s.hidden, s.seed)
    moments = [(np.zeros_like(w), np.zeros_like(w)) for w in layers]
    shards = [load_shard(r, ranks, s.seed) for r in range(ranks)]
    for step in range(s.steps):
        per_rank = []
        for r, (X, y) in enumerate(shards):
            rows = batch_rows(len(y), s.batch, s.seed, r, step)
            per_rank.append(mlp.gradients(layers, X[rows], y[rows]))
        for k, (w, (m, v)) in enumerate(zip(layers, moments)):
            mean = run_plan(ring(ranks), [g[k].reshape(-1) for g in per_rank], np.float64)[0][0]
            mlp.adam(w, m, v, mean.reshape(w.shape), step + 1, s.lr)
    return np.concatenate([w.reshape(-1) for w in layers])


def _exact(x: float):
    """A whole number of bytes as an int (a formula's float), else as it is."""
    return int(x) if float(x).is_integer() else x


def run(client, stages=zero.STAGES, settings: MLPTraining = MLPTraining(), *,
        workers=None) -> pd.DataFrame:
    """Train at each of ``stages`` on the workers (one rank each; ``workers`` as
    :func:`~distlab.engines.spmd.run_ranks`) and measure. One row per (stage, rank): the
    bytes of ``parameters``, ``gradients`` and ``optimizer state`` the rank keeps, their
    ``held`` total and the ``held (formula)``; the bytes ``sent per step`` and the ``sent
    (formula)``; and whether its weights equal plain data parallelism's
    (:func:`reference`) within 1e-12. ``attrs``: ``"parameters"`` Ψ, and per stage
    ``"max_gap"`` (the largest weight difference from the reference), ``"weights"`` (rank
    0's, flat) and ``"sent"`` (each rank's bytes sent in each step).

    Everything is checked before anything runs (``ValueError``/``TypeError`` naming the
    argument: a stage outside 0–3, sizes that are zero or negative, a batch larger than a
    rank's shard, a client that is not an open ``distributed.Client``), so a bad call
    leaves nothing on the workers."""
    check_client(client)
    stages, s = _check_stages(stages), _check_settings(settings)
    ranks = len(checks.sequence("workers", workers) if workers else worker_addresses(client))
    smallest = min(len(shard_rows(r, ranks, s.seed)) for r in range(ranks))
    if s.batch > smallest:
        raise ValueError(f"batch must be ≤ {smallest} (the smallest rank's shard of the "
                         f"digits), got {s.batch}")
    per_rank = run_ranks(client, _train_rank, stages, s, workers=workers)
    expected = reference(ranks, s)
    psi = sum(a * b for a, b in mlp.layer_shapes(s.hidden))
    rows, gaps = [], {}
    for stage in stages:
        held_formula = _exact(zero.state_bytes(psi, ranks, stage, **HELD)["total"])
        sent_formula = _exact(zero.step_bytes(psi, ranks, stage, element_bytes=SENT))
        gaps[stage] = max(float(np.abs(r[stage]["weights"] - expected).max()) for r in per_rank)
        for rank, result in enumerate(per_rank):
            held = result[stage]["held"]
            gap = float(np.abs(result[stage]["weights"] - expected).max())
            rows.append({"stage": stage, "rank": rank, **{p: held[p] for p in zero.PARTS},
                         "held": held["total"], "held (formula)": held_formula,
                         "sent per step": max(result[stage]["sent"]),
                         "sent (formula)": sent_formula, "equals data parallel": gap <= 1e-12})
    table = pd.DataFrame(rows).set_index(["stage", "rank"])
    table.attrs.update(parameters=psi, max_gap=gaps,
                       weights={st: per_rank[0][st]["weights"] for st in stages},
                       sent={st: [r[st]["sent"] for r in per_rank] for st in stages})
    return table
