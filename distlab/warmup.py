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
    # 50k points at a time: 800 KB stays in a core's cache, so tasks on two workers do not
    # compete for memory bandwidth (the same draws, so the same count, for any chunk size)
    for start in range(0, darts, 50_000):
        xy = rng.random((min(50_000, darts - start), 2))
        inside += int(np.count_nonzero((xy * xy).sum(axis=1) <= 1.0))
    return inside


def estimate_pi(counts, darts: int) -> float:
    """π ≈ 4 × (darts inside) / (darts thrown)."""
    counts = list(counts)
    if not counts:
        raise ValueError("counts must hold at least one task's count")
    return 4.0 * sum(counts) / (darts * len(counts))
