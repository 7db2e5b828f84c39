"""The same work with PyTorch Distributed: gloo all-reduce and one DistributedDataParallel step.

Chapter 07 puts Dask (through distlab) and ``torch.distributed`` side by side. PyTorch's
model is SPMD (single program, multiple data): ``world_size`` processes run the same
function, each knowing its ``rank``; they meet through a rendezvous (here a TCP store on
127.0.0.1 at a free port) and then call collectives — ``all_reduce`` — that every rank must
enter. The gloo backend runs those collectives on CPUs over TCP (NCCL is its GPU twin).
Dask's model is a central scheduler handing tasks to workers; distlab's all-reduce is a
plan of such tasks. Same formula, X_i' = (1/N) Σ_j X_j, two very different machines.

Everything a spawned process runs lives here, because a function defined in a notebook
cannot be imported by a freshly spawned interpreter. ``run_ranks(jobs, world_size)``
starts the processes (``spawn``, as ``torch.multiprocessing.spawn`` and ``torchrun`` do:
each rank a fresh interpreter), runs the named jobs in order in one process group, and
returns each rank's results; the group is destroyed and every process joined before it
returns, on success or failure. Jobs, naive first:

``allreduce_mean``    the document's example: rank i holds ``values[i]``; after
                      ``all_reduce(SUM)`` and a divide by N every rank holds the mean.
``ddp_step``          data-parallel SGD steps of chapter 06's softmax regression with
                      ``DistributedDataParallel``: same model, same shards, same
                      mini-batches as ``distlab.apps.training``, so the result can be compared
                      number for number with distlab's synchronous strategy.
``time_allreduce``    median seconds of ``all_reduce`` at given sizes (for the table).
``time_ddp_step``     median seconds of one DDP step (forward, backward with the gradient
                      all-reduce, optimiser step).

PyTorch is optional: :func:`available` says whether it can be imported, and
:data:`INSTALL_HINT` how to install the CPU build. Sources: PyTorch docs, "Distributed
communication package — torch.distributed" and "DistributedDataParallel"; S. Li et al.,
"PyTorch Distributed: Experiences on Accelerating Data Parallel Training", VLDB 2020,
https://arxiv.org/abs/2006.15704.
"""
from __future__ import annotations

import importlib.util
import os
import queue as _queue
import socket
import time
import traceback
from numbers import Integral, Real

import numpy as np

#: How a learner installs the CPU-only build (the default wheel on Linux pulls CUDA,
#: several gigabytes).
INSTALL_COMMAND = "pip install torch --index-url https://download.pytorch.org/whl/cpu"
INSTALL_HINT = (f"PyTorch is not installed, so the PyTorch cells are skipped. Install the "
                f"CPU build with `{INSTALL_COMMAND}` and restart the kernel.")

JOBS = ("allreduce_mean", "ddp_step", "time_allreduce", "time_ddp_step")

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


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _loopback_interface() -> str | None:
    """The loopback interface's name ("lo" on Linux, "lo0" on macOS), for gloo."""
    try:
        names = [name for _, name in socket.if_nameindex()]
    except (OSError, AttributeError):
        return None
    for name in ("lo", "lo0"):
        if name in names:
            return name
    return None


# --------------------------------------------------------------------------------------
# the jobs: each runs in every rank, inside an initialised process group
# --------------------------------------------------------------------------------------

def allreduce_mean(rank: int, world_size: int, values, group=None) -> float:
    """Rank ``rank`` contributes ``values[rank]``; returns what it holds afterwards:
    (1/N) Σ_j values[j], computed by gloo's all-reduce (a sum) and a local divide."""
    import torch
    import torch.distributed as dist

    if len(values) != world_size:
        raise ValueError(f"values must hold one number per rank ({world_size}), "
                         f"got {len(values)}")
    x = torch.tensor([float(values[rank])], dtype=torch.float64)
    dist.all_reduce(x, op=dist.ReduceOp.SUM, group=group)
    return float(x.item() / world_size)


