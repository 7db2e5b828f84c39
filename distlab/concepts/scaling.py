"""Scalability: what adding workers buys, measured on 1 and 2 workers and predicted beyond.

The document (2.1) says a distributed system scales: add nodes, get more performance.
Three classic laws say how much, each from a speed-up S(p) = T(1) / T(p) on p workers:

- **Amdahl** (G. Amdahl, "Validity of the single processor approach to achieving large
  scale computing capabilities", AFIPS 1967): a fixed problem whose parallel fraction is
  f runs S(p) = 1 / ((1 − f) + f / p) times faster, never more than 1 / (1 − f).
- **Gustafson** (J. Gustafson, "Reevaluating Amdahl's Law", CACM 31(5), 1988): if the
  problem grows with the machine (weak scaling), the scaled speed-up is
  S(p) = s + (1 − s) · p, where s is the serial share of the time *of the run on p
  workers* — not Amdahl's 1 − f, the serial share of the one-worker run. From Amdahl's f
  and a run on p₀ workers, s = (1 − f) / ((1 − f) + f / p₀)
  (:func:`serial_fraction_on_parallel`): f = 0.95 at p₀ = 2 gives s = 0.095 and S(64) =
  58.0, while s = 0.05 would give 60.85.
- **Karp–Flatt** (A. Karp, H. Flatt, "Measuring Parallel Processor Performance", CACM
  33(5), 1990): the experimentally determined serial fraction e = (1/S − 1/p) / (1 − 1/p).
  It lumps serial code and overhead together; what separates them is how e moves. Serial
  code is a fixed share of the work, so it gives the same e however the work is cut and
  at every p; if e grows with p, or with the number of tasks at the same p, or differs
  between two ways of running the same work, the loss is overhead (communication,
  scheduling, contention for shared cores), not serial code. One speed-up alone cannot
  tell them apart: fitted to one point, Amdahl's 1 − f *is* e.

:func:`karp_flatt_table` computes S, efficiency, e and Amdahl's fit from timings of the same
work at several p, task counts and engines (:func:`distlab.apps.speedup.measure_scaling`
measures them: Dask beside bare processes, the machine's own ceiling). On a 2-core machine
only p = 1 and p = 2 can be measured; everything beyond is a **prediction**, and says so.

Where the loss comes from in data-parallel training: :func:`efficiency` costs one step on
p nodes (the compute split p ways, then the gradients' all-reduce from its plan and the
α-β model of :mod:`distlab.concepts.cost`), so E(p) = T₁ / (p · T_p) falls with p for
the star (a parameter server, whose root's load grows with p) and stays high for the
bandwidth-optimal ring (Patarasuk & Yuan, "Bandwidth optimal all-reduce algorithms for
clusters of workstations", JPDC 69(2), 2009).
"""
from __future__ import annotations

import numpy as np

from distlab.checks import count, fraction, positive, sequence
from distlab.concepts.cost import Network, plan_time
from distlab.concepts.plans import EXACT_BUILDERS, MAX_NODES

__all__ = ["amdahl", "gustafson", "karp_flatt", "fit_amdahl", "serial_fraction_on_parallel",
           "karp_flatt_table", "predictions", "efficiency"]


def _worker_counts(p, name: str = "p") -> np.ndarray:
    """``p`` (a number or a list of them, each ≥ 1; fractions allowed, as the laws are
    formulas) as a float array; ``TypeError`` for anything else, bools included."""
    try:
        kind = np.asarray(p).dtype.kind
    except (TypeError, ValueError):        # a ragged list
        kind = "O"
    if kind not in "iuf":
        raise TypeError(f"{name} must be a worker count or a list of them, got "
                        f"{type(p).__name__} {p!r}")
    array = np.asarray(p, dtype=float)
    if array.size == 0 or not np.all(np.isfinite(array)) or np.any(array < 1):
        raise ValueError(f"{name} must be worker counts ≥ 1, got {p!r}")
    return array


def amdahl(f: float, p):
    """Speed-up of a fixed problem with parallel fraction ``f`` (in [0, 1]) on ``p``
    workers (a number ≥ 1 or an array of them: a float or an array back).
    ``TypeError``/``ValueError`` naming the argument otherwise."""
    f = fraction("f (parallel fraction)", f)
    p = _worker_counts(p)
    result = 1.0 / ((1 - f) + f / p)
    return float(result) if result.ndim == 0 else result


def gustafson(s: float, p):
    """Scaled speed-up S = s + (1 − s)·p on ``p`` workers, ``s`` the serial share of the
    time of the run on p workers (Gustafson 1988; not Amdahl's 1 − f: see
    :func:`serial_fraction_on_parallel`). Arguments and errors as :func:`amdahl`."""
    s = fraction("s (serial fraction)", s)
    p = _worker_counts(p)
    result = s + (1 - s) * p
    return float(result) if result.ndim == 0 else result


def karp_flatt(speedup: float, p: float) -> float:
    """The experimentally determined serial fraction e from a speed-up (> 0) on p > 1
    workers; ``TypeError``/``ValueError`` naming the argument otherwise."""
    speedup = positive("speedup", speedup)
    p = float(_worker_counts(p))
    if p <= 1:
        raise ValueError(f"p must be more than 1 worker, got {p:g}")
    return (1 / speedup - 1 / p) / (1 - 1 / p)


