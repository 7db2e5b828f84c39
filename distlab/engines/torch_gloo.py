"""PyTorch Distributed as an engine: ranks on gloo, their all-reduce, and its timing.

Chapter 07 puts Dask (through distlab) and ``torch.distributed`` side by side. PyTorch's
model is SPMD (single program, multiple data): ``world_size`` processes run the same
function, each knowing its ``rank``; they meet through a rendezvous (here a TCP store on
127.0.0.1 at a free port) and then call collectives — ``all_reduce`` — that every rank must
enter. The gloo backend runs those collectives on CPUs over TCP (NCCL is its GPU twin).
Dask's model is a central scheduler handing tasks to workers; distlab's all-reduce is a
plan of such tasks. Same formula, X_i' = (1/N) Σ_j X_j, two very different machines.

``run_ranks(jobs, world_size)`` starts the processes (``spawn``, as
``torch.multiprocessing.spawn`` and ``torchrun`` do: each rank a fresh interpreter), runs
the jobs in order in one process group, and returns each rank's results; the group is
destroyed and every process joined before it returns, on success or failure. A job is
the name of one of this module's jobs, or a function defined at the top level of an
importable module (a spawned interpreter imports it by name, so a function defined in a
notebook cannot be one), called as ``job(rank, world_size, group=…, **kwargs)``. This
module's jobs:

``allreduce_mean``    the document's example: rank i holds ``values[i]``; after
                      ``all_reduce(SUM)`` and a divide by N every rank holds the mean.
``time_allreduce``    median seconds of ``all_reduce`` at given sizes (for the tables).

Applications bring their own jobs: :mod:`distlab.apps.torch_ddp` trains chapter 06's
model with ``DistributedDataParallel``; :func:`median_seconds` times any of them the way
``time_allreduce`` does.

PyTorch is optional: :func:`available` says whether it can be imported, and
:data:`INSTALL_HINT` how to install the CPU build. Sources: PyTorch docs, "Distributed
communication package — torch.distributed" and "DistributedDataParallel"; S. Li et al.,
"PyTorch Distributed: Experiences on Accelerating Data Parallel Training", VLDB 2020,
https://arxiv.org/abs/2006.15704.
"""
from __future__ import annotations

import importlib.util
import time

import numpy as np

from distlab.checks import count, flag, number, positive
from distlab.engines.torch_ranks import _launch, _PortTaken, free_port

__all__ = ["available", "run_ranks", "allreduce_example", "allreduce_mean", "time_allreduce",
           "median_seconds", "check_values", "free_port", "JOBS", "INSTALL_COMMAND",
           "INSTALL_HINT", "DEFAULT_TIMEOUT"]

#: How a learner installs the CPU-only build (the default wheel on Linux pulls CUDA,
#: several gigabytes).
INSTALL_COMMAND = "pip install torch --index-url https://download.pytorch.org/whl/cpu"
INSTALL_HINT = (f"PyTorch is not installed, so the PyTorch cells are skipped. Install the "
                f"CPU build with `{INSTALL_COMMAND}` and restart the kernel.")

JOBS = ("allreduce_mean", "time_allreduce")

#: Seconds to wait for all ranks before giving up (spawning imports torch in each rank:
#: a few seconds on a busy 2-core machine).
DEFAULT_TIMEOUT = 120.0


def available() -> bool:
    """True when ``torch`` is installed (checked without importing it, which takes
    seconds; every CPU build of PyTorch includes the gloo backend)."""
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):      # a broken or blocked installation
        return False


# --------------------------------------------------------------------------------------
# the jobs: each runs in every rank, inside an initialised process group
# --------------------------------------------------------------------------------------

def allreduce_mean(rank: int, world_size: int, values, group=None) -> float:
    """Rank ``rank`` contributes ``values[rank]``; returns what it holds afterwards:
    (1/N) Σ_j values[j], computed by gloo's all-reduce (a sum) and a local divide.
    A rank's job: ``values`` is checked by :func:`allreduce_example` before any rank
    starts; raises ``ValueError`` when it does not hold one number per rank."""
    import torch
    import torch.distributed as dist

    if len(values) != world_size:
        raise ValueError(f"values must hold one number per rank ({world_size}), "
                         f"got {len(values)}")
    x = torch.tensor([float(values[rank])], dtype=torch.float64)
    dist.all_reduce(x, op=dist.ReduceOp.SUM, group=group)
    return float(x.item() / world_size)


