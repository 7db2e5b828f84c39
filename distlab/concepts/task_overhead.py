"""Per-task overhead: the scheduler's share adds up over the whole graph, the workers' does not.

Every task costs time besides its work, in two places:

- **the scheduler**, one process that handles every task's messages one after another:
  "Every task comes with some overhead. This is somewhere between 200us and 1ms. If you
  have a computation with thousands of tasks this is fine, there will be about a second
  of overhead" (Dask, *Best Practices*, "Avoid Very Large Graphs",
  https://docs.dask.org/en/stable/best-practices.html). It adds up over the whole graph,
  not in parallel on every worker: 10,000 tasks at 1 ms cost 10 s on 2 workers or 64;
- **the worker** that receives, runs and reports each task, in parallel with the others.

:func:`tasks_seconds` is the one model of the book for both, the throughput bound of the
pipeline scheduler → workers, for k tasks of t seconds on w workers:

    T = max(⌈k / w⌉ · (t + worker), k · scheduler)

each worker runs its share one after another, unless the scheduler cannot hand tasks out
that fast; so T ≥ k · scheduler on any number of workers. Chapter 08's tuner
(:mod:`distlab.apps.tuning.cost_model`) costs its tasks with the same formula.
:func:`overhead_model` predicts the time and efficiency of a fixed amount of work cut into
k tasks; :func:`break_even_task_seconds` the shortest task still worth running — at 50 %
efficiency t = max(worker, w · scheduler / 2): a task must outlast its own overhead, and
the scheduler must hand out w tasks in the time one runs (the METG(50 %) of Slaughter et
al., "Task Bench: A Parameterized Benchmark for Evaluating Parallel Runtime Performance",
SC 2020). :func:`fit_overhead` fits the scheduler's share to measurements;
:func:`distlab.concepts.partitioning.simulate_schedule` runs the pipeline task by task.
"""
from __future__ import annotations

import math

import numpy as np

from distlab.checks import count, fraction, number

__all__ = ["tasks_seconds", "overhead_model", "break_even_task_seconds", "fit_overhead"]


def tasks_seconds(tasks: int, workers: int, task_seconds: float, worker_per_task: float = 0.0,
                  scheduler_per_task: float = 0.0) -> float:
    """T = max(⌈tasks / workers⌉ · (task + worker), tasks · scheduler): ``tasks`` tasks of
    ``task_seconds`` each on ``workers`` workers, each task costing ``worker_per_task``
    seconds on its worker (in parallel with the others) and ``scheduler_per_task`` on the
    one scheduler (serially, over the whole graph). The throughput bound of the pipeline
    scheduler → workers: ``partitioning.simulate_schedule``, which also pays for filling
    and draining the pipeline, lands between it and the sum of its two terms. Raises
    ``TypeError``/``ValueError`` naming a bad argument."""
    tasks = count("tasks", tasks, minimum=1)
    workers = count("workers", workers, minimum=1)
    task = number("task_seconds", task_seconds, minimum=0)
    worker = number("worker_per_task", worker_per_task, minimum=0)
    scheduler = number("scheduler_per_task", scheduler_per_task, minimum=0)
    return max(math.ceil(tasks / workers) * (task + worker), tasks * scheduler)


def overhead_model(total_seconds: float, tasks: int, workers: int,
                   scheduler_per_task: float, worker_per_task: float = 0.0) -> dict:
    """The same ``total_seconds`` of work cut into ``tasks`` equal tasks on ``workers``:
    the scheduler's share, tasks × scheduler (serial, a floor however many workers
    there are); the workers' share, ⌈tasks / workers⌉ × (total / tasks + worker); the
    predicted time, the larger of the two (:func:`tasks_seconds`); the ideal time
    total / workers; the efficiency ideal ÷ predicted; and which of the two bounds.
    ``total_seconds`` > 0, the per-task times ≥ 0, the counts ints ≥ 1: else
    ``TypeError``/``ValueError`` naming the argument."""
    total = number("total_seconds", total_seconds, minimum=0, strict=True)
    tasks = count("tasks", tasks, minimum=1)
    workers = count("workers", workers, minimum=1)
    scheduler = number("scheduler_per_task", scheduler_per_task, minimum=0)
    worker = number("worker_per_task", worker_per_task, minimum=0)
    task = total / tasks
    on_workers = math.ceil(tasks / workers) * (task + worker)
    predicted = tasks_seconds(tasks, workers, task, worker, scheduler)
    ideal = total / workers
    return {"tasks": tasks, "task (ms)": task * 1000, "scheduler (s)": tasks * scheduler,
            "workers (s)": on_workers, "predicted (s)": predicted, "ideal (s)": ideal,
            "efficiency": ideal / predicted,
            "bound": "scheduler" if tasks * scheduler > on_workers else "workers"}