def fit_amdahl(p, speedups) -> float:
    """The parallel fraction f that best fits measured speed-ups (least squares on
    1/S − 1 = f · (1/p − 1), clipped to [0, 1]). Points with p = 1 carry no information.
    ``p`` worker counts ≥ 1 and ``speedups`` positive numbers, as many; ``TypeError``/
    ``ValueError`` naming the argument otherwise."""
    p = _worker_counts(p)
    try:
        s = np.asarray(speedups, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"speedups must be a list of numbers, got {speedups!r}") from None
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
    s = (1 − f) / ((1 − f) + f / p). Arguments and errors as :func:`amdahl`."""
    f = fraction("f (parallel fraction)", f)
    p = float(_worker_counts(p))
    return (1 - f) / ((1 - f) + f / p)


def karp_flatt_table(timings):
    """Speed-up, efficiency, Karp–Flatt e and Amdahl's fit from timings of the same work.

    ``timings``: a DataFrame (or a list of dicts) with ``engine``, ``tasks``, ``workers``
    and ``seconds``, where each (engine, tasks) group holds a run on 1 worker. Returns the
    timings with, per row, ``speed-up`` S = T(1) / T(p) within its group, ``efficiency``
    S / p, ``Karp-Flatt e`` (NaN at p = 1; it may fall outside [0, 1] on a noisy
    machine), and per group ``Amdahl 1 - f (fit)``, the serial fraction of
    :func:`fit_amdahl` on all the group's points — equal to e when p = 2 is the only
    other point. Raises ``TypeError`` for timings that are neither, ``ValueError`` for a
    missing column or a group without p = 1."""
    import pandas as pd

    if not isinstance(timings, pd.DataFrame) and (
            isinstance(timings, (str, bytes, dict)) or not hasattr(timings, "__iter__")):
        raise TypeError(f"timings must be a DataFrame or a list of dicts, got "
                        f"{type(timings).__name__}")
    try:
        frame = pd.DataFrame(timings).copy()
    except (TypeError, ValueError) as exc:
        raise TypeError(f"timings must be a DataFrame or a list of dicts: {exc}") from None
    missing = {"engine", "tasks", "workers", "seconds"} - set(frame.columns)
    if missing:
        raise ValueError(f"timings must have columns engine, tasks, workers and seconds; "
                         f"missing {sorted(missing)}")
    parts = []
    for (engine, tasks), group in frame.groupby(["engine", "tasks"], sort=False):
        one = group.loc[group["workers"] == 1, "seconds"]
        if one.empty:
            raise ValueError(f"{engine} with {tasks} tasks has no run on 1 worker")
        group = group.copy()
        p, speedup = group["workers"].to_numpy(float), one.iloc[0] / group["seconds"]
        group["speed-up"] = speedup
        group["efficiency"] = speedup / p
        group["Karp-Flatt e"] = [karp_flatt(s, q) if q > 1 else np.nan
                                 for s, q in zip(speedup, p)]
        group["Amdahl 1 - f (fit)"] = (1 - fit_amdahl(p, speedup.to_numpy()) if np.any(p > 1)
                                       else np.nan)
        parts.append(group)
    return pd.concat(parts)


def predictions(f: float, measured_at: float = 2, workers=(1, 2, 4, 8, 16, 32, 64)):
    """Predicted speed-ups from a parallel fraction ``f`` (e.g. fitted at p =
    ``measured_at``): Amdahl (same problem) and Gustafson (problem grown with p). A
    DataFrame, one row per worker count. The Gustafson column's name states its serial
    share s: the share of the run on ``measured_at`` workers spent in serial code,
    :func:`serial_fraction_on_parallel` (``table.attrs["gustafson s"]`` holds it).
    ``TypeError``/``ValueError`` naming the argument (as :func:`amdahl`)."""
    import pandas as pd

    f = fraction("f (parallel fraction)", f)
    p = _worker_counts(workers, "workers")
    if p.ndim != 1:
        raise TypeError(f"workers must be a list of worker counts, got {workers!r}")
    s = serial_fraction_on_parallel(f, float(_worker_counts(measured_at, "measured_at")))
    table = pd.DataFrame({"workers": p.astype(int),
                          "Amdahl speed-up (prediction)": np.round(amdahl(f, p), 2),
                          "Amdahl efficiency (prediction)": np.round(amdahl(f, p) / p, 2),
                          f"Gustafson scaled speed-up (prediction, s = {s:.3f})":
                              np.round(gustafson(s, p), 2)}).set_index("workers")
    table.attrs["gustafson s"] = s
    return table


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

    nodes = [count(f"nodes[{i}]", p, minimum=1, maximum=MAX_NODES)
             for i, p in enumerate(sequence("nodes", nodes))]
    if not nodes:
        raise ValueError("nodes must hold at least one node count")
    try:
        algorithms = sequence("algorithms", algorithms)
    except TypeError:
        raise TypeError(f"algorithms must be a non-empty list of all-reduce names, "
                        f"got {type(algorithms).__name__}") from None
    if not algorithms:
        raise ValueError("algorithms must be a non-empty list of all-reduce names")
    for algorithm in algorithms:
        if not isinstance(algorithm, str) or algorithm not in EXACT_BUILDERS:
            raise ValueError(f"algorithms holds an unknown algorithm {algorithm!r}; known: "
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

