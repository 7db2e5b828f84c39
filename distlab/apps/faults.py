"""Fault tolerance and high availability, live: kill a Dask worker and watch what Dask does.

The document (2.1) claims a distributed system keeps working when a node fails
(容错性) and that no single node's failure brings it down (高可用性). On Dask both
happen through two mechanisms, which this module makes visible:

- **Lineage.** The scheduler remembers how every result was computed. When a worker dies,
  results that lived only there are recomputed from their inputs elsewhere ("Removing
  worker … caused the cluster to lose already computed task(s), which will be recomputed
  elsewhere"). ``run_pipeline`` runs a chain of steps per worker, kills one worker at a
  seeded point (``fault_schedule``), and reads the scheduler's own records — its
  ``remove-worker`` event and its transition log (``client.story``) — to count what was
  lost and what was recomputed. The final answer equals the fault-free run.
- **Replication.** Data scattered from the client has no lineage: if its only copy is
  lost, it is gone. A result held by two workers survives losing one of them without any
  recomputation. ``replication_demo`` shows all four cases with one kill.
- **Both at once**, on chapter 00's map-reduce: ``survive_worker_loss`` kills a worker
  between the map and the gather; the estimate of π is the fault-free one.

Killing: :func:`distlab.engines.workers.kill_worker` (re-exported here) SIGKILLs the
worker process from a timer, as a crash would, so the call itself returns cleanly; the
worker's Nanny notices and starts a fresh worker process, on the embedded
``LocalCluster`` and on ``dask worker`` processes alike. It returns once the scheduler has
dropped the old worker and the cluster is back to its size.

Everything printed is deterministic: counts and equalities, never addresses or timings.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from distlab.checks import count, flag
from distlab.concepts.darts import MAX_DARTS, darts_in_circle, estimate_pi
from distlab.engines.workers import (check_client, kill_worker, submit_on, wait_for_workers,
                                     worker_addresses)

__all__ = ["MAX_STEPS", "MAX_SIZE", "MAX_TASKS", "fault_schedule", "FaultSchedule",
           "run_pipeline", "PipelineReport", "kill_worker", "replication_demo",
           "survive_worker_loss"]

#: Bounds on the work of one demonstration: steps of the pipeline, numbers drawn by each
#: step (80 MB of float64), and map tasks of :func:`survive_worker_loss`.
MAX_STEPS = 100
MAX_SIZE = 10**7
MAX_TASKS = 10_000


# -- the work ----------------------------------------------------------------------------
def _shard_step(state: float, shard: int, step: int, size: int = 300_000) -> float:
    """One step of one shard's work: a seeded, CPU-bound update of a running state.

    Seeded by (shard, step), so recomputing it anywhere gives the same number."""
    x = np.random.default_rng([shard, step]).standard_normal(size)
    return 0.5 * state + float(np.sqrt(np.mean(x * x)))


def _pipeline_local(shards: int, steps: int, size: int = 300_000) -> float:
    """The fault-free answer, computed here in one process: the sum of every shard's
    final state."""
    total = 0.0
    for shard in range(shards):
        state = 0.0
        for step in range(steps):
            state = _shard_step(state, shard, step, size)
        total += state
    return total


@dataclass(frozen=True)
class FaultSchedule:
    """Kill worker number ``victim`` (in sorted order) right after step ``after_step``."""
    after_step: int
    victim: int

    def __str__(self) -> str:
        return f"kill worker #{self.victim} after step {self.after_step}"


def fault_schedule(seed: int, steps: int, workers: int) -> FaultSchedule:
    """A seeded fault schedule: which worker dies, and after which step (never the last,
    so there is work left to do when it dies). ``seed`` an int ≥ 0, ``steps`` and
    ``workers`` ints ≥ 2; ``TypeError``/``ValueError`` naming the argument otherwise."""
    for value, name in ((seed, "seed"), (steps, "steps"), (workers, "workers")):
        count(name, value)
    if steps < 2:
        raise ValueError(f"steps must be at least 2 to kill a worker in the middle, got {steps}")
    if workers < 2:
        raise ValueError(f"workers must be at least 2 to survive losing one, got {workers}")
    rng = np.random.default_rng(seed)
    return FaultSchedule(after_step=int(rng.integers(0, steps - 1)),
                         victim=int(rng.integers(0, workers)))


# -- what the scheduler recorded ---------------------------------------------------------
def _times_computed(client, futures) -> list[int]:
    """How many times the scheduler moved each future's task to memory, from its own
    transition log: 1 = computed once, 2 = lost and recomputed once."""
    keys = [f.key for f in futures]
    counts: Counter = Counter()
    for record in client.story(*keys):
        if record[0] == "scheduler" and len(record) >= 4 and record[3] == "memory":
            counts[record[1]] += 1
    return [counts[k] for k in keys]


def _removal_event(client, address: str) -> dict:
    """The scheduler's ``remove-worker`` event for ``address`` (from its event log)."""
    for _, event in reversed(client.get_events(address)):
        if isinstance(event, dict) and event.get("action") == "remove-worker":
            return event
    raise RuntimeError(f"the scheduler recorded no remove-worker event for the killed worker")


