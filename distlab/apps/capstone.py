"""The capstone: train the digits to a target accuracy within a byte budget, while a worker dies.

The task is data (:class:`CapstoneTask`, :data:`TASK`): reach ``target_accuracy`` on the
held-out digits with ``nodes`` data-parallel nodes, no node sending the others more than
``byte_budget`` bytes, on a cluster that loses a worker (``SIGKILL``, the worker chosen by
the seed) in the round in which the nodes pass SGD step ``kill_step``. The learner answers
with a plan (:class:`CapstonePlan`): a strategy of :mod:`distlab.apps.training`, its rounds,
H, learning rate, batch, all-reduce algorithm and how often to checkpoint.
:func:`run_capstone` runs the plan on the cluster with the kill injected and returns a
:class:`CapstoneReport`: the test accuracy, the bytes each node sent, the rounds, whether
the run survived, and the verdict with its reasons. A plan that passes, and the checker
of exercise ``11.capstone``, are in :mod:`distlab.apps.capstone_exercise`.

    client = distlab.connect()
    plan = CapstonePlan("local", rounds=3, local_steps=32, algorithm="ring", checkpoint_every=1)
    print(run_capstone(client, plan))            # the report; .passed, .verdict

Why not ``training.train(..., kill_at=...)``: its history has the bytes of the rounds it
kept, from the all-reduce's plan. The task counts every message the direct engine sent
(``AllreduceResult.bytes_counted``), rounds lost with the worker and run again included,
so it judges the strategies whose traffic is an all-reduce ("sync", "local"); and a plan
may keep no checkpoint, in which case the run dies with the worker.

May import what :mod:`distlab.apps` may: engines, concepts, checks, numpy, dask, distributed.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from distlab import checks
from distlab.apps.training import DEFAULT_ROUNDS, TrainingConfig, accuracy, load_split
from distlab.apps.training.driver import STRATEGY_CLASSES
from distlab.apps.training.nodes import Placement
from distlab.engines.allreduce import EXACT_ALGORITHMS
from distlab.engines.progress import StepsBar
from distlab.engines.workers import (check_client, kill_worker, wait_for_workers,
                                     worker_addresses)

#: The strategies whose every byte goes through the all-reduce engine, which counts it.
COUNTED_STRATEGIES = ("sync", "local")
#: The longest plan judged, in SGD steps per node (a check stays well under a minute).
MAX_STEPS, MAX_ROUNDS = 2_000, 200


@dataclass(frozen=True)
class CapstoneTask:
    """What the run must achieve, on ``nodes`` data-parallel nodes (one shard each); the
    kill comes once the round in which the nodes reach SGD step ``kill_step`` is done,
    before its result is kept. Raises ``TypeError``/``ValueError`` naming a bad field."""
    target_accuracy: float = 0.96  # on the held-out digits, 0 … 1
    byte_budget: int = 32_000      # bytes any one node may send, counted by the engine
    kill_step: int = 40            # SGD steps per node before the worker dies
    nodes: int = 4
    seed: int = 0                  # the split, the mini-batches and which worker dies

    def __post_init__(self):
        for name, value in (
                ("target_accuracy", checks.fraction("target_accuracy", self.target_accuracy,
                                                    open_low=True)),
                ("byte_budget", checks.count("byte_budget", self.byte_budget, minimum=1)),
                ("kill_step", checks.count("kill_step", self.kill_step, minimum=1)),
                ("nodes", checks.count("nodes", self.nodes, minimum=2, maximum=64)),
                ("seed", checks.count("seed", self.seed, minimum=0))):
            object.__setattr__(self, name, value)


#: The capstone of the book: 96 % on the digits, 32,000 bytes a node, a worker lost at step 40.
TASK = CapstoneTask()


@dataclass(frozen=True)
class CapstonePlan:
    """How to train: ``strategy`` ("sync": an all-reduce of the gradients every step;
    "local": H = ``local_steps`` steps alone, then an all-reduce of the parameters),
    ``rounds`` (all-reduces; ``None``: training's default for the strategy), ``lr``,
    ``batch`` (rows per node per step), ``algorithm`` (an exact all-reduce) and
    ``checkpoint_every`` (rounds between the copies of the model the client keeps;
    ``None``: no checkpoint, so no restart). Raises ``TypeError``/``ValueError`` naming
    a bad field (a run longer than :data:`MAX_ROUNDS` rounds or :data:`MAX_STEPS` steps
    too)."""
    strategy: str = "sync"
    rounds: int | None = None
    local_steps: int = 16
    lr: float = 2.0
    batch: int = 64
    algorithm: str = "recursive_doubling"
    checkpoint_every: int | None = 5

    def __post_init__(self):
        if not isinstance(self.strategy, str) or self.strategy not in COUNTED_STRATEGIES:
            raise ValueError(f"strategy must be 'sync' or 'local', the strategies whose "
                             f"bytes the all-reduce engine counts; got {self.strategy!r}")
        rounds = DEFAULT_ROUNDS[self.strategy] if self.rounds is None else self.rounds
        fields = dict(
            rounds=checks.count("rounds", rounds, minimum=1, maximum=MAX_ROUNDS),
            local_steps=checks.count("local_steps", self.local_steps, minimum=1),
            lr=checks.positive("lr", self.lr),
            batch=checks.count("batch", self.batch, minimum=1),
            algorithm=checks.choice("algorithm", self.algorithm, EXACT_ALGORITHMS),
            checkpoint_every=None if self.checkpoint_every is None else checks.count(
                "checkpoint_every", self.checkpoint_every, minimum=1))
        for name, value in fields.items():
            object.__setattr__(self, name, value)
        if self.rounds * self.steps_per_round > MAX_STEPS:
            raise ValueError(f"rounds × local_steps must be ≤ {MAX_STEPS:,} SGD steps per "
                             f"node (a check must stay short), got {self.rounds} × "
                             f"{self.steps_per_round}")

    @property
    def steps_per_round(self) -> int:
        return self.local_steps if self.strategy == "local" else 1

    def __str__(self) -> str:
        every = {None: "no checkpoint", 1: "a checkpoint every round"}.get(
            self.checkpoint_every, f"a checkpoint every {self.checkpoint_every} rounds")
        h = f" × H = {self.local_steps}" if self.strategy == "local" else ""
        return (f"{self.strategy}, {self.rounds} rounds{h}, lr {self.lr}, batch "
                f"{self.batch}, {self.algorithm}, {every}")


@dataclass(frozen=True)
class CapstoneReport:
    """What a run achieved. ``accuracy``: test accuracy of the model the client holds at
    the end (the finished model; for a lost run, its last checkpoint); ``bytes_sent``:
    the bytes each node sent, as counted by the engine (rounds run again included), one
    int per node; ``rounds``: rounds kept, ``rounds_run``: rounds run in all (those
    abandoned with the worker included); ``kill_round``: the round
    after which the worker died (``None``: the run ended first); ``killed_worker``: its
    index among the sorted workers; ``restarts``; ``finished``: all rounds done;
    ``survived``: a worker died and the run finished anyway; ``seconds``: wall time;
    ``reasons``: why it fails (empty: it passes)."""
    task: CapstoneTask
    plan: CapstonePlan
    accuracy: float
    bytes_sent: tuple[int, ...]
    rounds: int
    rounds_run: int
    kill_round: int | None
    killed_worker: int | None
    restarts: int
    finished: bool
    survived: bool
    seconds: float = field(compare=False)
    reasons: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.reasons

    @property
    def verdict(self) -> str:
        if self.reasons:
            return "FAIL: " + "; ".join(self.reasons)
        return (f"PASS: {self.accuracy:.2%} ≥ {self.task.target_accuracy:.2%}, "
                f"{max(self.bytes_sent):,} ≤ {self.task.byte_budget:,} bytes per node, "
                f"survived the kill after round {self.kill_round}")

    def __str__(self) -> str:
        again = self.rounds_run - self.rounds
        again = f"{again} run again" if self.finished else f"{again} lost"
        kill = ("none: the run ended first" if self.kill_round is None else
                f"worker {self.killed_worker} after round {self.kill_round}; "
                f"restarts from a checkpoint: {self.restarts}")
        return "\n".join([
            f"plan      {self.plan}",
            f"accuracy  {self.accuracy:.2%} (target {self.task.target_accuracy:.2%})",
            f"bytes     {max(self.bytes_sent):,} sent by the busiest node (budget "
            f"{self.task.byte_budget:,}); per node: "
            f"{', '.join(f'{b:,}' for b in self.bytes_sent)}",
            f"rounds    {self.rounds} of {self.plan.rounds} kept, {self.rounds_run} run "
            f"({again})",
            f"kill      {kill}",
            f"survived  {'yes' if self.survived else 'no'}",
            f"verdict   {self.verdict}"])


@dataclass(frozen=True)
class _CountingPlacement(Placement):
    """The nodes on the cluster, keeping what each all-reduce's engine counted."""
    counted: list = field(default_factory=list)

    def average(self, futures, algorithm):
        result = super().average(futures, algorithm)
        self.counted.append(result.bytes_counted)
        return result


def run_capstone(client, plan: CapstonePlan, task: CapstoneTask = TASK, *,
                 progress: bool = False) -> CapstoneReport:
    """Run ``plan`` on the cluster of ``client`` for ``task``, a worker killed after the
    round in which the nodes reach step ``task.kill_step`` (once), and judge it.

    Rounds run in segments of ``plan.checkpoint_every``; at a segment's end the client
    keeps the model (the checkpoint). The kill abandons the segment it falls in: with a
    checkpoint, training restarts from it on the live workers (every mini-batch is a
    pure function of seed, node and step, so the rounds redone are the same rounds);
    without one the run is lost. Afterwards the cluster is given back its size (the
    killed worker's Nanny restarts it). ``progress`` draws a bar of the rounds kept.

    Raises ``TypeError`` for a client that is not a ``distributed.Client`` or a plan or
    task of the wrong type, ``ValueError`` for a batch larger than a node's shard.
    """
    check_client(client)
    if not isinstance(plan, CapstonePlan):
        raise TypeError(f"plan must be a CapstonePlan, got {type(plan).__name__}")
    if not isinstance(task, CapstoneTask):
        raise TypeError(f"task must be a CapstoneTask, got {type(task).__name__}")
    X, y, X_test, y_test = load_split(task.seed)
    checks.count("batch", plan.batch, maximum=len(y) // task.nodes,
                 limit="the rows of a node's shard")
    runner = STRATEGY_CLASSES[plan.strategy](TrainingConfig(
        nodes=task.nodes, lr=plan.lr, batch=plan.batch, local_steps=plan.local_steps,
        algorithm=plan.algorithm, seed=task.seed))
    kill_round = -(-task.kill_step // plan.steps_per_round)   # the round reaching kill_step
    bar = StepsBar("capstone", plan.rounds) if progress else None
    start, n_workers = time.perf_counter(), len(worker_addresses(client))
    state, sent, kept, run, restarts, killed = _train(client, runner, plan, task, kill_round,
                                                      bar)
    if killed is not None:
        try:                                     # leave the cluster as we found it ...
            wait_for_workers(client, n_workers)
        except TimeoutError:
            pass                                 # ... or report what we can
    score = accuracy(runner.model(state)[0], X_test, y_test)
    finished = kept == plan.rounds
    return CapstoneReport(
        task, plan, score, tuple(int(b) for b in sent), kept, run,
        None if killed is None else kill_round, killed, restarts, finished,
        finished and killed is not None, time.perf_counter() - start,
        _reasons(task, plan, score, sent, killed is not None, finished))


def _train(client, runner, plan, task, kill_round, bar):
    """The rounds, in segments of ``plan.checkpoint_every``, the worker killed after
    ``kill_round``: (the model the client holds, bytes per node, rounds kept, rounds
    run, restarts, the killed worker's index or ``None``)."""
    from distributed import wait

    sent = np.zeros(task.nodes, dtype=np.int64)
    state, kept, run, restarts, killed = runner.initial(), 0, 0, 0, None
    while kept < plan.rounds:
        nodes = _CountingPlacement.on(client, worker_addresses(client), runner.config)
        futures = runner.place(nodes, state)
        end = min(kept + (plan.checkpoint_every or plan.rounds), plan.rounds)
        abandoned = False
        for k in range(kept + 1, end + 1):
            futures = runner.round(nodes, futures, k).futures
            run += 1
            if k == kill_round and killed is None:
                wait(futures)                    # round k is done; now a worker dies
                killed = _kill_seeded(client, task.seed)
                abandoned = True
                break
        sent += sum(nodes.counted, np.zeros(task.nodes, dtype=np.int64))
        if not abandoned:                        # the checkpoint (or the final model)
            state, kept = np.asarray(client.gather(runner.snapshot(nodes, futures))), end
            if bar is not None:
                bar.update(kept)
        elif plan.checkpoint_every is None:
            break                                # nothing to restart from: the run is lost
        else:
            restarts += 1                        # back to the last checkpoint
        del futures
    return state, sent, kept, run, restarts, killed


#: The stream of the task's seed that picks the worker to kill.
_KILL_STREAM = 11


def _kill_seeded(client, seed: int) -> int:
    """SIGKILL one worker, chosen by ``seed`` among the sorted workers; its index."""
    workers = worker_addresses(client)
    index = int(np.random.default_rng([seed, _KILL_STREAM]).integers(len(workers)))
    kill_worker(client, workers[index], wait_for_replacement=False)
    return index


def _reasons(task, plan, score, sent, killed, finished) -> tuple[str, ...]:
    reasons = []
    if not killed:
        reasons.append(f"the run ended at step {plan.rounds * plan.steps_per_round}, before "
                       f"the kill at step {task.kill_step}: it must outlast a lost worker")
    elif not finished:
        reasons.append("a worker died and the plan keeps no checkpoint: the run was lost "
                       "(set checkpoint_every)")
    if score < task.target_accuracy:
        reasons.append(f"test accuracy {score:.2%} is below the target "
                       f"{task.target_accuracy:.2%}")
    if sent.max() > task.byte_budget:
        reasons.append(f"node {int(sent.argmax())} sent {int(sent.max()):,} bytes, over the "
                       f"budget of {task.byte_budget:,}")
    return tuple(reasons)