def median_seconds(run, repeats: int, group=None) -> float:
    """Runs in every rank of ``group``: the median wall time (s) of ``run()`` over
    ``repeats`` calls, after one warm-up call, every call started together on all ranks
    (a barrier) and counted as the slowest rank's (an all-reduce of the maximum).
    Runs inside a rank's job; raises what ``run()`` raises."""
    import torch
    import torch.distributed as dist

    run()
    times = []
    for _ in range(repeats):
        dist.barrier(group=group)
        start = time.perf_counter()
        run()
        elapsed = torch.tensor([time.perf_counter() - start], dtype=torch.float64)
        dist.all_reduce(elapsed, op=dist.ReduceOp.MAX, group=group)
        times.append(float(elapsed.item()))
    return float(np.median(times))


def time_allreduce(rank: int, world_size: int, sizes=(8, 1 << 20),
                   repeats: int = 5, group=None) -> dict:
    """Median seconds of one gloo ``all_reduce`` (sum, then the divide) of a float64
    tensor of each size in bytes. A rank's job: ``sizes`` byte counts, ``repeats`` an
    int ≥ 1; raises ``TypeError`` / ``ValueError`` naming a bad one, on every rank alike,
    before any collective."""
    sizes = [count(f"sizes[{i}]", s, minimum=1, maximum=2**30, limit="1 GiB per rank")
             for i, s in enumerate(sizes)]
    repeats = count("repeats", repeats, minimum=1, maximum=1000)
    import torch
    import torch.distributed as dist

    out = {}
    for size in sizes:
        x = torch.ones(max(1, int(size) // 8), dtype=torch.float64)

        def run():
            dist.all_reduce(x, op=dist.ReduceOp.SUM, group=group)
            x.div_(world_size)
        out[int(size)] = median_seconds(run, repeats, group)
    return out


_JOB_FUNCTIONS = {"allreduce_mean": allreduce_mean, "time_allreduce": time_allreduce}


def _job_function(job):
    """The function a job names: one of :data:`JOBS`, or a function that a spawned
    interpreter can import by its module and name."""
    if isinstance(job, str):
        if job not in _JOB_FUNCTIONS:
            raise ValueError(f"jobs names an unknown job {job!r}; known jobs: "
                             f"{', '.join(JOBS)}, or a function defined at the top level "
                             "of a module")
        return job, _JOB_FUNCTIONS[job]
    if not callable(job):
        raise TypeError(f"jobs: a job must be a name or (name, kwargs[, ranks]), got {job!r}")
    module, qualname = getattr(job, "__module__", None), getattr(job, "__qualname__", "")
    if module in (None, "__main__") or "<" in qualname or "." in qualname:
        raise TypeError(f"jobs: job {qualname or job!r} must be a function defined at the "
                        "top level of an importable module: each rank imports it by name")
    return job.__name__, job


def _check_jobs(jobs, world_size: int) -> list[tuple]:
    """``(name, function, kwargs, ranks)`` for each job, checked before anything starts."""
    if isinstance(jobs, str) or callable(jobs):
        jobs = [jobs]
    if not isinstance(jobs, (list, tuple)) or not jobs:
        raise TypeError("jobs must be a job or a non-empty list of jobs, "
                        "(job, kwargs) or (job, kwargs, ranks) tuples; a job is a name "
                        f"({', '.join(JOBS)}) or a module-level function")
    out = []
    for job in jobs:
        if not (isinstance(job, (str, list, tuple)) or callable(job)):
            raise TypeError(f"jobs: a job must be a name or (name, kwargs[, ranks]), "
                            f"got {job!r}")
        job = (job,) if isinstance(job, str) or callable(job) else tuple(job)
        if not 1 <= len(job) <= 3:
            raise TypeError(f"jobs: a job must be a name or (name, kwargs[, ranks]), "
                            f"got {job!r}")
        name, function = _job_function(job[0])
        kwargs = job[1] if len(job) > 1 else {}
        n = job[2] if len(job) > 2 else world_size
        if not isinstance(kwargs, dict):
            raise TypeError(f"the arguments of job {name!r} must be a dict, "
                            f"got {type(kwargs).__name__}")
        if "group" in kwargs:
            raise ValueError("jobs get their process group from run_ranks; do not pass "
                             "'group'")
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= world_size:
            raise ValueError(f"the ranks of job {name!r} must be an int from 1 to "
                             f"world_size ({world_size}), got {n!r}")
        if any(name == earlier for earlier, *_ in out):
            raise ValueError(f"job {name!r} appears twice; results are keyed by job name, "
                             "so run it again in a separate call")
        out.append((name, function, dict(kwargs), n))
    return out


def run_ranks(jobs, world_size: int = 2, *, timeout: float = DEFAULT_TIMEOUT,
              progress: bool = False) -> list[dict]:
    """Spawn ``world_size`` processes that form a gloo process group over 127.0.0.1 and run
    ``jobs`` in order: a job (a name from :data:`JOBS` or a module-level function
    ``f(rank, world_size, *, group, **kwargs)``), or ``(job, kwargs)``, or
    ``(job, kwargs, ranks)`` to run it on the first ``ranks`` ranks only (in a
    subgroup: one spawn serves a 3-rank example and 2-rank timings).

    Returns one dict per rank, in rank order: ``{"startup_s": seconds from spawning the
    process until its group was formed, "init_s": seconds of that spent forming the group,
    job name (a function's ``__name__``): its result, ...}`` (a rank outside a job's
    ranks has no entry for it).
    Raises ``RuntimeError`` with the failing rank's traceback if a rank fails,
    ``TimeoutError`` after ``timeout`` seconds, ``TypeError`` / ``ValueError`` naming a
    bad argument (``world_size`` 1 to 16, ``timeout`` > 0, ``progress`` a bool, ``jobs``
    as above) before anything starts, ``ModuleNotFoundError`` with
    :data:`INSTALL_HINT` if PyTorch is missing. Every process is joined (or, after a
    failure, killed) before this returns. ``progress`` draws a bar of the ranks' steps (in
    a notebook)."""
    world_size = count("world_size", world_size)
    if not 1 <= world_size <= 16:
        raise ValueError(f"world_size must be between 1 and 16 processes, got {world_size}")
    timeout = positive("timeout", timeout)
    flag("progress", progress)
    jobs = _check_jobs(jobs, world_size)
    if not available():
        raise ModuleNotFoundError(INSTALL_HINT)

    steps = world_size + sum(n for *_, n in jobs)
    if progress:
        from distlab.engines.progress import StepsBar
        bar = StepsBar(f"{world_size} ranks", steps)
    else:
        bar = None
    try:
        return _launch(jobs, world_size, timeout, bar)
    except _PortTaken:                       # another program took the free port first
        return _launch(jobs, world_size, timeout, bar)


# --------------------------------------------------------------------------------------
# what chapter 07 calls
# --------------------------------------------------------------------------------------

def allreduce_example(values=(10, 20, 30), *, timeout: float = DEFAULT_TIMEOUT) -> list[float]:
    """The document's example with PyTorch: one process per node, node i holding
    ``values[i]``; returns what each rank holds after the all-reduce. Raises as
    :func:`check_values` and :func:`run_ranks`."""
    values = check_values(values)
    ranks = run_ranks([("allreduce_mean", {"values": values})], world_size=len(values),
                      timeout=timeout)
    return [r["allreduce_mean"] for r in ranks]


def check_values(values) -> list[float]:
    """``values`` as floats, one per rank (1 to 16). Raises ``TypeError`` for anything but
    a list of numbers, ``ValueError`` for NaN, infinity or a bad length."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise TypeError(f"values must be a list of numbers, one per rank, "
                        f"got {type(values).__name__}")
    values = list(values)
    if not 1 <= len(values) <= 16:
        raise ValueError(f"values must hold 1 to 16 numbers (one process each), "
                         f"got {len(values)}")
    return [number(f"values[{i}]", v) for i, v in enumerate(values)]
