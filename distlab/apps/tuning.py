"""Automatic tuning (document 8.2, 自动调优): choose how to run a job by measuring the live
cluster, guided by a cost model.

The job is the heart of data-parallel training: the gradient of a model over a data set
spread across workers, averaged so that every worker ends holding it — the averaging
formula X_i' = (1/N) Σ_j X_j applied to partial gradients. Three knobs decide how fast it
runs:

- **workers** — how many of the cluster's workers take part (more workers share the
  compute, but add an all-reduce);
- **partition size** — rows per task (tiny tasks drown in Dask's ~1 ms per-task overhead;
  one huge task leaves workers idle);
- **all-reduce algorithm** — star, tree, ring, recursive doubling, Rabenseifner
  (chapter 04).

The default is what the document's own code does: every row its own task
(``client.map(f, rows)``, chapter 05), every worker, and a parameter server (star) to
average. :func:`tune` then works like an autotuner such as ATLAS or FFTW's planner
(Whaley & Dongarra, "Automatically Tuned Linear Algebra Software", SC 1998; Frigo &
Johnson, "The Design and Implementation of FFTW3", Proc. IEEE 2005) but with a model in
front, as in MPI collective tuning (Thakur, Rabenseifner & Gropp 2005; Open MPI's
decision rules):

1. **probe** the cluster: the client's fixed cost per call, the cost per task, the compute
   time per row (with one worker busy, and with all of them busy at once: on shared cores
   the second is slower), and, for the all-reduce, α and β of one worker-to-worker
   message on the direct engine that :func:`run` uses, with the fixed cost of one such
   call (:func:`distlab.engines.calibrate.ping_pong_direct`);
2. **predict** every candidate configuration with the cost model
   ``T = call + max(⌈P / w⌉ · (task + s · row), P · scheduler) + task + all-reduce(w, a)``
   (P partitions of s rows on w workers — each worker runs its share one after another,
   unless the scheduler, which hands tasks out one at a time, is the bottleneck — then one
   local sum per worker, then the all-reduce: the call's fixed cost plus, per round of the
   plan, α per message and β per byte of the busiest node, chapter 04's α-β model);
3. **measure** only the default and the few configurations the model ranks best (and the
   best for each worker count), each a few times on the live cluster, checking every
   result against numpy in one process;
4. **choose** the fastest measured, and report its gain over the default.

The model prunes dozens of configurations to a handful of runs; the measurement has the
last word, because a model of a shared 2-core machine is only a guide.
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field
from numbers import Integral

import numpy as np
import pandas as pd

from distlab.engines.allreduce import EXACT_ALGORITHMS, allreduce, make_plan

#: The all-reduce used when only one worker takes part: there is nothing to average.
NO_ALLREDUCE = "none"


# --------------------------------------------------------------------------------------
# the job
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Job:
    """The mean gradient of least squares on random Fourier features (Rahimi & Recht,
    "Random Features for Large-Scale Kernel Machines", NIPS 2007): row r is an input
    x_r ∈ R^inputs and a target y_r, both drawn from ``(seed, r)``; its features are
    z_r = cos(W x_r + b), and the gradient at the fixed model w is
    (1/rows) Σ_r z_r (z_r·w − y_r), a vector of ``features`` floats. Every row is made
    where it is used, so no data crosses the network — only partial gradients."""
    rows: int = 256
    inputs: int = 32
    features: int = 16384
    seed: int = 0

    def __post_init__(self):
        for name in ("rows", "inputs", "features", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral):
                raise TypeError(f"Job.{name} must be an int, got {type(value).__name__}")
            if value < (0 if name == "seed" else 1):
                raise ValueError(f"Job.{name} must be {'≥ 0' if name == 'seed' else '≥ 1'}, "
                                 f"got {value}")

    @property
    def vector_bytes(self) -> int:
        return self.features * 8


@functools.lru_cache(maxsize=4)
def _feature_map(seed: int, inputs: int, features: int):
    """W, b and the model w: the same in every process (cached once per worker)."""
    rng = np.random.default_rng([seed, 1])
    W = rng.standard_normal((inputs, features)) / math.sqrt(inputs)
    b = rng.uniform(0.0, 2.0 * math.pi, features)
    w = np.full(features, 1.0 / features)
    for a in (W, b, w):
        a.setflags(write=False)
    return W, b, w


def make_rows(job: Job, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``start`` … ``stop − 1`` of the job's data: inputs X and targets y. Row r
    depends only on ``(seed, r)``, so any partitioning sees the same data."""
    draws = np.stack([np.random.default_rng([job.seed, 2, r]).standard_normal(job.inputs + 1)
                      for r in range(start, stop)])
    return draws[:, :-1], draws[:, -1]


