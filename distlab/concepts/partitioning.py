"""Algorithm parallelisation: task partitioning, load balancing, communication overhead.

The document (2.3) names three concerns; each gets its naive version first, then the
better one, as pure functions (simulated for any number of workers). Running the same
schedules and task counts on the Dask cluster is :mod:`distlab.apps.schedules`.

- **Task partitioning.** ``partition_even`` cuts a list of tasks into parts of equal
  *count* (what ``np.array_split`` does); ``partition_cost_aware`` cuts it into
  contiguous parts of nearly equal *cost*, minimising the largest part (the "linear
  partition" problem, solved exactly by binary search on the answer with a greedy check).
- **Load balancing.** ``simulate_schedule`` runs tasks of known durations on p workers:
  ``"round_robin"`` deals task i to worker i mod p up front (static); ``"longest_first"``
  sorts the tasks, longest first, and gives each to the least-loaded worker up front —
  Graham's LPT rule, never worse than 4/3 of the optimum (R. Graham, "Bounds on
  Multiprocessing Timing Anomalies", SIAM J. Appl. Math. 1969); ``"dynamic"`` keeps the
  tasks in a queue and hands the next one to whichever worker becomes free (Graham's list
  scheduling, within 2 − 1/p of the optimum). Dask's scheduler behaves like ``"dynamic"``:
  it holds ready tasks back and gives them to workers as they free up ("queuing"), and
  idle workers steal queued work from busy ones (work stealing,
  https://distributed.dask.org/en/stable/work-stealing.html).
- **Communication overhead.** Every task also costs the scheduler and its worker some
  time: :mod:`distlab.concepts.task_overhead` models it (its names are imported here, so
  ``partitioning.overhead_model`` keeps working); ``simulate_schedule`` with ``overhead``
  (the worker's share) and ``scheduler`` (the scheduler's, serial) runs it task by task.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from distlab.checks import choice, count, number, sequence
from distlab.concepts.task_overhead import (break_even_task_seconds, fit_overhead,
                                            overhead_model, tasks_seconds)

__all__ = ["partition_even", "partition_cost_aware", "part_costs", "STRATEGIES", "Schedule",
           "simulate_schedule", "lower_bound", "skewed_durations", "alternating_durations",
           "tasks_seconds", "overhead_model", "break_even_task_seconds", "fit_overhead"]

STRATEGIES = ("round_robin", "longest_first", "dynamic")
#: The most tasks a list of durations may hold, and the most workers a schedule runs on:
#: simulated task by task, 10⁶ tasks take a few seconds.
MAX_TASKS = 10**6
MAX_WORKERS = 100_000


def as_costs(costs, name: str = "costs") -> list[float]:
    """``costs`` (task costs or durations) as a new list of floats; raises ``TypeError``
    for a string, a non-iterable or a cost that is not a number, ``ValueError`` for an
    empty list, more than :data:`MAX_TASKS` or a cost that is negative, infinite or NaN."""
    if isinstance(costs, (str, bytes)) or not hasattr(costs, "__iter__"):
        raise TypeError(f"{name} must be a list of non-negative numbers, "
                        f"got {type(costs).__name__}")
    values = list(costs)
    if not values:
        raise ValueError(f"{name} must hold at least one task, got an empty list")
    if len(values) > MAX_TASKS:
        raise ValueError(f"{name} must hold at most {MAX_TASKS:,} tasks (the limit of this "
                         f"function), got {len(values):,}")
    return [number(f"{name}[{i}]", c, minimum=0) for i, c in enumerate(values)]


# -- task partitioning ---------------------------------------------------------------------
def partition_even(costs, parts: int) -> list[list[int]]:
    """Naive: contiguous parts with equal numbers of tasks (sizes differ by at most one).
    Returns the task indices of each part. ``costs`` as :func:`as_costs`, ``parts`` an int
    in [1, len(costs)]; ``TypeError``/``ValueError`` naming the argument otherwise."""
    n = len(as_costs(costs))
    parts = count("parts", parts, minimum=1)
    if parts > n:
        raise ValueError(f"parts must be at most the number of tasks ({n}), got {parts}")
    return [[int(i) for i in chunk] for chunk in np.array_split(np.arange(n), parts)]


def partition_cost_aware(costs, parts: int) -> list[list[int]]:
    """Better: contiguous parts whose largest total cost is as small as possible.

    Binary search on the largest part's cost; for a candidate, a greedy left-to-right cut
    tells whether ``parts`` parts suffice. Exact over contiguous partitions. Every part
    gets at least one task. Arguments and errors as :func:`partition_even`.
    """
    values = as_costs(costs)
    n = len(values)
    parts = count("parts", parts, minimum=1)
    if parts > n:
        raise ValueError(f"parts must be at most the number of tasks ({n}), got {parts}")

    def cuts_needed(limit: float) -> int:
        count, running = 1, 0.0
        for c in values:
            if running + c > limit:
                count, running = count + 1, c
            else:
                running += c
        return count

    # The answer is a sum of consecutive costs: search over those candidates exactly
    # (O(n²) of them — fine for the hundreds of tasks a chapter partitions).
    eps = 1e-9 * max(1.0, sum(values))
    prefix = np.concatenate([[0.0], np.cumsum(values)])
    candidates = np.unique((prefix[None, :] - prefix[:, None])[np.triu_indices(n + 1, 1)])
    candidates = candidates[candidates >= max(values) - eps]
    lo, hi = 0, len(candidates) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cuts_needed(candidates[mid] + eps) <= parts:
            hi = mid
        else:
            lo = mid + 1
    limit = candidates[lo] + eps
    result, current, running = [], [], 0.0
    for i, c in enumerate(values):
        # Cut when the part would overflow, or when the tasks left are just enough to
        # give every remaining part one task.
        remaining_parts = parts - len(result) - 1
        if current and (running + c > limit or n - i == remaining_parts):
            result.append(current)
            current, running = [], 0.0
        current.append(i)
        running += c
    result.append(current)
    return result


def part_costs(costs, partition) -> list[float]:
    """Total cost of each part of ``partition`` (lists of task indices into ``costs``).
    ``TypeError`` for a partition that is not a list of lists of ints, ``ValueError`` for
    an empty one or an index outside the tasks; ``costs`` as :func:`as_costs`."""
    values = as_costs(costs)
    parts = [_indices(f"partition[{k}]", part, len(values))
             for k, part in enumerate(sequence("partition", partition))]
    if not parts:
        raise ValueError("partition must hold at least one part")
    return [float(sum(values[i] for i in part)) for part in parts]


def _indices(name: str, indices, n: int) -> list[int]:
    """``indices`` as a list of task indices in [0, n)."""
    return [count(f"{name}[{j}]", i, maximum=n - 1, limit="the last task")
            for j, i in enumerate(sequence(name, indices))]


# -- load balancing ------------------------------------------------------------------------
@dataclass(frozen=True)
class Schedule:
    """Where and when each task ran. ``worker[i]``, ``start[i]``, ``end[i]`` per task;
    ``makespan`` is when the last worker finishes; ``idle`` the workers' total waiting time
    before the makespan; ``efficiency`` = useful work ÷ (workers × makespan)."""
    strategy: str
    workers: int
    worker: tuple[int, ...]
    start: tuple[float, ...]
    end: tuple[float, ...]

    @property
    def makespan(self) -> float:
        return max(self.end)

    @property
    def busy(self) -> list[float]:
        loads = [0.0] * self.workers
        for w, s, e in zip(self.worker, self.start, self.end):
            loads[w] += e - s
        return loads

    @property
    def idle(self) -> float:
        return self.workers * self.makespan - sum(self.busy)

    @property
    def efficiency(self) -> float:
        return sum(self.busy) / (self.workers * self.makespan) if self.makespan else 1.0


def lower_bound(durations, workers: int) -> float:
    """No schedule beats max(longest task, total work ÷ workers). ``durations`` as
    :func:`as_costs`, ``workers`` an int ≥ 1; ``TypeError``/``ValueError`` otherwise."""
    values = as_costs(durations, "durations")
    workers = count("workers", workers, minimum=1)
    return max(max(values), sum(values) / workers)


def _assign(values: list[float], workers: int, strategy: str) -> list[list[int]]:
    """Each worker's task queue, in the order it runs them."""
    queues: list[list[int]] = [[] for _ in range(workers)]
    if strategy == "round_robin":
        for i in range(len(values)):
            queues[i % workers].append(i)
    elif strategy == "longest_first":
        loads = [(0.0, w) for w in range(workers)]
        for i in sorted(range(len(values)), key=lambda i: (-values[i], i)):
            load, w = heapq.heappop(loads)
            queues[w].append(i)
            heapq.heappush(loads, (load + values[i], w))
    return queues


