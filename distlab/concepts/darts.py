"""A first parallel computation: estimate π by throwing seeded darts, one task per seed."""
from __future__ import annotations

import numpy as np

from distlab.checks import count

#: The most darts one call throws: 10⁹ take a few seconds on one core; a larger count
#: is refused rather than left to run for minutes (split the work into more tasks).
MAX_DARTS = 10**9


def darts_in_circle(seed: int, darts: int = 2_000_000) -> int:
    """How many of ``darts`` uniform points in the unit square fall inside the quarter circle.

    Seeded, so the same seed gives the same count on any worker: the estimate is exact
    and reproducible however the tasks are spread over the cluster. ``seed`` is an int
    ≥ 0, ``darts`` an int in [1, :data:`MAX_DARTS`]; anything else raises ``TypeError``
    (not an int) or ``ValueError`` (out of range).
    """
    seed = count("seed", seed)
    darts = count("darts", darts, minimum=1, maximum=MAX_DARTS)
    rng = np.random.default_rng(seed)
    inside = 0
    # 50k points at a time into buffers allocated once: 800 KB stays in a core's cache, and
    # no temporary is allocated per chunk. (Dask's nanny starts workers with
    # MALLOC_TRIM_THRESHOLD_=65536, which makes every large temporary fresh memory, paid
    # in page faults: twice this task's time.) The same draws, so the same count, for any
    # chunk size.
    chunk = min(50_000, darts)
    xy, r2 = np.empty((chunk, 2)), np.empty(chunk)
    for start in range(0, darts, chunk):
        m = min(chunk, darts - start)
        points = rng.random(out=xy[:m])
        np.multiply(points, points, out=points)
        np.add(points[:, 0], points[:, 1], out=r2[:m])          # x² + y²
        inside += int(np.count_nonzero(r2[:m] <= 1.0))
    return inside


def estimate_pi(counts, darts: int) -> float:
    """π ≈ 4 × (darts inside) / (darts thrown): ``counts`` holds each task's count (ints
    in [0, darts]), ``darts`` the darts each task threw (an int ≥ 1).

    Raises ``TypeError`` (counts not a list of ints, darts not an int) or ``ValueError``
    (no counts, a count outside [0, darts], darts < 1).
    """
    darts = count("darts", darts, minimum=1)
    if isinstance(counts, (str, bytes)) or not hasattr(counts, "__iter__"):
        raise TypeError(f"counts must be a list of ints, one per task, "
                        f"got {type(counts).__name__}")
    counts = [count(f"counts[{i}]", c) for i, c in enumerate(counts)]
    if not counts:
        raise ValueError("counts must hold at least one task's count")
    if max(counts) > darts:
        i = counts.index(max(counts))
        raise ValueError(f"counts[{i}] must be ≤ darts ({darts:,}): a task cannot land more "
                         f"darts than it threw; got {counts[i]:,}")
    return 4.0 * sum(counts) / (darts * len(counts))