def _softmax_regression():
    """Chapter 06's model in torch: a linear map from 65 inputs (64 pixels and the
    constant 1, so no separate bias) to 10 classes, weights starting at zero, float64 so
    that it can be compared with numpy to the last digits."""
    import torch

    from distlab.apps.training import N_CLASSES, N_FEATURES

    model = torch.nn.Linear(N_FEATURES, N_CLASSES, bias=False, dtype=torch.float64)
    with torch.no_grad():
        model.weight.zero_()
    return model


def _batch(rank: int, world_size: int, seed: int, batch: int, step: int, shards=None):
    """Rank ``rank``'s mini-batch at ``step``: the very rows distlab's node ``rank`` uses.
    ``shards`` (one ``(X, y)`` per rank, from :func:`distlab.apps.training.load_shard`) spares
    the rank loading the data set itself (importing scikit-learn takes a second)."""
    import torch

    from distlab.apps.training import batch_rows, load_shard

    X, y = load_shard(rank, world_size, seed) if shards is None else shards[rank]
    rows = batch_rows(len(y), batch, seed, rank, step)
    return torch.from_numpy(np.array(X[rows])), torch.from_numpy(np.array(y[rows]))


def shards_for(world_size: int, seed: int = 0) -> list:
    """Every rank's shard, loaded here once and passed to the ranks (``shards=``)."""
    from distlab.apps.training import load_shard
    return [load_shard(r, world_size, seed) for r in range(world_size)]


def ddp_step(rank: int, world_size: int, seed: int = 0, batch: int = 32, lr: float = 2.0,
             steps: int = 1, shards=None, group=None) -> np.ndarray:
    """``steps`` synchronous data-parallel SGD steps with ``DistributedDataParallel``.

    Each rank computes the mean cross-entropy of its own mini-batch; ``backward`` fires
    DDP's hooks, which all-reduce the gradients (bucketed, overlapping the backward pass)
    and divide by ``world_size``; every rank then applies the same SGD step. Returns the
    parameters after each step, shape (steps, 65, 10): each as distlab stores them, the
    transpose of torch's weight."""
    import torch
    from torch.nn.parallel import DistributedDataParallel

    model = DistributedDataParallel(_softmax_regression(), process_group=group)
    optimiser = torch.optim.SGD(model.parameters(), lr=lr)
    after = []
    for step in range(steps):
        X, y = _batch(rank, world_size, seed, batch, step, shards)
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(X), y)
        loss.backward()
        optimiser.step()
        after.append(model.module.weight.detach().numpy().T.copy())
    return np.stack(after)


