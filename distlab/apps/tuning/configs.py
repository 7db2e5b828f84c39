"""The configurations :func:`~distlab.apps.tuning.tune` chooses among: workers, rows per
task and all-reduce algorithm; the document's default, and every candidate."""
from __future__ import annotations

from dataclasses import dataclass

from distlab import checks
from distlab.apps.tuning.job import Job
from distlab.engines.allreduce import EXACT_ALGORITHMS

#: The all-reduce used when only one worker takes part: there is nothing to average.
NO_ALLREDUCE = "none"
#: The most workers the tuner plans for: the candidates grow with every width, and 64
#: workers already make thousands of them.
MAX_WORKERS = 64


@dataclass(frozen=True, order=True)
class Config:
    """How to run the job: ``workers`` (the first ones, sorted by address),
    ``partition_rows`` rows per task, and the all-reduce ``algorithm`` (one of
    ``EXACT_ALGORITHMS``, or :data:`NO_ALLREDUCE` with one worker). A Config is data:
    :func:`check_config` refuses one a job or a cluster cannot run (every function that
    runs or prices one calls it)."""
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
    """``config`` if it can run ``job`` on ``n_workers`` workers; ``TypeError`` for anything
    but a :class:`Config`, ``ValueError`` naming the field that is out of range (and
    ``TypeError``/``ValueError`` for a job that is not a :class:`Job` or a bad
    ``n_workers``, as :func:`default_config`)."""
    if not isinstance(config, Config):
        raise TypeError(f"config must be a tuning.Config, got {type(config).__name__}")
    _check_job(job, n_workers)
    w = _from_one_to("config.workers", config.workers, n_workers,
                     f"the cluster's {n_workers} workers")
    _from_one_to("config.partition_rows", config.partition_rows, job.rows,
                 f"the job's {job.rows} rows")
    known = (NO_ALLREDUCE,) if w == 1 else EXACT_ALGORITHMS
    if config.algorithm not in known:
        raise ValueError(f"config.algorithm must be one of {', '.join(known)} with "
                         f"{w} worker{'s' if w != 1 else ''}, got {config.algorithm!r}")
    return config


def _from_one_to(name: str, value, top: int, what: str) -> int:
    # A Config is data: a field of the wrong type is a bad value like any other.
    try:
        return checks.count(name, value, minimum=1, maximum=top)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an int from 1 to {what}, got {value!r}") from None


def _check_job(job, n_workers) -> int:
    if not isinstance(job, Job):
        raise TypeError(f"job must be a tuning.Job, got {type(job).__name__}")
    return checks.count("n_workers", n_workers, minimum=1, maximum=MAX_WORKERS)


def default_config(job: Job, n_workers: int) -> Config:
    """What the document's code does: every row its own task, every worker, a star
    (parameter server) to average. ``job`` a :class:`Job`, ``n_workers`` an int in [1,
    :data:`MAX_WORKERS`]; ``TypeError``/``ValueError`` naming the argument otherwise."""
    n_workers = _check_job(job, n_workers)
    return Config(n_workers, 1, "star" if n_workers > 1 else NO_ALLREDUCE)


def partition_sizes(rows: int, workers: int) -> list[int]:
    """Candidate rows per task: powers of two up to one partition per worker, and exactly
    one partition per worker. ``rows`` and ``workers`` ints ≥ 1; ``TypeError``/
    ``ValueError`` otherwise."""
    rows = checks.count("rows", rows, minimum=1)
    workers = checks.count("workers", workers, minimum=1)
    top = -(-rows // workers)                              # ⌈rows / workers⌉, exactly
    sizes = {top}
    s = 1
    while s < top:
        sizes.add(s)
        s *= 2
    return sorted(sizes)


def candidates(job: Job, n_workers: int) -> list[Config]:
    """Every configuration :func:`tune` considers on a cluster of ``n_workers``.
    Arguments and errors as :func:`default_config`."""
    n_workers = _check_job(job, n_workers)
    out = []
    for w in range(1, n_workers + 1):
        algorithms = (NO_ALLREDUCE,) if w == 1 else EXACT_ALGORITHMS
        for s in partition_sizes(job.rows, w):
            out += [Config(w, s, a) for a in algorithms]
    return out