def partial_gradient(job: Job, start: int, stop: int) -> np.ndarray:
    """Runs on a worker: Σ_r z_r (z_r·w − y_r) over rows ``start`` … ``stop − 1`` (a sum,
    not a mean, so partial sums add up)."""
    W, b, w = _feature_map(job.seed, job.inputs, job.features)
    X, y = make_rows(job, start, stop)
    Z = np.cos(X @ W + b)
    return Z.T @ (Z @ w - y)


def timed_partial_gradient(job: Job, start: int, stop: int) -> float:
    """Runs on a worker: seconds that :func:`partial_gradient` takes there (the probe of
    compute per row; measured inside the task, so no scheduling is counted)."""
    begin = time.perf_counter()
    partial_gradient(job, start, stop)
    return time.perf_counter() - begin


def add_up(features: int, *parts) -> np.ndarray:
    """Runs on a worker: the sum of its partitions' partial gradients (zeros if it was
    given none)."""
    return np.sum(parts, axis=0) if parts else np.zeros(features)


def reference_gradient(job: Job) -> np.ndarray:
    """The job done in one process with numpy: what every configuration must return."""
    return partial_gradient(job, 0, job.rows) / job.rows


# --------------------------------------------------------------------------------------
# configurations
# --------------------------------------------------------------------------------------

@dataclass(frozen=True, order=True)
class Config:
    workers: int
    partition_rows: int
    algorithm: str

    def partitions(self, job: Job) -> list[tuple[int, int]]:
        """The row ranges, in order: ⌈rows / s⌉ partitions of s rows (the last may be
        shorter)."""
        s = self.partition_rows
        return [(a, min(a + s, job.rows)) for a in range(0, job.rows, s)]

    def __str__(self) -> str:
        worker_word = "worker" if self.workers == 1 else "workers"
        reduce = ("no all-reduce" if self.algorithm == NO_ALLREDUCE
                  else f"{self.algorithm} all-reduce")
        return (f"{self.workers} {worker_word}, partitions of {self.partition_rows} "
                f"row{'s' if self.partition_rows != 1 else ''}, {reduce}")


def check_config(config: Config, job: Job, n_workers: int) -> Config:
    if not isinstance(config, Config):
        raise TypeError(f"config must be a tuning.Config, got {type(config).__name__}")
    w, s, a = config.workers, config.partition_rows, config.algorithm
    if isinstance(w, bool) or not isinstance(w, Integral) or not 1 <= w <= n_workers:
        raise ValueError(f"config.workers must be an int from 1 to the cluster's "
                         f"{n_workers} workers, got {w!r}")
    if isinstance(s, bool) or not isinstance(s, Integral) or not 1 <= s <= job.rows:
        raise ValueError(f"config.partition_rows must be an int from 1 to the job's "
                         f"{job.rows} rows, got {s!r}")
    known = (NO_ALLREDUCE,) if w == 1 else EXACT_ALGORITHMS
    if a not in known:
        raise ValueError(f"config.algorithm must be one of {', '.join(known)} with "
                         f"{w} worker{'s' if w != 1 else ''}, got {a!r}")
    return config


def default_config(job: Job, n_workers: int) -> Config:
    """What the document's code does: every row its own task, every worker, a star
    (parameter server) to average."""
    return Config(n_workers, 1, "star" if n_workers > 1 else NO_ALLREDUCE)


def partition_sizes(rows: int, workers: int) -> list[int]:
    """Candidate rows per task: powers of two up to one partition per worker, and exactly
    one partition per worker."""
    top = math.ceil(rows / workers)
    sizes = {top}
    s = 1
    while s < top:
        sizes.add(s)
        s *= 2
    return sorted(sizes)


def candidates(job: Job, n_workers: int) -> list[Config]:
    """Every configuration :func:`tune` considers on a cluster of ``n_workers``."""
    out = []
    for w in range(1, n_workers + 1):
        algorithms = (NO_ALLREDUCE,) if w == 1 else EXACT_ALGORITHMS
        for s in partition_sizes(job.rows, w):
            out += [Config(w, s, a) for a in algorithms]
    return out