def _median_seconds(run, repeats: int, group=None) -> float:
    """Median wall time of ``run()`` over ``repeats`` calls, after one warm-up call, every
    call started together on all ranks (a barrier) and counted as the slowest rank's."""
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
    tensor of each size in bytes."""
    import torch
    import torch.distributed as dist

    out = {}
    for size in sizes:
        x = torch.ones(max(1, int(size) // 8), dtype=torch.float64)

        def run():
            dist.all_reduce(x, op=dist.ReduceOp.SUM, group=group)
            x.div_(world_size)
        out[int(size)] = _median_seconds(run, repeats, group)
    return out


def time_ddp_step(rank: int, world_size: int, seed: int = 0, batch: int = 32,
                  lr: float = 2.0, repeats: int = 5, shards=None, group=None) -> float:
    """Median seconds of one DDP training step (forward, backward and the gradient
    all-reduce, optimiser step) of the softmax regression."""
    import torch
    from torch.nn.parallel import DistributedDataParallel

    model = DistributedDataParallel(_softmax_regression(), process_group=group)
    optimiser = torch.optim.SGD(model.parameters(), lr=lr)
    X, y = _batch(rank, world_size, seed, batch, 0, shards)

    def run():
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(model(X), y).backward()
        optimiser.step()
    return _median_seconds(run, repeats, group)


_JOB_FUNCTIONS = {"allreduce_mean": allreduce_mean, "ddp_step": ddp_step,
                  "time_allreduce": time_allreduce, "time_ddp_step": time_ddp_step}


# --------------------------------------------------------------------------------------
# the rank process and the launcher
# --------------------------------------------------------------------------------------

def _rank_main(rank: int, world_size: int, port: int, jobs, results, spawned_at) -> None:
    """The body of every spawned process: join the group, run the jobs, leave the group.
    A job meant for the first n < world_size ranks runs in a subgroup of those ranks; the
    others skip it (creating a subgroup is collective, so every rank takes part in that).
    Each finished step is reported to the parent (its progress bar)."""
    try:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        interface = _loopback_interface()
        if interface and "GLOO_SOCKET_IFNAME" not in os.environ:
            os.environ["GLOO_SOCKET_IFNAME"] = interface   # talk over loopback only
        import torch
        import torch.distributed as dist

        torch.set_num_threads(1)              # one core per rank, like a Dask worker
        start = time.perf_counter()
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}",
                                rank=rank, world_size=world_size)
        try:
            out = {"init_s": time.perf_counter() - start,
                   "startup_s": time.time() - spawned_at}
            results.put((rank, "step", "group formed"))
            subgroups = {}
            for name, kwargs, n in jobs:
                if n < world_size and n not in subgroups:
                    subgroups[n] = dist.new_group(list(range(n)))
                if rank < n:
                    begin = time.perf_counter()
                    out[name] = _JOB_FUNCTIONS[name](rank, n, group=subgroups.get(n),
                                                     **kwargs)
                    out.setdefault("job_s", {})[name] = time.perf_counter() - begin
                    results.put((rank, "step", name))
            dist.barrier()
        finally:
            dist.destroy_process_group()
        results.put((rank, "ok", out))
    except BaseException:                     # report it to the parent, whatever it was
        results.put((rank, "error", traceback.format_exc()))


def _check_jobs(jobs, world_size: int) -> list[tuple[str, dict, int]]:
    if isinstance(jobs, str):
        jobs = [jobs]
    if not isinstance(jobs, (list, tuple)) or not jobs:
        raise TypeError("jobs must be a job name or a non-empty list of names, "
                        "(name, kwargs) or (name, kwargs, ranks) tuples; known jobs: "
                        f"{', '.join(JOBS)}")
    out = []
    for job in jobs:
        job = (job,) if isinstance(job, str) else tuple(job)
        if not 1 <= len(job) <= 3:
            raise TypeError(f"a job must be a name or (name, kwargs[, ranks]), got {job!r}")
        name = job[0]
        kwargs = job[1] if len(job) > 1 else {}
        n = job[2] if len(job) > 2 else world_size
        if name not in _JOB_FUNCTIONS:
            raise ValueError(f"unknown job {name!r}; known jobs: {', '.join(JOBS)}")
        if not isinstance(kwargs, dict):
            raise TypeError(f"the arguments of job {name!r} must be a dict, "
                            f"got {type(kwargs).__name__}")
        if "group" in kwargs:
            raise ValueError("jobs get their process group from run_ranks; do not pass "
                             "'group'")
        if isinstance(n, bool) or not isinstance(n, Integral) or not 1 <= n <= world_size:
            raise ValueError(f"the ranks of job {name!r} must be an int from 1 to "
                             f"world_size ({world_size}), got {n!r}")
        if any(name == earlier for earlier, _, _ in out):
            raise ValueError(f"job {name!r} appears twice; results are keyed by job name, "
                             "so run it again in a separate call")
        out.append((name, dict(kwargs), int(n)))
    return out


def run_ranks(jobs, world_size: int = 2, *, timeout: float = DEFAULT_TIMEOUT,
              progress: bool = False) -> list[dict]:
    """Spawn ``world_size`` processes that form a gloo process group over 127.0.0.1 and run
    ``jobs`` in order: names from :data:`JOBS`, or ``(name, kwargs)``, or
    ``(name, kwargs, ranks)`` to run a job on the first ``ranks`` ranks only (in a
    subgroup: one spawn serves a 3-rank example and 2-rank timings).

    Returns one dict per rank, in rank order: ``{"startup_s": seconds from spawning the
    process until its group was formed, "init_s": seconds of that spent forming the group,
    job name: its result, ...}`` (a rank outside a job's ranks has no entry for it).
    Raises ``RuntimeError`` with the failing rank's traceback if a rank fails,
    ``TimeoutError`` after ``timeout`` seconds, ``ModuleNotFoundError`` with
    :data:`INSTALL_HINT` if PyTorch is missing. Every process is joined (or, after a
    failure, killed) before this returns. ``progress`` draws a bar of the ranks' steps (in
    a notebook)."""
    if isinstance(world_size, bool) or not isinstance(world_size, Integral):
        raise TypeError(f"world_size must be an int, got {type(world_size).__name__}")
    if not 1 <= world_size <= 16:
        raise ValueError(f"world_size must be between 1 and 16 processes, got {world_size}")
    if isinstance(timeout, bool) or not isinstance(timeout, Real) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    jobs = _check_jobs(jobs, int(world_size))
    if not available():
        raise ModuleNotFoundError(INSTALL_HINT)

    steps = world_size + sum(n for _, _, n in jobs)
    if progress:
        from distlab.engines.progress import StepsBar
        bar = StepsBar(f"{world_size} ranks", steps)
    else:
        bar = None
    try:
        return _launch(jobs, world_size, timeout, bar)
    except _PortTaken:                       # another program took the free port first
        return _launch(jobs, world_size, timeout, bar)


class _PortTaken(RuntimeError):
    """Rank 0 could not listen on the port chosen: try once more with a new one."""


def _launch(jobs, world_size, timeout, bar) -> list[dict]:
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    port = free_port()
    spawned_at = time.time()
    processes = [context.Process(target=_rank_main,
                                 args=(r, world_size, port, jobs, results, spawned_at),
                                 name=f"torch-rank-{r}", daemon=True)
                 for r in range(world_size)]
    for p in processes:
        p.start()
    answers, done, failed = {}, 0, True
    deadline = time.monotonic() + timeout
    try:
        while len(answers) < world_size:
            try:
                rank, status, payload = results.get(timeout=0.2)
            except _queue.Empty:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the {world_size} PyTorch ranks did not finish "
                                       f"within {timeout:g} s") from None
                dead = [p for p in processes if p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"PyTorch rank process {dead[0].name} died with exit "
                                       f"code {dead[0].exitcode}") from None
                continue
            if status == "error":
                rank, payload = _first_cause(rank, payload, results)
                if "EADDRINUSE" in payload or "Address already in use" in payload:
                    raise _PortTaken(payload)
                raise RuntimeError(f"PyTorch rank {rank} failed:\n{payload}")
            if status == "step":
                done += 1
                if bar is not None:
                    bar.update(done)
                continue
            answers[rank] = payload
        failed = False
    finally:
        if failed:                           # the others may wait forever in a collective
            for p in processes:
                if p.is_alive():
                    p.kill()
        for p in processes:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
                p.join()
        results.close()
        results.join_thread()
    return [answers[r] for r in range(world_size)]


_ECHOES = ("Connection closed by peer", "Connection reset by peer")


def _first_cause(rank, payload, results, wait: float = 1.0):
    """When one rank fails, its peers' collectives fail next ("connection closed by
    peer"); their reports may even arrive first. Collect the errors for a moment and
    report the one that is not such an echo."""
    errors = [(rank, payload)]
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            r, status, text = results.get(timeout=0.05)
        except _queue.Empty:
            continue
        if status == "error":
            errors.append((r, text))
    causes = [e for e in errors if not any(echo in e[1] for echo in _ECHOES)]
    return (causes or errors)[0]


# --------------------------------------------------------------------------------------
# what chapter 07 calls
# --------------------------------------------------------------------------------------

def allreduce_example(values=(10, 20, 30), *, timeout: float = DEFAULT_TIMEOUT) -> list[float]:
    """The document's example with PyTorch: one process per node, node i holding
    ``values[i]``; returns what each rank holds after the all-reduce."""
    values = _check_values(values)
    ranks = run_ranks([("allreduce_mean", {"values": values})], world_size=len(values),
                      timeout=timeout)
    return [r["allreduce_mean"] for r in ranks]


def _check_values(values) -> list[float]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise TypeError(f"values must be a list of numbers, one per rank, "
                        f"got {type(values).__name__}")
    values = list(values)
    if not 1 <= len(values) <= 16:
        raise ValueError(f"values must hold 1 to 16 numbers (one process each), "
                         f"got {len(values)}")
    out = []
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, Real):
            raise TypeError(f"values[{i}] must be a number, got {type(v).__name__}")
        if not np.isfinite(v):
            raise ValueError(f"values[{i}] must be finite, got {v!r}")
        out.append(float(v))
    return out