def break_even_task_seconds(scheduler_per_task: float, efficiency: float = 0.5,
                            workers: int = 1, worker_per_task: float = 0.0) -> float:
    """The shortest task that still reaches ``efficiency`` on ``workers`` workers. With
    tasks of t seconds the efficiency is min(t / (t + worker), t / (workers · scheduler))
    (from :func:`tasks_seconds`, for tasks a multiple of the workers), so
    t = max(worker · E / (1 − E), E · workers · scheduler): the scheduler must hand out
    ``workers`` tasks in the time one runs, and a task must outlast its own overhead.
    ``efficiency`` in (0, 1), times finite and ≥ 0, ``workers`` an int ≥ 1: else
    ``TypeError``/``ValueError`` naming the argument."""
    scheduler = number("scheduler_per_task", scheduler_per_task, minimum=0)
    efficiency = fraction("efficiency", efficiency, open_low=True, open_high=True)
    workers = count("workers", workers, minimum=1)
    worker = number("worker_per_task", worker_per_task, minimum=0)
    return max(worker * efficiency / (1 - efficiency), efficiency * workers * scheduler)


def fit_overhead(measurements, workers: int) -> float:
    """The scheduler's seconds per task, fitted to measurements of one amount of work cut
    into more and more tasks (a DataFrame with "tasks", "measured (s)" and "ideal (s)" =
    total / workers): the s that minimises Σ (measured − max(⌈k / w⌉ · total / k, k · s))²,
    the model of :func:`overhead_model` with the whole per-task cost on the scheduler
    (measurements at one w cannot tell a worker's share from the scheduler's; Dask's
    scheduler is where it adds up). Returns 0.0 when nothing is slower than the work
    alone. Exact: the sum is a quadratic in s between the points
    where a row becomes scheduler-bound, so each piece's least-squares point is checked.
    Raises ``TypeError`` for measurements that are not such a table, ``ValueError`` for a
    missing column, no rows, or a value that is not finite and > 0 (tasks ≥ 1)."""
    workers = count("workers", workers, minimum=1)
    columns = ("tasks", "measured (s)", "ideal (s)")
    if not hasattr(measurements, "__getitem__") or isinstance(measurements, (str, bytes)):
        raise TypeError(f"measurements must be a DataFrame with the columns "
                        f"{', '.join(columns)}, got {type(measurements).__name__}")
    try:
        k, measured, ideal = (np.asarray(measurements[c], dtype=float) for c in columns)
    except (KeyError, IndexError, TypeError, ValueError):
        raise ValueError(f"measurements must have the columns {', '.join(columns)} of "
                         f"numbers") from None
    if k.size == 0:
        raise ValueError("measurements must hold at least one row")
    if not (np.all(np.isfinite([k, measured, ideal])) and np.all(k >= 1)
            and np.all(measured > 0) and np.all(ideal > 0)):
        raise ValueError("measurements must hold finite times > 0 and task counts ≥ 1")
    compute = np.ceil(k / workers) * ideal * workers / k     # ⌈k/w⌉ · total / k
    knees = np.sort(compute / k)                        # s above which a row is scheduler-bound

    def error(s: float) -> float:
        return float(np.sum((measured - np.maximum(compute, k * s)) ** 2))

    candidates = [0.0, *knees]
    for low in candidates[:]:
        bound = compute / k <= low                      # rows scheduler-bound just above low
        if bound.any():
            candidates.append(max(low, (k[bound] @ measured[bound]) / (k[bound] @ k[bound])))
    return float(min(candidates, key=error))
