"""Pipeline parallelism live: the digits MLP's layers cut into stages on the workers, a
batch cut into micro-batches, GPipe and 1F1B run in wall time.

:mod:`distlab.concepts.pipeline` plays a schedule in virtual time. Here rank i of
:func:`~distlab.engines.spmd.run_ranks` is stage i: it holds only its layers
(:func:`~distlab.concepts.pipeline.split_layers`) and runs its list of steps of
:func:`~distlab.concepts.pipeline.schedule` in order. A forward step receives the
micro-batch's activations from stage i − 1 (stage 0 reads the data), runs its layers and
sends the result to stage i + 1; a backward step receives the gradient from stage i + 1
(the last stage starts from the loss), runs its layers backwards, adds the weight
gradients up over the micro-batches, and sends the input gradient to stage i − 1. The
activations travel point to point, ``group.send`` / ``group.recv`` (one message each, the
sender does not wait), as between GPUs in GPipe (Huang et al., NeurIPS 2019) and
Megatron-LM's 1F1B (Narayanan et al., SC 2021, §2.2).

Measured: each step's start and end on its stage (seconds after a common barrier; the
compute only, so waiting for a message is idle time), from which the bubble, 1 − busy ÷
(p × makespan), is set beside (p − 1)/(m + p − 1) — shown, never asserted: on a shared
machine the measurement includes message latency and whatever else runs. Exact, and
asserted by the tests: the most micro-batches whose activations a stage holds at once
(:func:`~distlab.concepts.pipeline.peak_in_flight`), the bytes each stage sends (a batch
of activations forward and a batch of gradients backward per stage boundary), and the
summed gradients, equal to the unsplit model's within 1e-12.

    summary, timelines = run(client)     # GPipe and 1F1B, one row each
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from distlab import checks
from distlab.apps import mlp
from distlab.apps.training.data import batch_rows, load_split
from distlab.concepts import pipeline
from distlab.engines.spmd import check_group, run_ranks
from distlab.engines.workers import check_client, worker_addresses

__all__ = ["PipelineSettings", "boundary_bytes", "run"]

#: The deepest model and the most weights :class:`PipelineSettings` accepts (1 GiB of
#: float64): far beyond the book's 4 × 1024; more would only exhaust a laptop's memory.
MAX_LAYERS, MAX_PARAMETERS = 64, 2**27


@dataclass(frozen=True)
class PipelineSettings:
    """The model, the batch and its cut, checked when made (``TypeError``/``ValueError``
    naming the argument; ``layers`` ≤ :data:`MAX_LAYERS`, ``width`` ≤ 4,096, layers ×
    width² ≤ :data:`MAX_PARAMETERS`, ``batch`` ≤ the digits' 1,797 rows). The defaults
    make a step's compute (milliseconds) large beside a message's latency, so that the
    wall-time bubble can approach the formula."""
    #: layers ≥ 1: hidden layers of ``width`` ≥ 1 units, then the output layer
    layers: int = 4
    width: int = 1024
    #: training rows in the batch, cut into 1 … batch micro-batches as array_split cuts
    batch: int = 512
    micro_batches: int = 8
    #: the weights' and the rows' seed, ≥ 0
    seed: int = 0

    @property
    def hidden(self) -> tuple:
        """The hidden layers' widths, as :mod:`distlab.apps.mlp` takes them."""
        return (self.width,) * (self.layers - 1)

    def __post_init__(self):
        checks.count("layers", self.layers, minimum=1, maximum=MAX_LAYERS,
                     limit="deeper than any model this book splits")
        checks.count("width", self.width, minimum=1, maximum=mlp.MAX_WIDTH,
                     limit="wider than any layer this book trains")
        if self.layers * (self.width + 1) * self.width > MAX_PARAMETERS:
            raise ValueError(f"layers × width² must be ≤ {MAX_PARAMETERS:,} parameters "
                             f"(1 GiB of float64 weights), got layers={self.layers}, "
                             f"width={self.width}")
        checks.count("batch", self.batch, minimum=1, maximum=mlp.MAX_BATCH,
                     limit="the digits' rows")
        checks.count("micro_batches", self.micro_batches, minimum=1, maximum=self.batch,
                     limit="batch: a micro-batch needs a row")
        checks.count("seed", self.seed)


def _data(s: PipelineSettings):
    """The batch's rows (X, y) and each micro-batch's positions in it."""
    X, y, _, _ = load_split(s.seed)
    rows = batch_rows(len(y), s.batch, s.seed, 0, 0)
    return X[rows], y[rows], np.array_split(np.arange(s.batch), s.micro_batches)


def _stage(group, order, s: PipelineSettings) -> dict:
    """Run this stage's steps ``order``; its timeline, gradients, peak, bytes sent."""
    i, p = group.rank, group.size
    mine = pipeline.split_layers(s.layers, p)[i]
    every = mlp.init_layers(s.hidden, s.seed)
    weights = [every[k] for k in mine]
    grads = [np.zeros_like(w) for w in weights]
    X, y, micro = _data(s)
    width_in, width_out = weights[0].shape[0], weights[-1].shape[1] + (i < p - 1)
    cache, peak, rows = {}, 0, []
    group.barrier()
    t0, sent0 = time.perf_counter(), group.bytes_sent
    for step in order:
        j, at = step.micro_batch, micro[step.micro_batch]
        if step.kind == "F":
            a = X[at] if i == 0 else group.recv(((len(at), width_in), np.float64), i - 1)
            start = time.perf_counter()
            acts = [a]
            for k, w in zip(mine, weights):
                acts.append(mlp.forward_layer(w, acts[-1], k == s.layers - 1))
            cache[j] = acts
            peak = max(peak, len(cache))
            end = time.perf_counter()
            if i < p - 1:
                group.send(acts[-1], i + 1)
        else:
            d = (None if i == p - 1
                 else group.recv(((len(at), width_out), np.float64), i + 1))
            start = time.perf_counter()
            acts = cache.pop(j)
            if d is None:
                d = mlp.output_gradient(acts[-1], y[at], s.batch)
            for n in reversed(range(len(weights))):
                g, d = mlp.backward_layer(weights[n], acts[n], acts[n + 1], d,
                                          mine[n] == s.layers - 1)
                grads[n] += g
            end = time.perf_counter()
            if i > 0:
                group.send(d, i - 1)
        rows.append((i, j, step.kind, start - t0, end - t0))
    return {"timeline": rows, "grads": grads, "peak": peak,
            "sent": group.bytes_sent - sent0, "layers": list(mine)}


def _stage_rank(group, schedules, s: PipelineSettings) -> dict:
    """Runs on every rank (rank i = stage i): each of ``schedules`` in turn."""
    group, schedules, s = check_group(group), _check_schedules(schedules), _check_settings(s)
    return {name: _stage(group, pipeline.schedule(name, group.size, s.micro_batches)[group.rank], s)
            for name in schedules}


def _check_schedules(schedules) -> list[str]:
    names = [checks.choice("schedules", n, pipeline.SCHEDULES)
             for n in checks.sequence("schedules", schedules)]
    if not names:
        raise ValueError(f"schedules must name at least one of {pipeline.SCHEDULES}")
    return names


def _check_settings(settings, name: str = "settings") -> PipelineSettings:
    if not isinstance(settings, PipelineSettings):
        where = "" if name == "settings" else f"{name}: "
        raise TypeError(f"{where}settings must be a PipelineSettings, got "
                        f"{type(settings).__name__}")
    return settings


def boundary_bytes(s: PipelineSettings) -> int:
    """Bytes that cross one stage boundary each way per batch: every row's activations
    (``width`` values and the constant 1) forward, as many gradients backward, float64.
    ``TypeError`` naming ``s`` when it is not a :class:`PipelineSettings`."""
    s = _check_settings(s, "s")
    return s.batch * (s.width + 1) * 8


def run(client, schedules=pipeline.SCHEDULES, settings: PipelineSettings = PipelineSettings(),
        *, stages: int = 2):
    """One batch through ``stages`` stages on the first ``stages`` workers, under each of
    ``schedules``. Returns ``(summary, timelines)``: per schedule the measured bubble
    and the formula's, the wall-clock makespan, the peak of micro-batches in flight per
    stage (measured and the formula's), the bytes each stage sent and the formula's, and
    the largest gap of the summed gradients to the unsplit model's; and per schedule the
    timeline (``stage``, ``micro_batch``, ``kind``, ``start``, ``end`` in seconds), ready
    for :func:`~distlab.concepts.pipeline.bubble_fraction` and a Gantt chart.

    ``ValueError`` naming the argument, before anything runs: more stages than layers or
    workers, fewer than one micro-batch, sizes that are zero or negative, a batch above
    the digits' training rows; ``TypeError`` for a client that is not an open
    ``distributed.Client``."""
    check_client(client)
    schedules, settings = _check_schedules(schedules), _check_settings(settings)
    stages = checks.count("stages", stages, minimum=1)
    pipeline.split_layers(settings.layers, stages)
    checks.count("batch", settings.batch, maximum=len(load_split(settings.seed)[1]),
                 limit="the digits' training rows")
    workers = worker_addresses(client)
    if stages > len(workers):
        raise ValueError(f"stages must be ≤ {len(workers)}, the cluster's workers (one "
                         f"stage each), got {stages}")
    per_rank = run_ranks(client, _stage_rank, schedules, settings, workers=workers[:stages])
    X, y, _ = _data(settings)
    whole = mlp.gradients(mlp.init_layers(settings.hidden, settings.seed), X, y)
    edges = [(i > 0) + (i < stages - 1) for i in range(stages)]
    summary, timelines = [], {}
    for name in schedules:
        runs = [r[name] for r in per_rank]
        timeline = pd.DataFrame([row for r in runs for row in r["timeline"]],
                                columns=["stage", "micro_batch", "kind", "start", "end"])
        timeline = timeline.sort_values(["stage", "start"], ignore_index=True)
        timelines[name] = timeline
        gap = max(float(np.abs(g - whole[k]).max())
                  for r in runs for k, g in zip(r["layers"], r["grads"]))
        summary.append({
            "schedule": name, "stages": stages, "micro-batches": settings.micro_batches,
            "bubble (wall time)": pipeline.bubble_fraction(timeline),
            "(p−1)/(m+p−1)": pipeline.bubble_formula(stages, settings.micro_batches),
            "makespan (s)": float(timeline["end"].max() - timeline["start"].min()),
            "peak in flight": [r["peak"] for r in runs],
            "peak (formula)": pipeline.in_flight_formula(name, stages, settings.micro_batches),
            "bytes sent": [r["sent"] for r in runs],
            "bytes (formula)": [e * boundary_bytes(settings) for e in edges],
            "gradient gap": gap})
    return pd.DataFrame(summary).set_index("schedule"), timelines
