"""A first parallel computation: estimate π by throwing seeded darts, one task per seed."""
from __future__ import annotations

import numpy as np


def darts_in_circle(seed: int, darts: int = 2_000_000) -> int:
    """How many of ``darts`` uniform points in the unit square fall inside the quarter circle.

    Seeded, so the same seed gives the same count on any worker: the estimate is exact
    and reproducible however the tasks are spread over the cluster.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if isinstance(darts, bool) or not isinstance(darts, (int, np.integer)) or darts < 1:
        raise ValueError(f"darts must be a positive int, got {darts!r}")
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
    """π ≈ 4 × (darts inside) / (darts thrown)."""
    counts = list(counts)
    if not counts:
        raise ValueError("counts must hold at least one task's count")
    return 4.0 * sum(counts) / (darts * len(counts))
