"""Scalability: what adding workers buys, measured on 1 and 2 workers and predicted beyond.

The document (2.1) says a distributed system scales: add nodes, get more performance.
Three classic laws say how much, each from a speed-up S(p) = T(1) / T(p) on p workers:

- **Amdahl** (G. Amdahl, "Validity of the single processor approach to achieving large
  scale computing capabilities", AFIPS 1967): a fixed problem whose parallel fraction is
  f runs S(p) = 1 / ((1 − f) + f / p) times faster, never more than 1 / (1 − f).
- **Gustafson** (J. Gustafson, "Reevaluating Amdahl's Law", CACM 31(5), 1988): if the
  problem grows with the machine (weak scaling), with serial fraction s measured on the
  parallel run, the scaled speed-up is S(p) = s + (1 − s) · p.
- **Karp–Flatt** (A. Karp, H. Flatt, "Measuring Parallel Processor Performance", CACM
  33(5), 1990): the experimentally determined serial fraction e = (1/S − 1/p) / (1 − 1/p).
  If e grows with p, the loss is overhead (communication, scheduling), not serial code.

On a 2-core machine only p = 1 and p = 2 can be measured; everything beyond is a
**prediction** from those two points, and says so.
"""
from __future__ import annotations

import math
import time
from numbers import Real

import numpy as np

__all__ = ["amdahl", "gustafson", "karp_flatt", "fit_amdahl", "serial_fraction_on_parallel",
           "predictions", "measure_speedup"]


def _workers(p, name: str = "p") -> np.ndarray:
    array = np.asarray(p, dtype=float)
    if array.size == 0 or not np.all(np.isfinite(array)) or np.any(array < 1):
        raise ValueError(f"{name} must be worker counts ≥ 1, got {p!r}")
    return array


def _fraction(f, name: str) -> float:
    if isinstance(f, bool) or not isinstance(f, (Real, np.floating)) or not 0 <= f <= 1:
        raise ValueError(f"{name} must be a fraction in [0, 1], got {f!r}")
    return float(f)


def amdahl(f: float, p):
    """Speed-up of a fixed problem with parallel fraction ``f`` on ``p`` workers."""
    f = _fraction(f, "f (parallel fraction)")
    p = _workers(p)
    result = 1.0 / ((1 - f) + f / p)
    return float(result) if result.ndim == 0 else result


def gustafson(s: float, p):
    """Scaled speed-up with serial fraction ``s`` of the parallel run, on ``p`` workers."""
    s = _fraction(s, "s (serial fraction)")
    p = _workers(p)
    result = s + (1 - s) * p
    return float(result) if result.ndim == 0 else result


def karp_flatt(speedup: float, p: float) -> float:
    """The experimentally determined serial fraction e from a speed-up on p > 1 workers."""
    if isinstance(speedup, bool) or not isinstance(speedup, (Real, np.floating)) \
            or not math.isfinite(speedup) or speedup <= 0:
        raise ValueError(f"speedup must be a positive number, got {speedup!r}")
    p = float(_workers(p))
    if p <= 1:
        raise ValueError(f"p must be more than 1 worker, got {p:g}")
    return (1 / speedup - 1 / p) / (1 - 1 / p)


def fit_amdahl(p, speedups) -> float:
    """The parallel fraction f that best fits measured speed-ups (least squares on
    1/S − 1 = f · (1/p − 1), clipped to [0, 1]). Points with p = 1 carry no information."""
    p = _workers(p)
    s = np.asarray(speedups, dtype=float)
    if s.shape != p.shape:
        raise ValueError(f"p and speedups must have the same length, got {p.size} and {s.size}")
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError("speedups must be positive finite numbers")
    x, y = 1 / p - 1, 1 / s - 1
    if not np.any(x != 0):
        raise ValueError("fit_amdahl needs at least one measurement with p > 1")
    return float(np.clip((x @ y) / (x @ x), 0.0, 1.0))


def serial_fraction_on_parallel(f: float, p: float) -> float:
    """Gustafson's s from Amdahl's f: the share of the p-worker run spent in serial code,
    s = (1 − f) / ((1 − f) + f / p)."""
    f = _fraction(f, "f (parallel fraction)")
    p = float(_workers(p))
    return (1 - f) / ((1 - f) + f / p)


def predictions(f: float, measured_at: float = 2, workers=(1, 2, 4, 8, 16, 32, 64)):
    """Predicted speed-ups from a parallel fraction ``f`` (e.g. fitted at p =
    ``measured_at``): Amdahl (same problem) and Gustafson (problem grown with p, serial
    fraction taken from the run at ``measured_at``). A DataFrame, one row per worker count."""
    import pandas as pd

    f = _fraction(f, "f (parallel fraction)")
    p = _workers(workers, "workers")
    s = serial_fraction_on_parallel(f, measured_at)
    return pd.DataFrame({"workers": p.astype(int),
                         "Amdahl speed-up (prediction)": np.round(amdahl(f, p), 2),
                         "Amdahl efficiency (prediction)": np.round(amdahl(f, p) / p, 2),
                         "Gustafson scaled speed-up (prediction)": np.round(gustafson(s, p), 2)}
                        ).set_index("workers")


def measure_speedup(client, tasks: int = 8, darts: int = 8_000_000) -> dict:
    """Time the same CPU-bound work (``tasks`` seeded dart-throwing tasks) on one worker,
    then spread over every worker. Returns the times, the speed-up, the Karp–Flatt e and
    whether both runs gave the same counts (they must). Timings: show, never assert."""
    from distributed import wait

    from distlab.concepts.darts import darts_in_circle

    if isinstance(tasks, bool) or not isinstance(tasks, int) or tasks < 1:
        raise ValueError(f"tasks must be a positive int, got {tasks!r}")
    workers = sorted(client.nthreads())       # asks the scheduler, unlike scheduler_info()
    if not workers:
        raise RuntimeError("the cluster has no workers")
    p = len(workers)
    # Warm up: every worker imports numpy and runs the function once before timing.
    wait([client.submit(darts_in_circle, 0, 1000, workers=[w], pure=False) for w in workers])

    begin = time.perf_counter()
    one = client.map(darts_in_circle, range(tasks), darts=darts, workers=[workers[0]],
                     allow_other_workers=False, pure=False)
    wait(one)
    t1 = time.perf_counter() - begin

    begin = time.perf_counter()
    spread = client.map(darts_in_circle, range(tasks), darts=darts, pure=False)
    wait(spread)
    tp = time.perf_counter() - begin
    same = client.gather(one) == client.gather(spread)
    speedup = t1 / tp
    return {"workers": p, "T(1) (s)": t1, f"T({p}) (s)": tp, "speed-up": speedup,
            "Karp-Flatt e": karp_flatt(speedup, p) if p > 1 else float("nan"),
            "same result": same}
