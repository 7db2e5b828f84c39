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

from distlab import checks
from distlab.apps import torch_ddp
from distlab.apps.allreduce_timing import (MAX_BYTES, MAX_REPEATS, _median_allreduce_seconds,
                                           _place_arrays)
from distlab.engines import torch_gloo
from distlab.engines.allreduce import ALGORITHMS, allreduce
from distlab.engines.workers import check_client, worker_addresses

#: All-reduce sizes in bytes: latency-bound, middle, bandwidth-bound.
SIZES = (8, 1 << 20, 16 << 20)
#: One training step: the settings chapter 06 uses.
STEP = dict(seed=0, batch=32, lr=2.0)


#: The most training rounds :func:`dask_step_seconds` times (each is a few milliseconds).
MAX_ROUNDS = 1000


def _sizes(sizes) -> tuple[int, ...]:
    """All-reduce sizes: a non-empty list of ints in [8, MAX_BYTES] bytes."""
    sizes = tuple(checks.count(f"sizes[{i}]", s, minimum=8, maximum=MAX_BYTES)
                  for i, s in enumerate(checks.sequence("sizes", sizes)))
    if not sizes:
        raise ValueError("sizes must hold at least one size in bytes")
    return sizes


def _repeats(repeats) -> int:
    return checks.count("repeats", repeats, minimum=1, maximum=MAX_REPEATS)


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
    ``DISTLAB_REQUIRE_TORCH=1`` (as CI does), which makes a missing PyTorch an error.

    ``values`` 2 to 16 finite numbers, ``sizes`` a non-empty list of ints in [8,
    :data:`~distlab.apps.allreduce_timing.MAX_BYTES`], ``repeats`` an int in [1,
    :data:`~distlab.apps.allreduce_timing.MAX_REPEATS`], ``progress`` a bool: else
    ``TypeError``/``ValueError`` naming the argument, before any process starts."""
    sizes, repeats = _sizes(sizes), _repeats(repeats)
    checks.flag("progress", progress)
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
            ("time_allreduce", {"sizes": sizes, "repeats": repeats}, 2),
            (torch_ddp.time_ddp_step, dict(STEP, repeats=repeats, shards=shards), 2)]
    return torch_gloo.run_ranks(jobs, world_size=len(values), progress=progress)


def dask_allreduce_seconds(client, sizes=SIZES, algorithm: str = "recursive_doubling",
                           repeats: int = 5, bar=None) -> dict:
    """Median wall time of distlab's all-reduce on the Dask engine between the first two
    workers, for float64 arrays of each size already on the workers (as a gradient would
    be); one warm-up run per size. ``{size in bytes: seconds}``. ``bar`` (or None) is a
    progress bar whose ``update(done)`` is called after each size.

    ``sizes``, ``repeats`` as in :func:`run_torch`, ``algorithm`` one of
    :data:`~distlab.engines.allreduce.ALGORITHMS`: else ``TypeError``/``ValueError``
    naming the argument (a closed or missing client included); ``RuntimeError`` with
    fewer than 2 workers."""
    check_client(client)
    sizes, repeats = _sizes(sizes), _repeats(repeats)
    checks.choice("algorithm", algorithm, ALGORITHMS)
    if bar is not None and not callable(getattr(bar, "update", None)):
        raise TypeError(f"bar must be a progress bar with update(done), or None; "
                        f"got {type(bar).__name__}")
    workers = worker_addresses(client, at_least=2)[:2]
    out = {}
    for size in sizes:
        placed = _place_arrays(client, workers, size)
        allreduce(placed, algorithm, client, workers=workers)             # warm-up
        out[size] = _median_allreduce_seconds(client, placed, workers, algorithm, repeats)
        del placed
        if bar is not None:
            bar.update(len(out))
    return out


def dask_step_seconds(client, rounds: int = 10) -> float:
    """Seconds per round of distlab's synchronous strategy on 2 nodes (gradients as tasks
    on the workers, the all-reduce, the step), from a run of ``rounds`` rounds (it also
    evaluates the model after each round, in the client, as DDP does not). ``rounds`` an
    int in [1, :data:`MAX_ROUNDS`]; errors as :func:`dask_allreduce_seconds`."""
    from distlab.apps.training import train

    check_client(client)
    rounds = checks.count("rounds", rounds, minimum=1, maximum=MAX_ROUNDS)
    begin = time.perf_counter()
    train("sync", client, nodes=2, rounds=rounds, checkpoint_every=rounds, **STEP)
    return (time.perf_counter() - begin) / rounds


def measure_dask(client, startup_s: float, *, sizes=SIZES, repeats: int = 5,
                 rounds: int = 10, progress: bool = False) -> dict:
    """Dask's side of the table: ``startup_s`` (measured by the caller around
    ``distlab.connect()``, a finite number ≥ 0), the all-reduce times and the seconds per
    training round. Errors as :func:`dask_allreduce_seconds` and
    :func:`dask_step_seconds`, raised before anything runs."""
    check_client(client)
    startup_s = checks.number("startup_s", startup_s, minimum=0)
    sizes, repeats = _sizes(sizes), _repeats(repeats)
    rounds = checks.count("rounds", rounds, minimum=1, maximum=MAX_ROUNDS)
    checks.flag("progress", progress)
    bar = None
    if progress:
        from distlab.engines.progress import StepsBar
        bar = StepsBar("Dask side", len(sizes) + 1)
    out = {"startup_s": startup_s,
           "allreduce_s": dask_allreduce_seconds(client, sizes, repeats=repeats, bar=bar),
           "step_s": dask_step_seconds(client, rounds)}
    if bar is not None:
        bar.update(len(sizes) + 1)
    return out


def table(dask: dict, torch_ranks) -> pd.DataFrame:
    """The measured table. ``dask``: ``{"startup_s": …, "allreduce_s": {size: s},
    "step_s": …}``; ``torch_ranks``: what :func:`run_torch` returned (or ``None``: the
    PyTorch column is left empty). Times in milliseconds, start-up in seconds. Raises
    ``TypeError``/``ValueError`` naming the argument when one is not of that form."""
    _check_table_inputs(dask, torch_ranks)
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


def _check_table_inputs(dask, torch_ranks) -> None:
    if not isinstance(dask, dict) or not {"startup_s", "allreduce_s", "step_s"} <= set(dask):
        raise TypeError("dask must be measure_dask()'s dict, with startup_s, allreduce_s "
                        f"and step_s; got {dask!r}"[:200])
    if not isinstance(dask["allreduce_s"], dict) or not dask["allreduce_s"]:
        raise ValueError("dask must hold allreduce_s, a dict {size in bytes: seconds}")
    if torch_ranks is None:
        return
    keys = {"startup_s", "time_allreduce", "time_ddp_step"}
    if isinstance(torch_ranks, (str, bytes, dict)) or not hasattr(torch_ranks, "__len__") \
            or len(torch_ranks) < 2 or not all(isinstance(r, dict) and keys <= set(r)
                                               for r in torch_ranks[:2]):
        raise TypeError("torch_ranks must be what run_torch() returned (a list of the ranks' "
                        f"dicts) or None; got {type(torch_ranks).__name__}")
    if set(dask["allreduce_s"]) - set(torch_ranks[0]["time_allreduce"]):
        raise ValueError("torch_ranks must hold a timing for every size of dask")
