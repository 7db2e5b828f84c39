"""The cost model of the cluster: what one run of a configuration should take.

T = call + max(⌈P / w⌉ · (task + s · row), P · scheduler) + task + all-reduce(w, a), for P
partitions of s rows on w workers: each worker runs its share one after another, unless
the scheduler, which hands tasks out one at a time, is the bottleneck; then one local sum
per worker, then the all-reduce (the call's fixed cost plus, per round of the plan, α per
message and β per byte of the busiest node: Hockney's α-β model as Thakur, Rabenseifner &
Gropp use it, "Optimization of Collective Communication Operations in MPICH", IJHPCA
2005). The figures come from :func:`~distlab.apps.tuning.probe` or :data:`REFERENCE`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from distlab import checks
from distlab.apps.tuning.configs import (MAX_WORKERS, NO_ALLREDUCE, Config, candidates,
                                         check_config)
from distlab.apps.tuning.job import Job
from distlab.concepts.plans import MAX_NODES
from distlab.concepts.task_overhead import tasks_seconds
from distlab.engines.allreduce import EXACT_ALGORITHMS, make_plan


@dataclass(frozen=True)
class ClusterModel:
    """What the probes measure, in seconds: per call (submit work and hear it is done),
    per task on a worker, per task on the scheduler (its throughput limit), per row of
    compute with one worker busy (``row``) and with every worker busy at once
    (``row_parallel``; defaults to ``row``, as on idle dedicated cores), α (per message)
    and β (per byte) between workers on the direct all-reduce engine, and the fixed cost
    of one all-reduce call on that engine whatever it sends (``allreduce_call``: the
    client's messages to the workers and back, setting the call up on them). Each a finite
    number ≥ 0: ``TypeError``/``ValueError`` naming the field otherwise."""
    call: float
    task: float
    scheduler: float
    row: float
    alpha: float
    beta: float
    row_parallel: float | None = None
    allreduce_call: float = 0.0

    def __post_init__(self):
        if self.row_parallel is None:
            object.__setattr__(self, "row_parallel", self.row)
        for name in ("call", "task", "scheduler", "row", "alpha", "beta", "row_parallel",
                     "allreduce_call"):
            checks.number(f"ClusterModel.{name} (seconds)", getattr(self, name), minimum=0)

    def __str__(self) -> str:
        bandwidth = (f"1/β {1e-6 / self.beta:.0f} MB/s" if self.beta > 1e-11
                     else "β negligible at this size")
        return (f"call {self.call * 1e3:.1f} ms, task {self.task * 1e3:.2f} ms, "
                f"scheduler {self.scheduler * 1e3:.2f} ms/task, row {self.row * 1e6:.0f} µs "
                f"alone and {self.row_parallel * 1e6:.0f} µs with all workers busy, "
                f"all-reduce call {self.allreduce_call * 1e3:.1f} ms + "
                f"α {self.alpha * 1e3:.2f} ms per message, {bandwidth}")


#: A round reference machine for printed examples: a 2-core box running the embedded
#: cluster (~10 ms per call, ~2 ms per task, ~430 tasks/s through the scheduler, 0.5 GB/s
#: between processes), ~0.6 ms per row of the job on each of two idle cores, and the
#: direct all-reduce engine as measured on such a box (calibrate.ping_pong_direct on 2
#: workers: α 0.3–0.8 ms per message, about 2 ms per call besides its messages).
REFERENCE = ClusterModel(call=0.010, task=0.002, scheduler=0.0023, row=0.0006,
                         alpha=0.0005, beta=2e-9, allreduce_call=0.002)


def allreduce_seconds(workers: int, algorithm: str, vector_bytes: int,
                      model: ClusterModel) -> float:
    """The all-reduce part of the model, for the direct engine that :func:`run` uses
    (worker-to-worker messages, no tasks): the call's fixed cost, then for each round of
    the plan α per message and β per byte of the round's busiest node — the α-β model of
    chapter 04 (Hockney; Thakur, Rabenseifner & Gropp 2005), as
    :func:`distlab.engines.calibrate.round_seconds` computes it, with one α and β
    whether or not messages cross. A node that sends or receives m messages in a round
    pays m·α. ``workers`` an int in [1, :data:`~distlab.concepts.plans.MAX_NODES`],
    ``algorithm`` one of ``EXACT_ALGORITHMS`` (or :data:`NO_ALLREDUCE` with one worker),
    ``vector_bytes`` an int ≥ 0, ``model`` a :class:`ClusterModel`; ``TypeError``/
    ``ValueError`` naming the argument otherwise."""
    workers = checks.count("workers", workers, minimum=1, maximum=MAX_NODES)
    checks.choice("algorithm", algorithm, (NO_ALLREDUCE, *EXACT_ALGORITHMS) if workers == 1
                  else EXACT_ALGORITHMS)
    vector_bytes = checks.count("vector_bytes", vector_bytes)
    _check_model(model)
    if workers == 1:
        return 0.0
    from distlab.concepts.cost import round_bytes

    plan = make_plan(algorithm, workers)
    m_out, m_in, b_out, b_in, _ = round_bytes(plan, max(1, vector_bytes // 8), 8)
    messages = np.maximum(m_out, m_in).max(axis=1).sum()
    busiest = np.maximum(b_out, b_in).max(axis=1).sum()
    return float(model.allreduce_call + messages * model.alpha + busiest * model.beta)


def predict_seconds(config: Config, job: Job, model: ClusterModel) -> float:
    """T = call + max(⌈P / w⌉ · (task + s · row), P · scheduler) + task + all-reduce.
    Tasks on different workers overlap; each worker runs its share one after another,
    unless the scheduler cannot hand tasks out that fast; then each worker adds its
    share up and the all-reduce averages the sums. With several workers, a row costs
    ``row_parallel`` (all workers computing at once). ``TypeError`` for a config, job or
    model of another type; ``ValueError`` for a configuration the job cannot run
    (:func:`~distlab.apps.tuning.configs.check_config`, on up to ``MAX_WORKERS``)."""
    if not isinstance(config, Config):
        raise TypeError(f"config must be a tuning.Config, got {type(config).__name__}")
    _check_model(model)
    check_config(config, job, MAX_WORKERS)
    n_parts = len(config.partitions(job))
    row = model.row if config.workers == 1 else model.row_parallel
    # the book's one overhead model (chapter 02): workers in parallel, the scheduler serially
    compute = tasks_seconds(n_parts, config.workers, config.partition_rows * row,
                            model.task, model.scheduler)
    return (model.call + compute + model.task
            + allreduce_seconds(config.workers, config.algorithm, job.vector_bytes, model))


def _check_model(model) -> None:
    if not isinstance(model, ClusterModel):
        raise TypeError(f"model must be a tuning.ClusterModel, got {type(model).__name__}")


def predict_table(job: Job, n_workers: int, model: ClusterModel = REFERENCE) -> pd.DataFrame:
    """Every candidate with its predicted seconds, best first. Arguments and errors as
    :func:`~distlab.apps.tuning.configs.candidates`, and ``TypeError`` for a model of
    another type."""
    _check_model(model)
    rows = [{"workers": c.workers, "partition_rows": c.partition_rows,
             "tasks": len(c.partitions(job)), "algorithm": c.algorithm,
             "predicted_s": predict_seconds(c, job, model)}
            for c in candidates(job, n_workers)]
    table = pd.DataFrame(rows).sort_values(["predicted_s", "workers", "partition_rows",
                                            "algorithm"], kind="stable")
    return table.reset_index(drop=True)
