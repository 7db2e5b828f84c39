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

On a 2-core machine only p = 1 and p = 2 can be measured (:mod:`distlab.apps.speedup`);
everything beyond is a **prediction** from those two points, and says so.

Where the loss comes from in data-parallel training: :func:`efficiency` costs one step on
p nodes (the compute split p ways, then the gradients' all-reduce from its plan and the
α-β model of :mod:`distlab.concepts.cost`), so E(p) = T₁ / (p · T_p) falls with p for
the star (a parameter server, whose root's load grows with p) and stays high for the
bandwidth-optimal ring (Patarasuk & Yuan, "Bandwidth optimal all-reduce algorithms for
clusters of workstations", JPDC 69(2), 2009).
"""
from __future__ import annotations

import numpy as np

from distlab.checks import count, fraction, positive
from distlab.concepts.cost import Network, plan_time
from distlab.concepts.plans import EXACT_BUILDERS

__all__ = ["amdahl", "gustafson", "karp_flatt", "fit_amdahl", "serial_fraction_on_parallel",
           "predictions", "efficiency"]


def _worker_counts(p, name: str = "p") -> np.ndarray:
    array = np.asarray(p, dtype=float)
    if array.size == 0 or not np.all(np.isfinite(array)) or np.any(array < 1):
        raise ValueError(f"{name} must be worker counts ≥ 1, got {p!r}")
    return array


def amdahl(f: float, p):
    """Speed-up of a fixed problem with parallel fraction ``f`` on ``p`` workers."""
    f = fraction("f (parallel fraction)", f)
    p = _worker_counts(p)
    result = 1.0 / ((1 - f) + f / p)
    return float(result) if result.ndim == 0 else result


def gustafson(s: float, p):
    """Scaled speed-up with serial fraction ``s`` of the parallel run, on ``p`` workers."""
    s = fraction("s (serial fraction)", s)
    p = _worker_counts(p)
    result = s + (1 - s) * p
    return float(result) if result.ndim == 0 else result


def karp_flatt(speedup: float, p: float) -> float:
    """The experimentally determined serial fraction e from a speed-up on p > 1 workers."""
    speedup = positive("speedup", speedup)
    p = float(_worker_counts(p))
    if p <= 1:
        raise ValueError(f"p must be more than 1 worker, got {p:g}")
    return (1 / speedup - 1 / p) / (1 - 1 / p)


def fit_amdahl(p, speedups) -> float:
    """The parallel fraction f that best fits measured speed-ups (least squares on
    1/S − 1 = f · (1/p − 1), clipped to [0, 1]). Points with p = 1 carry no information."""
    p = _worker_counts(p)
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
    f = fraction("f (parallel fraction)", f)
    p = float(_worker_counts(p))
    return (1 - f) / ((1 - f) + f / p)


def predictions(f: float, measured_at: float = 2, workers=(1, 2, 4, 8, 16, 32, 64)):
    """Predicted speed-ups from a parallel fraction ``f`` (e.g. fitted at p =
    ``measured_at``): Amdahl (same problem) and Gustafson (problem grown with p, serial
    fraction taken from the run at ``measured_at``). A DataFrame, one row per worker count."""
    import pandas as pd

    f = fraction("f (parallel fraction)", f)
    p = _worker_counts(workers, "workers")
    s = serial_fraction_on_parallel(f, measured_at)
    return pd.DataFrame({"workers": p.astype(int),
                         "Amdahl speed-up (prediction)": np.round(amdahl(f, p), 2),
                         "Amdahl efficiency (prediction)": np.round(amdahl(f, p) / p, 2),
                         "Gustafson scaled speed-up (prediction)": np.round(gustafson(s, p), 2)}
                        ).set_index("workers")


def efficiency(nodes=(1, 2, 4, 8, 16, 32, 64), algorithms=("star", "tree", "ring",
               "rabenseifner"), *, gradient_bytes: float = 400e6, compute_s: float = 10.0,
               network: Network = Network(alpha=5e-6, bandwidth=12.5e9)):
    """One training step on p nodes: ``compute_s`` of compute split evenly, then an
    all-reduce of ``gradient_bytes`` (default: a 100-million-parameter model in fp32) over
    ``network`` (default: 5 µs, 100 Gb/s), costed from the algorithm's plan.

    ``algorithms``: exact all-reduce names (``concepts.plans.EXACT_BUILDERS``; gossip
    leaves the nodes only close to the mean, so it has no step time to compare). Returns
    a DataFrame, one row per algorithm and p: the all-reduce seconds, the step seconds
    T_p, the speed-up T₁ / T_p and the efficiency T₁ / (p · T_p). Raises ``TypeError``
    or ``ValueError`` naming the bad argument.
    """
    import pandas as pd

    nodes = [count("nodes", p, minimum=1) for p in nodes]
    if not nodes:
        raise ValueError("nodes must hold at least one node count")
    if isinstance(algorithms, str) or not algorithms:
        raise TypeError("algorithms must be a non-empty list of all-reduce names")
    for algorithm in algorithms:
        if algorithm not in EXACT_BUILDERS:
            raise ValueError(f"unknown algorithm {algorithm!r}; known algorithms: "
                             f"{', '.join(EXACT_BUILDERS)}")
    gradient_bytes = positive("gradient_bytes", gradient_bytes)
    compute_s = positive("compute_s", compute_s)
    if not isinstance(network, Network):
        raise TypeError(f"network must be a distlab.concepts.cost.Network, "
                        f"got {type(network).__name__}")
    n = max(1, int(gradient_bytes) // 8)
    rows = []
    for algorithm in algorithms:
        for p in nodes:
            comm = plan_time(EXACT_BUILDERS[algorithm](p), n, 8, network) if p > 1 else 0.0
            step = compute_s / p + comm
            rows.append({"algorithm": algorithm, "nodes": p, "all-reduce (s)": comm,
                         "step (s)": step, "speed-up": compute_s / step,
                         "efficiency": compute_s / (p * step)})
    return pd.DataFrame(rows)