def simulate_schedule(durations, workers: int, strategy: str = "dynamic",
                      overhead: float = 0.0, scheduler: float = 0.0) -> Schedule:
    """Run tasks of the given ``durations`` on ``workers`` workers with ``strategy``
    (one of ``STRATEGIES``); each task also costs ``overhead`` seconds of its worker's
    time, and ``scheduler`` seconds of the one scheduler's, which hands the tasks out one
    after another in the given order: task i can start no earlier than (i + 1) ·
    ``scheduler``.

    ``"dynamic"`` hands tasks out in the given order to whichever worker is free first
    (ties: the lowest-numbered worker), like Dask; the two static strategies fix each
    worker's queue before anything runs.

    ``durations`` as :func:`as_costs`, ``workers`` an int in [1, :data:`MAX_WORKERS`],
    ``overhead`` and ``scheduler`` finite numbers ≥ 0; ``TypeError``/``ValueError``
    naming the argument otherwise.
    """
    values = as_costs(durations, "durations")
    workers = count("workers", workers, minimum=1, maximum=MAX_WORKERS)
    choice("strategy", strategy, STRATEGIES)
    overhead = number("overhead", overhead, minimum=0)
    scheduler = number("scheduler", scheduler, minimum=0)
    n = len(values)
    worker, start, end = [0] * n, [0.0] * n, [0.0] * n
    if strategy == "dynamic":
        free = [(0.0, w) for w in range(workers)]
        for i, d in enumerate(values):
            t, w = heapq.heappop(free)
            worker[i], start[i] = w, max(t, (i + 1) * scheduler)
            end[i] = start[i] + overhead + d
            heapq.heappush(free, (end[i], w))
    else:
        for w, queue in enumerate(_assign(values, workers, strategy)):
            t = 0.0
            for i in queue:
                worker[i], start[i] = w, max(t, (i + 1) * scheduler)
                end[i] = t = start[i] + overhead + values[i]
    return Schedule(strategy, workers, tuple(worker), tuple(start), tuple(end))