# -- fault tolerance: a pipeline that loses a worker -------------------------------------------
@dataclass(frozen=True)
class PipelineReport:
    schedule: FaultSchedule | None
    shards: int
    steps: int
    result: float
    expected: float
    lost: int                  # results the scheduler lost with the worker
    running: int               # tasks that were running there when it died
    recomputed: int            # tasks the transition log shows computed twice
    computed_once: int
    workers_after: int

    @property
    def same_as_fault_free(self) -> bool:
        return self.result == self.expected

    def lines(self) -> list[str]:
        total = self.shards * self.steps
        out = [f"{self.shards} shards × {self.steps} steps = {total} tasks"]
        if self.schedule is None:
            out.append("no fault injected")
        else:
            out += [f"fault schedule: {self.schedule}",
                    f"scheduler's remove-worker event: {self.lost} results lost, "
                    f"{self.running} tasks running there",
                    f"scheduler's transition log: {self.recomputed} tasks computed twice, "
                    f"{self.computed_once} once",
                    f"workers after the Nanny restarted it: {self.workers_after}"]
        out.append(f"result equals the fault-free run: {self.same_as_fault_free}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def run_pipeline(client, steps: int = 6, seed: int | None = 0, size: int = 300_000) -> PipelineReport:
    """Run one chain of ``steps`` seeded, CPU-bound steps per worker, step by step; with a
    ``seed``, kill a worker as ``fault_schedule(seed, …)`` says (``seed=None``: no fault).

    Each shard's tasks are placed on "its" worker (a loose restriction, so Dask may move
    them when that worker is gone) and all results are kept, so exactly the results of the
    dead worker's shard are lost — steps 0 … after_step — and recomputed from lineage.

    ``steps`` an int in [1, :data:`MAX_STEPS`] (≥ 2 with a fault), ``seed`` None or an
    int ≥ 0, ``size`` an int in [1, :data:`MAX_SIZE`]. Raises ``TypeError``/``ValueError``
    naming the argument (a closed or missing client included), ``RuntimeError`` on a
    cluster of fewer than 2 workers when a fault is asked for.
    """
    from distributed import wait

    check_client(client)
    steps = count("steps", steps, minimum=1, maximum=MAX_STEPS)
    if seed is not None:
        count("seed", seed)
    size = count("size", size, minimum=1, maximum=MAX_SIZE)
    workers = worker_addresses(client)
    if len(workers) < 2 and seed is not None:
        raise RuntimeError("killing a worker needs a cluster of at least 2 workers")
    schedule = None if seed is None else fault_schedule(seed, steps, len(workers))
    shards = len(workers)
    expected = _pipeline_local(shards, steps, size)

    history: list = []                         # every step's futures, kept alive
    states = [0.0] * shards
    victim = None
    for step in range(steps):
        states = [submit_on(client, _shard_step, states[s], s, step, size, worker=workers[s])
                  for s in range(shards)]
        history.extend(states)
        wait(states)
        if schedule is not None and step == schedule.after_step:
            victim = workers[schedule.victim]
            kill_worker(client, victim)
            workers = worker_addresses(client)
    result = float(sum(client.gather(states)))

    lost = running = recomputed = 0
    if victim is not None:
        event = _removal_event(client, victim)
        ours = {f.key for f in history}
        lost = len(set(event.get("lost-computed-tasks", ())) & ours)
        running = len(set(event.get("processing-tasks", ())) & ours)
    counts = _times_computed(client, history)
    recomputed = sum(c >= 2 for c in counts)
    return PipelineReport(schedule, shards, steps, result, expected, lost, running,
                          recomputed, sum(c == 1 for c in counts), len(worker_addresses(client)))


# -- high availability: replicas survive, single copies do not ---------------------------------
def _payload(seed: int) -> float:
    return float(np.random.default_rng(seed).random(100_000).sum())


def replication_demo(client) -> "pd.DataFrame":
    """Put four things on worker #0 — a computed result copied to a second worker
    (``client.replicate``), a computed result with one copy, data scattered to every
    worker (``broadcast=True``), data scattered to worker #0 only — kill worker #0 and
    report, for each, the copies before, whether it survived, and whether Dask had to
    recompute it. Returns a DataFrame with one row per case.

    Dask's Active Memory Manager, which would soon remove the extra copies to save
    memory, is paused for the demo and restarted afterwards (if it was running). Raises
    ``TypeError``/``ValueError`` for a missing or closed client, ``RuntimeError`` on a
    cluster of fewer than 2 workers."""
    workers = worker_addresses(client, at_least=2)      # one to lose, one to keep a copy
    home = workers[0]
    # Dask's Active Memory Manager drops extra copies every 2 s (its ReduceReplicas
    # policy saves memory); pause it so the copies we ask for stay until the kill.
    amm_was_running = client.amm.running()
    client.amm.stop()
    try:
        return _replicate_and_kill(client, home)
    finally:
        if amm_was_running:
            client.amm.start()


def _replicate_and_kill(client, home: str):
    import pandas as pd
    from distributed import wait
    from distlab.engines.dask_private import future_cancelled_error

    replicated = submit_on(client, _payload, 1, worker=home)
    single = submit_on(client, _payload, 2, worker=home)
    wait([replicated, single])
    client.replicate([replicated], n=2)
    values = {"computed, replicated to 2 workers": (replicated, _payload(1)),
              "computed, 1 copy": (single, _payload(2)),
              "scattered to every worker": (client.scatter(np.arange(1000), broadcast=True),
                                            np.arange(1000)),
              "scattered to 1 worker": (client.scatter(np.arange(1000) * 2, workers=[home]),
                                        np.arange(1000) * 2)}
    who = client.who_has([f for f, _ in values.values()])
    copies = {name: len(who[f.key]) for name, (f, _) in values.items()}

    kill_worker(client, home)

    rows = []
    for name, (future, expected) in values.items():
        try:
            value = future.result(timeout=30)
            survived = bool(np.all(value == expected))
        except (future_cancelled_error(), TimeoutError):   # forgotten: no copy, no lineage
            survived = False
        computed = _times_computed(client, [future])[0] if name.startswith("computed") else 0
        rows.append({"what": name, "copies before": copies[name],
                     "available after losing worker #0": survived,
                     "recomputed by Dask": computed >= 2})
    return pd.DataFrame(rows).set_index("what")


# -- both at once: a map-reduce that loses a worker ---------------------------------------------
def survive_worker_loss(client, tasks: int = 16, darts: int = 500_000, *,
                        progress: bool = False) -> dict:
    """A map-reduce (π by darts, chapter 00) with a worker killed after the map finished
    and before the results are gathered: the results it held are lost, and Dask
    recomputes them from the task graph on a live worker.

    Returns ``{"pi": the estimate, "identical to the fault-free run": whether the counts
    equal those computed here in one process, "results lost with the worker": how many,
    "workers afterwards": the cluster's size once the Nanny has restarted the killed
    one}``. ``tasks`` an int in [1, :data:`MAX_TASKS`], ``darts`` an int in [1,
    :data:`~distlab.concepts.darts.MAX_DARTS`], ``progress`` a bool. Raises
    ``TypeError``/``ValueError`` naming the argument (a closed or missing client
    included) and ``RuntimeError`` on a cluster of fewer than 2 workers (one to lose)."""
    from distributed import wait

    check_client(client)
    tasks = count("tasks", tasks, minimum=1, maximum=MAX_TASKS)
    darts = count("darts", darts, minimum=1, maximum=MAX_DARTS)
    flag("progress", progress)
    before = len(worker_addresses(client, at_least=2))
    futures = client.map(darts_in_circle, range(tasks), darts=darts, pure=False)
    if progress:
        from distlab.engines.progress import progress as bar
        bar(futures)
    wait(futures)
    holders = client.who_has(futures)
    victim = sorted(holders[futures[0].key])[0]
    lost = sum(1 for f in futures if set(holders.get(f.key, ())) == {victim})
    kill_worker(client, victim, wait_for_replacement=False)
    counts = client.gather(futures)                  # lost results are recomputed
    expected = [darts_in_circle(i, darts) for i in range(tasks)]
    wait_for_workers(client, before)
    return {"pi": estimate_pi(counts, darts), "identical to the fault-free run":
            counts == expected, "results lost with the worker": lost,
            "workers afterwards": len(worker_addresses(client))}