# --------------------------------------------------------------------------------------
# the cost model
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClusterModel:
    """What the probes measure, in seconds: per call (submit work and hear it is done),
    per task on a worker, per task on the scheduler (its throughput limit), per row of
    compute with one worker busy (``row``) and with every worker busy at once
    (``row_parallel``; defaults to ``row``, as on idle dedicated cores), α (per message)
    and β (per byte) between workers on the direct all-reduce engine, and the fixed cost
    of one all-reduce call on that engine whatever it sends (``allreduce_call``: the
    client's messages to the workers and back, setting the call up on them)."""
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
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value < 0:
                raise ValueError(f"ClusterModel.{name} must be a non-negative number of "
                                 f"seconds, got {value!r}")

    def __str__(self) -> str:
        bandwidth = (f"1/β {1e-6 / self.beta:.0f} MB/s" if self.beta > 1e-11
                     else "β negligible at this size")
        return (f"call {self.call * 1e3:.1f} ms, task {self.task * 1e3:.2f} ms, "
                f"scheduler {self.scheduler * 1e3:.2f} ms/task, row {self.row * 1e6:.0f} µs "
                f"alone and {self.row_parallel * 1e6:.0f} µs with all workers busy, "
                f"all-reduce call {self.allreduce_call * 1e3:.1f} ms + "
                f"α {self.alpha * 1e3:.2f} ms per message, {bandwidth}")


#: A round reference machine for printed examples: the [local] figures of a 2-core box
#: (reference/performance-models.md §2: ~10 ms per call, ~2 ms per task, ~430 tasks/s
#: through the scheduler, 0.5 GB/s between processes), ~0.6 ms per row of the job on
#: each of two idle cores, and the direct all-reduce engine as measured on such a box
#: (calibrate.ping_pong_direct on 2 workers: α 0.3–0.8 ms per message, about 2 ms per
#: call besides its messages).
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
    pays m·α."""
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
    ``row_parallel`` (all workers computing at once)."""
    n_parts = len(config.partitions(job))
    per_worker = math.ceil(n_parts / config.workers)
    row = model.row if config.workers == 1 else model.row_parallel
    compute = max(per_worker * (model.task + config.partition_rows * row),
                  n_parts * model.scheduler)
    return (model.call + compute + model.task
            + allreduce_seconds(config.workers, config.algorithm, job.vector_bytes, model))


def predict_table(job: Job, n_workers: int, model: ClusterModel = REFERENCE) -> pd.DataFrame:
    """Every candidate with its predicted seconds, best first."""
    rows = [{"workers": c.workers, "partition_rows": c.partition_rows,
             "tasks": len(c.partitions(job)), "algorithm": c.algorithm,
             "predicted_s": predict_seconds(c, job, model)}
            for c in candidates(job, n_workers)]
    table = pd.DataFrame(rows).sort_values(["predicted_s", "workers", "partition_rows",
                                            "algorithm"], kind="stable")
    return table.reset_index(drop=True)


# --------------------------------------------------------------------------------------
# running a configuration on the cluster
# --------------------------------------------------------------------------------------

def _workers(client) -> list[str]:
    # nthreads() asks the scheduler; scheduler_info() may return the client's cache, which
    # Dask's periodic refresh (every 2 s, totals only) empties at any moment
    workers = sorted(client.nthreads())
    if not workers:
        raise RuntimeError("the cluster has no workers")
    return workers


def _pin(client, func, *args, worker):
    return client.submit(func, *args, workers=[worker], allow_other_workers=False,
                         pure=False)


