"""The job to tune: the mean gradient of least squares on random Fourier features.

The heart of data-parallel training: the gradient of a model over a data set spread
across workers, averaged so that every worker ends holding it — the averaging formula
X_i' = (1/N) Σ_j X_j applied to partial gradients. Every row is made where it is used
(from ``(seed, row)``), so no data crosses the network, only partial gradients; any
partitioning of the rows sees the same data and adds up to the same gradient.
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass

import numpy as np

from distlab import checks


#: The largest job: rows made one at a time (10⁵ take seconds), and the floats of the
#: feature map W (2²⁴: 128 MiB on every worker).
MAX_ROWS = 100_000
MAX_WEIGHTS = 1 << 24


@dataclass(frozen=True)
class Job:
    """The mean gradient of least squares on random Fourier features (Rahimi & Recht,
    "Random Features for Large-Scale Kernel Machines", NIPS 2007): row r is an input
    x_r ∈ R^inputs and a target y_r, both drawn from ``(seed, r)``; its features are
    z_r = cos(W x_r + b), and the gradient at the fixed model w is
    (1/rows) Σ_r z_r (z_r·w − y_r), a vector of ``features`` floats. Every row is made
    where it is used, so no data crosses the network — only partial gradients.
    ``TypeError``/``ValueError`` for a field that is not an int in range: ``rows`` up to
    :data:`MAX_ROWS`, ``inputs`` × ``features`` up to :data:`MAX_WEIGHTS`."""
    rows: int = 256
    inputs: int = 32
    features: int = 16384
    seed: int = 0

    def __post_init__(self):
        limits = {"rows": (1, MAX_ROWS), "inputs": (1, None), "features": (1, None),
                  "seed": (0, None)}
        for name, (low, high) in limits.items():
            checks.count(f"Job.{name}", getattr(self, name), minimum=low, maximum=high)
        # the feature map W holds inputs × features floats on every worker
        checks.count("Job.features", self.features, maximum=MAX_WEIGHTS // self.inputs,
                     limit=f"inputs × features ≤ {MAX_WEIGHTS:,} with inputs={self.inputs}")

    @property
    def vector_bytes(self) -> int:
        """Bytes of the gradient: ``features`` float64."""
        return self.features * 8


@functools.lru_cache(maxsize=4)
def _feature_map(seed: int, inputs: int, features: int):
    """W, b and the model w: the same in every process (cached once per worker)."""
    rng = np.random.default_rng([seed, 1])
    W = rng.standard_normal((inputs, features)) / math.sqrt(inputs)
    b = rng.uniform(0.0, 2.0 * math.pi, features)
    w = np.full(features, 1.0 / features)
    for a in (W, b, w):
        a.setflags(write=False)
    return W, b, w


def _check_rows(job, start, stop) -> tuple[int, int]:
    if not isinstance(job, Job):
        raise TypeError(f"job must be a tuning.Job, got {type(job).__name__}")
    start = checks.count("start", start, maximum=job.rows - 1, limit="the job's last row")
    stop = checks.count("stop", stop, minimum=start + 1, maximum=job.rows,
                        limit="the job's rows")
    return start, stop


def make_rows(job: Job, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``start`` … ``stop − 1`` of the job's data: inputs X and targets y. Row r
    depends only on ``(seed, r)``, so any partitioning sees the same data. ``job`` a
    :class:`Job`, 0 ≤ ``start`` < ``stop`` ≤ ``job.rows`` (ints); ``TypeError``/
    ``ValueError`` naming the argument otherwise."""
    start, stop = _check_rows(job, start, stop)
    draws = np.stack([np.random.default_rng([job.seed, 2, r]).standard_normal(job.inputs + 1)
                      for r in range(start, stop)])
    return draws[:, :-1], draws[:, -1]


def partial_gradient(job: Job, start: int, stop: int) -> np.ndarray:
    """Runs on a worker: Σ_r z_r (z_r·w − y_r) over rows ``start`` … ``stop − 1`` (a sum,
    not a mean, so partial sums add up). Arguments and errors as :func:`make_rows`."""
    _check_rows(job, start, stop)
    W, b, w = _feature_map(job.seed, job.inputs, job.features)
    X, y = make_rows(job, start, stop)
    Z = np.cos(X @ W + b)
    return Z.T @ (Z @ w - y)


def _timed_partial_gradient(job: Job, start: int, stop: int) -> float:
    """Runs on a worker: seconds that :func:`partial_gradient` takes there (the probe of
    compute per row; measured inside the task, so no scheduling is counted)."""
    begin = time.perf_counter()
    partial_gradient(job, start, stop)
    return time.perf_counter() - begin


def _add_up(features: int, *parts) -> np.ndarray:
    """Runs on a worker: the sum of its partitions' partial gradients (zeros if it was
    given none)."""
    return np.sum(parts, axis=0) if parts else np.zeros(features)


def reference_gradient(job: Job) -> np.ndarray:
    """The job done in one process with numpy: what every configuration must return.
    ``TypeError`` for anything but a :class:`Job`."""
    if not isinstance(job, Job):
        raise TypeError(f"job must be a tuning.Job, got {type(job).__name__}")
    return partial_gradient(job, 0, job.rows) / job.rows