def skewed_durations(n: int, seed: int = 0, mean: float = 0.05, shape: float = 1.5) -> list[float]:
    """``n`` seeded task durations (seconds) with a heavy tail: a few tasks are much
    longer than the rest (Pareto with the given ``shape``), scaled to average ``mean``,
    rounded to 0.1 ms so they print exactly. ``n`` an int in [1, :data:`MAX_TASKS`],
    ``seed`` an int ≥ 0, ``mean`` ≥ 0, ``shape`` > 1; ``TypeError``/``ValueError`` else."""
    n = count("n", n, minimum=1, maximum=MAX_TASKS)
    count("seed", seed)
    mean = number("mean", mean, minimum=0)
    number("shape", shape, minimum=1, strict=True)   # > 1, so that the mean exists
    raw = np.random.default_rng(seed).pareto(shape, n) + 1.0
    scaled = raw / raw.mean() * mean
    return [round(float(x), 4) for x in scaled]


def alternating_durations(tasks: int = 8, long: float = 0.2, short: float = 0.02) -> list[float]:
    """Task durations (s) where every other task is long: the case that breaks
    round-robin placement (on two workers, all the long ones land on one). ``tasks`` an
    int in [1, :data:`MAX_TASKS`], ``long`` and ``short`` > 0; ``TypeError``/``ValueError``
    naming the argument otherwise."""
    tasks = count("tasks", tasks, minimum=1, maximum=MAX_TASKS)
    long = number("long", long, minimum=0, strict=True)
    short = number("short", short, minimum=0, strict=True)
    return [long if i % 2 == 0 else short for i in range(tasks)]