def run(client, job: Job, config: Config) -> tuple[np.ndarray, float]:
    """Run ``job`` with ``config`` on the cluster: partition i on worker ⌊i·w/P⌋ (contiguous
    blocks), one sum per worker, then the all-reduce. Returns the gradient (worker 0's
    copy) and the wall time from the first submit until every worker holds the result."""
    from distributed import wait

    homes = _workers(client)
    check_config(config, job, len(homes))
    homes = homes[:config.workers]
    parts = config.partitions(job)
    start = time.perf_counter()
    partials = [_pin(client, partial_gradient, job, a, b,
                     worker=homes[i * config.workers // len(parts)])
                for i, (a, b) in enumerate(parts)]
    sums = [_pin(client, add_up, job.features, *[p for i, p in enumerate(partials)
                                   if i * config.workers // len(parts) == k], worker=h)
            for k, h in enumerate(homes)]
    if config.workers == 1:
        finals = sums
    else:
        finals = list(allreduce(sums, config.algorithm, client, workers=homes,
                                dask_engine="direct").futures)    # what the model models
    wait(finals)
    elapsed = time.perf_counter() - start
    mean_of_sums = np.asarray(finals[0].result())
    del partials, sums, finals
    return mean_of_sums * config.workers / job.rows, elapsed


def _noop(x=None):
    return x


#: Bytes of the ping-pong's larger message at least: big enough that the bytes, not the
#: noise, make the difference from an 8-byte message (β).
PROBE_BYTES = 1 << 20


def probe(client, job: Job, *, tasks: int = 16) -> ClusterModel:
    """Measure the model's numbers on the live cluster (about a second): a lone task's
    round trip (call); ``tasks`` no-op tasks queued on one worker (task) and spread over
    all workers (scheduler); a partition timed inside its task on one worker (row) and on
    every worker at once (row_parallel); a ping-pong on the direct engine (α, β, and the
    fixed cost of a call: the client's overhead and the workers' set-up)."""
    from distributed import wait

    from distlab.engines.calibrate import ping_pong_direct

    homes = _workers(client)
    # warm up: every worker builds the feature map once; every all-reduce width is primed
    warm = [_pin(client, partial_gradient, job, 0, 1, worker=h) for h in homes]
    wait(warm)
    for w in range(2, len(homes) + 1):
        allreduce(warm[:w], "star", client, workers=homes[:w], dask_engine="direct").values
    del warm

    def wall(n, spread=False):
        begin = time.perf_counter()
        wait([_pin(client, _noop, i, worker=homes[i % len(homes) if spread else 0])
              for i in range(n)])
        return time.perf_counter() - begin

    call = min(wall(1) for _ in range(3))
    task = max((min(wall(tasks) for _ in range(2)) - call) / (tasks - 1), 1e-6)
    spread = max((min(wall(tasks, spread=True) for _ in range(2)) - call) / (tasks - 1),
                 1e-6)
    probe_rows = min(job.rows, 16)
    alone = [client.gather(_pin(client, timed_partial_gradient, job, 0, probe_rows,
                                worker=homes[0])) for _ in range(3)]
    row = float(np.median(alone)) / probe_rows
    together = []
    for _ in range(3):                     # every worker computing at the same moment
        runs = [_pin(client, timed_partial_gradient, job, 0, probe_rows, worker=h)
                for h in homes]
        together.append(max(client.gather(runs)))
    row_parallel = float(np.median(together)) / probe_rows
    if len(homes) >= 2:          # the engine run() uses: worker-to-worker messages
        cal = ping_pong_direct(client, sizes=(8, max(PROBE_BYTES, job.vector_bytes)),
                               hops=10, repeats=5)
        alpha, beta, fixed = cal.alpha, cal.beta, cal.overhead + cal.fixed
    else:                        # one worker never all-reduces
        alpha = beta = fixed = 0.0
    return ClusterModel(call=call, task=task, scheduler=spread, row=row, alpha=alpha,
                        beta=beta, row_parallel=row_parallel, allreduce_call=fixed)


# --------------------------------------------------------------------------------------
# tune
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tuning:
    """What :func:`tune` found. ``table``: every candidate with ``predicted_s`` and, for
    the few it ran, ``measured_s`` (median) and ``correct``; ``model``: the probed
    cluster; ``chosen`` and ``default`` configurations; ``gain``: default's measured time
    over the chosen one's (≥ 1, since the default is always measured too)."""
    job: Job
    model: ClusterModel
    table: pd.DataFrame
    chosen: Config
    default: Config
    seconds: float = field(default=0.0)

    def measured(self, config: Config) -> float:
        row = self._row(config)
        return float(row["measured_s"])

    def predicted(self, config: Config) -> float:
        return float(self._row(config)["predicted_s"])

    def _row(self, config):
        t = self.table
        hit = t[(t.workers == config.workers) & (t.partition_rows == config.partition_rows)
                & (t.algorithm == config.algorithm)]
        if hit.empty:
            raise ValueError(f"{config} was not a candidate")
        return hit.iloc[0]

    @property
    def gain(self) -> float:
        return self.measured(self.default) / self.measured(self.chosen)

    @property
    def all_correct(self) -> bool:
        ran = self.table.dropna(subset=["measured_s"])
        return bool(ran["correct"].all())

    def __str__(self) -> str:
        c, d = self.chosen, self.default
        return "\n".join([
            f"probed cluster: {self.model}",
            f"candidates: {len(self.table)} predicted, "
            f"{int(self.table['measured_s'].notna().sum())} measured",
            f"default: {d} ({_tasks(d, self.job)}): "
            f"{self.measured(d) * 1e3:.0f} ms measured, {self.predicted(d) * 1e3:.0f} ms "
            "predicted",
            f"chosen:  {c} ({_tasks(c, self.job)}): "
            f"{self.measured(c) * 1e3:.0f} ms measured, {self.predicted(c) * 1e3:.0f} ms "
            "predicted",
            f"gain over the default: {self.gain:.1f}×"])


def _tasks(config: Config, job: Job) -> str:
    n = len(config.partitions(job))
    return f"{n} task{'s' if n != 1 else ''}"


def tune(client, job: Job = Job(), *, top: int = 4, repeats: int = 3,
         default: Config | None = None, progress: bool = False) -> Tuning:
    """Choose workers, partition size and all-reduce algorithm for ``job`` on the live
    cluster: probe, predict every candidate, measure the default and the ``top`` best
    predicted (plus the best predicted for each worker count) ``repeats`` times each,
    keep the fastest measured. Every run's result is checked against numpy. ``progress``
    draws a bar of the runs (in a notebook)."""
    from distributed import Client

    if not isinstance(client, Client):
        raise TypeError(f"client must be a distributed.Client (from distlab.connect()), "
                        f"got {type(client).__name__}")
    if not isinstance(job, Job):
        raise TypeError(f"job must be a tuning.Job, got {type(job).__name__}")
    for name, value in (("top", top), ("repeats", repeats)):
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    begin = time.perf_counter()
    n_workers = len(_workers(client))
    default = default_config(job, n_workers) if default is None else \
        check_config(default, job, n_workers)

    model = probe(client, job)
    table = predict_table(job, n_workers, model)
    configs = [Config(int(r.workers), int(r.partition_rows), r.algorithm)
               for r in table.itertuples()]
    chosen_to_run = [default] + configs[:top]
    for w in range(1, n_workers + 1):                    # the model's pick for each width
        chosen_to_run.append(next(c for c in configs if c.workers == w))
    to_run = list(dict.fromkeys(chosen_to_run))          # unique, in order

    bar = None
    if progress:
        from distlab.engines.progress import StepsBar
        bar = StepsBar("tune", len(to_run) * repeats)
    reference = reference_gradient(job)
    measured, correct, runs = {}, {}, 0
    for config in to_run:
        times = []
        for _ in range(repeats):
            result, seconds = run(client, job, config)
            runs += 1
            if bar is not None:
                bar.update(runs)
            times.append(seconds)
            correct[config] = correct.get(config, True) and bool(
                np.allclose(result, reference, rtol=1e-9, atol=1e-9))
        measured[config] = float(np.median(times))

    table["measured_s"] = [measured.get(c, np.nan) for c in configs]
    table["correct"] = [correct.get(c) for c in configs]
    if default not in set(configs):
        raise ValueError(f"the default {default} is not among the candidates")
    chosen = min(measured, key=lambda c: (measured[c], c))
    return Tuning(job, model, table, chosen, default, time.perf_counter() - begin)


def plot(tuning: Tuning):
    """Predicted against measured seconds for the configurations that ran (log-log), the
    default and the chosen one marked. Returns a small matplotlib figure."""
    import matplotlib.pyplot as plt

    if not isinstance(tuning, Tuning):
        raise TypeError(f"tuning must be what tune() returned, got {type(tuning).__name__}")
    ran = tuning.table.dropna(subset=["measured_s"])
    fig, ax = plt.subplots(figsize=(5, 3.4), dpi=72)
    for w, group in ran.groupby("workers"):
        ax.scatter(group["predicted_s"] * 1e3, group["measured_s"] * 1e3,
                   label=f"{w} worker{'s' if w > 1 else ''}")
    for config, text in ((tuning.default, "default"), (tuning.chosen, "chosen")):
        ax.annotate(text, (tuning.predicted(config) * 1e3, tuning.measured(config) * 1e3),
                    textcoords="offset points", xytext=(6, 4), fontsize=9)
    low = min(ran["predicted_s"].min(), ran["measured_s"].min()) * 1e3 * 0.7
    high = max(ran["predicted_s"].max(), ran["measured_s"].max()) * 1e3 * 1.4
    ax.plot([low, high], [low, high], color="grey", linewidth=1, linestyle="--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("predicted (ms)")
    ax.set_ylabel("measured (ms)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
