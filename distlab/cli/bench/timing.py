"""Ways to time a call: the least disturbed of a few runs; every run after a warm-up, for
its median and 90th percentile; and the same for gloo's ranks. The benchmark reports times
and nowhere else in distlab are they taken."""
from __future__ import annotations

import statistics
import time

import numpy as np

#: Internal to ``python -m distlab bench`` (:func:`distlab.cli.bench.run`).
__all__: list[str] = []


def best_of(func, repeats: int = 5) -> float:
    """The fastest of ``repeats`` runs of ``func()``, in seconds (the least disturbed one):
    for work whose time only noise can lengthen (numpy, a CPU-bound map)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def call_times(run, repeats: int) -> list[float]:
    """The seconds of each of ``repeats`` runs of ``run()`` after one warm-up run
    (connections, caches, plans): for calls whose own time varies (a message round)."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def median_time(run, repeats: int) -> float:
    """The median seconds of ``repeats`` runs of ``run()`` after one warm-up run."""
    return statistics.median(call_times(run, repeats))


def p90(times) -> float:
    """The 90th percentile of ``times`` (numpy's linear interpolation): the slow tail a
    median hides."""
    return float(np.percentile(times, 90))


def gloo_call_times(rank: int, world_size: int, *, group=None, sizes=(8,),
                    repeats: int = 21) -> dict:
    """A job for :func:`distlab.engines.torch_gloo.run_ranks`: the seconds of each of
    ``repeats`` gloo all-reduces (sum, then the divide) of a float64 tensor of each size
    in bytes, after one warm-up, every call started together (a barrier) and counted as
    the slowest rank's, as :func:`distlab.engines.torch_gloo.time_allreduce` times its
    median. Returns ``{size: [seconds, ...]}``; a size given twice keeps its second
    timing (the first calls of a gloo group are slower)."""
    import torch
    import torch.distributed as dist

    def timed(x) -> float:                  # started together, the slowest rank's time
        dist.barrier(group=group)
        start = time.perf_counter()
        dist.all_reduce(x, op=dist.ReduceOp.SUM, group=group)
        x.div_(world_size)
        elapsed = torch.tensor([time.perf_counter() - start], dtype=torch.float64)
        dist.all_reduce(elapsed, op=dist.ReduceOp.MAX, group=group)
        return float(elapsed.item())

    out = {}
    for size in sizes:
        tensor = torch.ones(max(1, int(size) // 8), dtype=torch.float64)
        timed(tensor)                                             # warm-up
        out[int(size)] = [timed(tensor) for _ in range(repeats)]
    return out
