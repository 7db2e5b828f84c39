"""What two exercise checkers send to the cluster: a rank's job and a question for the scheduler.

The coding exercises of chapters 05 and 07 run the learner's code on the live cluster, as
the chapters do; their checkers (:mod:`distlab.present.exercise_checks`) need these two
functions to be importable on the workers and the scheduler, so they live here, below
presentation:

- :func:`_ddp_rank` is one rank of a few data-parallel steps (chapter 07): it loads its own
  shard of the digits and calls the learner's step, which meets the other ranks in
  ``group.allreduce`` (:func:`distlab.engines.spmd.run_ranks`).
- :func:`_unreached_inputs_query` gives the function that runs on the scheduler
  (``client.run_on_scheduler``) and says which input keys a result's task does not depend
  on: a mean computed in the notebook and scattered back depends on none of them
  (chapter 05).
"""
from __future__ import annotations

import numpy as np

from distlab.apps.training.data import batch_rows, load_shard
from distlab.apps.training.model import init_params


def _ddp_rank(group, step, steps: int, lr: float, batch: int, seed: int):
    """Runs on every rank: ``steps`` calls of ``step(group, params, X, y, lr)`` from the
    all-zero model, each on this rank's mini-batch (``X`` float64 of shape (batch, 65),
    ``y`` int64 of shape (batch,)) of its shard of the digits. Returns the final
    parameters, float64 of shape (65, 10), or ``NotImplemented`` if ``step`` returned it
    (an untouched stub)."""
    X, y = load_shard(group.rank, group.size, seed)
    params = init_params()
    for k in range(steps):
        rows = batch_rows(len(y), batch, seed, group.rank, k)
        params = step(group, params, X[rows], y[rows], lr)
        if params is NotImplemented:
            return NotImplemented
        params = np.asarray(params, dtype=float)
    return params


def _unreached_inputs_query():
    """A function for ``client.run_on_scheduler(query, key=..., inputs=[...])``: the keys of
    ``inputs`` that the task ``key`` does not depend on, directly or through other tasks
    (all of them if the scheduler does not know ``key``). It walks
    ``TaskState.dependencies``, the scheduler's graph (Dask docs, "Scheduling State").

    Defined inside this function so that it is pickled by value (cloudpickle does so for
    nested functions): a scheduler started without distlab installed can still run it."""
    def unreached_inputs(dask_scheduler, key, inputs) -> list:
        start = dask_scheduler.tasks.get(key)
        seen, stack = set(), [start] if start is not None else []
        while stack:
            task = stack.pop()
            if task.key not in seen:
                seen.add(task.key)
                stack.extend(task.dependencies)
        return [str(k) for k in inputs if k not in seen]
    return unreached_inputs
