"""Chapter 07's comparison: the same work on Dask (through distlab) and on PyTorch
Distributed, measured on this machine.

The work: the document's 10 / 20 / 30 all-reduce, all-reduces of 8 B, 1 MiB and 16 MiB
between two processes, and one synchronous data-parallel training step of chapter 06's
softmax regression. PyTorch's side runs in one spawn of three ranks
(:func:`distlab.engines.torch_gloo.run_ranks`, with the DDP jobs of
:mod:`distlab.apps.torch_ddp`): the example on all three, everything else on the first
two, so both tools use two processes, one per core. Timings are medians, shown and never
asserted; the results (the averages, the trained parameters) are checked equal.
"""
from __future__ import annotations

import os
import time

import pandas as pd

from distlab.apps import torch_ddp
from distlab.apps.allreduce_timing import median_allreduce_seconds, place_arrays
from distlab.engines import torch_gloo
from distlab.engines.allreduce import allreduce
from distlab.engines.workers import worker_addresses

#: All-reduce sizes in bytes: latency-bound, middle, bandwidth-bound.
SIZES = (8, 1 << 20, 16 << 20)
#: One training step: the settings chapter 06 uses.
STEP = dict(seed=0, batch=32, lr=2.0)


def _size_label(size: int) -> str:
    if size >= 1 << 20:
        return f"{size >> 20} MiB"
    if size >= 1 << 10:
        return f"{size >> 10} KiB"
    return f"{size} B"


def run_torch(values=(10, 20, 30), *, sizes=SIZES, repeats: int = 5,
              progress: bool = False):
    """PyTorch's side in one spawn: the all-reduce of ``values`` on ``len(values)`` ranks;
    one DDP step, the all-reduce timings and the DDP step timing on 2 ranks. Returns the
    ranks' results (:func:`distlab.engines.torch_gloo.run_ranks`), or ``None`` after
    printing how to install PyTorch when it is missing — unless the environment sets
    ``DISTLAB_REQUIRE_TORCH=1`` (as CI does), which makes a missing PyTorch an error."""
    if not torch_gloo.available():
        if os.environ.get("DISTLAB_REQUIRE_TORCH") == "1":
            raise ModuleNotFoundError("DISTLAB_REQUIRE_TORCH=1 but " + torch_gloo.INSTALL_HINT)
        print(torch_gloo.INSTALL_HINT)
        return None
    values = torch_gloo.check_values(values)
    if len(values) < 2:
        raise ValueError("values must hold at least 2 numbers: the comparison uses 2 ranks")
    shards = torch_ddp.shards_for(2, STEP["seed"])        # the ranks need no scikit-learn
    jobs = [("allreduce_mean", {"values": values}),
            (torch_ddp.ddp_step, dict(STEP, steps=1, shards=shards), 2),
            ("time_allreduce", {"sizes": tuple(sizes), "repeats": repeats}, 2),
            (torch_ddp.time_ddp_step, dict(STEP, repeats=repeats, shards=shards), 2)]
    return torch_gloo.run_ranks(jobs, world_size=len(values), progress=progress)


def dask_allreduce_seconds(client, sizes=SIZES, algorithm: str = "recursive_doubling",
                           repeats: int = 5, bar=None) -> dict:
    """Median wall time of distlab's all-reduce on the Dask engine between the first two
    workers, for float64 arrays of each size already on the workers (as a gradient would
    be); one warm-up run per size. ``{size in bytes: seconds}``."""
    workers = worker_addresses(client, at_least=2)[:2]
    out = {}
    for size in sizes:
        placed = place_arrays(client, workers, size)
        allreduce(placed, algorithm, client, workers=workers)             # warm-up
        out[int(size)] = median_allreduce_seconds(client, placed, workers, algorithm,
                                                  repeats)
        del placed
        if bar is not None:
            bar.update(len(out))
    return out


def dask_step_seconds(client, rounds: int = 10) -> float:
    """Seconds per round of distlab's synchronous strategy on 2 nodes (gradients as tasks
    on the workers, the all-reduce, the step), from a run of ``rounds`` rounds (it also
    evaluates the model after each round, in the client, as DDP does not)."""
    from distlab.apps.training import train

    begin = time.perf_counter()
    train("sync", client, nodes=2, rounds=rounds, checkpoint_every=rounds, **STEP)
    return (time.perf_counter() - begin) / rounds


def measure_dask(client, startup_s: float, *, sizes=SIZES, repeats: int = 5,
                 rounds: int = 10, progress: bool = False) -> dict:
    """Dask's side of the table: ``startup_s`` (measured by the caller around
    ``distlab.connect()``), the all-reduce times and the seconds per training round."""
    bar = None
    if progress:
        from distlab.engines.progress import StepsBar
        bar = StepsBar("Dask side", len(sizes) + 1)
    out = {"startup_s": float(startup_s),
           "allreduce_s": dask_allreduce_seconds(client, sizes, repeats=repeats, bar=bar),
           "step_s": dask_step_seconds(client, rounds)}
    if bar is not None:
        bar.update(len(sizes) + 1)
    return out


def table(dask: dict, torch_ranks) -> pd.DataFrame:
    """The measured table. ``dask``: ``{"startup_s": …, "allreduce_s": {size: s},
    "step_s": …}``; ``torch_ranks``: what :func:`run_torch` returned (or ``None``: the
    PyTorch column is left empty). Times in milliseconds, start-up in seconds."""
    rows = [("start-up: cluster ready (s)", dask["startup_s"],
             None if torch_ranks is None else max(r["startup_s"] for r in torch_ranks[:2]))]
    torch_times = None if torch_ranks is None else torch_ranks[0]["time_allreduce"]
    for size, seconds in dask["allreduce_s"].items():
        rows.append((f"all-reduce {_size_label(size)}, 2 processes (ms)", seconds * 1e3,
                     None if torch_times is None else torch_times[size] * 1e3))
    rows.append(("one data-parallel training step (ms)", dask["step_s"] * 1e3,
                 None if torch_ranks is None else torch_ranks[0]["time_ddp_step"] * 1e3))
    frame = pd.DataFrame(rows, columns=["measure", "Dask + distlab", "PyTorch + gloo"])
    frame["Dask ÷ PyTorch"] = frame["Dask + distlab"] / frame["PyTorch + gloo"]
    return frame.set_index("measure").astype(float).round(2)
