"""Tensor parallelism in the Megatron style: one MLP block split over t devices.

The transformer's MLP block is Z = GeLU(X A) B with X of shape (n, h) (n = b·s tokens,
h the model width), A of shape (h, f) and B of shape (f, h), f = 4h in GPT. Shoeybi et
al. ("Megatron-LM: Training Multi-Billion Parameter Language Models Using Model
Parallelism", 2019, §3 and Figure 3a) split it so that it needs one all-reduce each way:

- A by **columns**, A = [A_1 … A_t]: rank i computes Y_i = GeLU(X A_i) alone (GeLU acts
  element by element, so no partial sums cross ranks);
- B by **rows**, B = [B_1; …; B_t]: rank i computes Z_i = Y_i B_i, a partial sum;
  Z = Σ_i Z_i is **one all-reduce** of n·h numbers in the forward pass (Megatron's g).
- Backward: every rank has the whole dZ; it computes dB_i, dA_i for its own slices and a
  partial dX_i; dX = Σ_i dX_i is **one all-reduce** of n·h numbers (Megatron's f).

A rank's slice is itself an MLP block, only narrower (f/t hidden units), so the plain
block's :func:`forward` and :func:`backward` are what each rank runs; the parallel
versions run them on the slices and add the partial results in rank order (what an
all-reduce computes; the SPMD engine replaces that sum by a real one). Biases are left
out: A's bias would be split with its columns, B's added once after the all-reduce.

Each all-reduce sends 2(t − 1)/t · n·h·e bytes per rank on a ring (e bytes per number,
2 for 16-bit activations), so the block costs 4(t − 1)/t · b·s·h·e bytes per rank per
training step; the attention block adds as much again (Megatron §3, Figure 4).
"""
from __future__ import annotations

import numpy as np

from distlab import checks
from distlab.concepts.cost import MAX_ELEMENTS, MAX_ITEMSIZE, bytes_per_node, lower_bound_bytes
from distlab.concepts.plans import MAX_NODES, ring

__all__ = ["forward", "backward", "split_columns", "split_rows", "parallel_forward",
           "parallel_backward", "bytes_per_layer", "ring_bytes_per_layer"]

_C = np.sqrt(2 / np.pi)


def _gelu(x: np.ndarray) -> np.ndarray:
    """GeLU, tanh form (Hendrycks & Gimpel, "Gaussian Error Linear Units", 2016), as in
    GPT-2 and Megatron-LM: 0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))."""
    return 0.5 * x * (1 + np.tanh(_C * (x + 0.044715 * x ** 3)))


def _gelu_grad(x: np.ndarray) -> np.ndarray:
    """d gelu / dx, element by element."""
    t = np.tanh(_C * (x + 0.044715 * x ** 3))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _C * (1 + 3 * 0.044715 * x ** 2)


def _matrix(name: str, value) -> np.ndarray:
    """``value`` as a non-empty 2-D array of finite numbers (its dtype kept)."""
    try:
        array = np.asarray(value)
        numeric = array.dtype.kind in "iuf"
    except (TypeError, ValueError):                       # a ragged list
        numeric = False
    if not numeric:
        raise TypeError(f"{name} must be a 2-D array of numbers, got {type(value).__name__}")
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array, got shape {array.shape}")
    return _finite_values(name, array)


def _finite_values(name: str, array: np.ndarray) -> np.ndarray:
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite, but contains NaN or infinity")
    return array


def _matrices(x, a, b) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, a, b = _matrix("x", x), _matrix("a", a), _matrix("b", b)
    if a.shape[0] != x.shape[1] or b.shape != (a.shape[1], x.shape[1]):
        raise ValueError(f"shapes must be x (n, h), a (h, f), b (f, h); got x {x.shape}, "
                         f"a {a.shape}, b {b.shape}")
    return x, a, b


# -- naive: the whole block on one device ---------------------------------------------------
def forward(x, a, b) -> np.ndarray:
    """Z = GeLU(X A) B: x (n, h), a (h, f), b (f, h) → (n, h), in their dtype. Each a
    non-empty 2-D array of finite numbers with those shapes: ``TypeError``/``ValueError``
    naming it otherwise (:func:`backward` and the parallel versions too)."""
    x, a, b = _matrices(x, a, b)
    return _gelu(x @ a) @ b


def backward(x, a, b, dz) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients (dX, dA, dB) of a loss whose gradient at Z is ``dz`` (n, h). Errors as
    :func:`forward`, ``dz`` checked the same way."""
    x, a, b = _matrices(x, a, b)
    dz = _matrix("dz", dz)
    if dz.shape != (x.shape[0], b.shape[1]):
        raise ValueError(f"dz must have Z's shape {(x.shape[0], b.shape[1])}, got {dz.shape}")
    pre = x @ a
    db = _gelu(pre).T @ dz
    dpre = (dz @ b.T) * _gelu_grad(pre)
    return dpre @ a.T, x.T @ dpre, db


# -- Megatron: the block split over t ranks ----------------------------------------------------
def _split(name: str, matrix, degree: int, axis: int, what: str) -> list[np.ndarray]:
    matrix = _matrix(name, matrix)
    degree = checks.count("degree", degree, minimum=1)
    if matrix.shape[axis] % degree:
        raise ValueError(f"degree must divide the hidden size ({what}: "
                         f"{matrix.shape[axis]}), got {degree}")
    return np.split(matrix, degree, axis=axis)


def split_columns(a, degree: int) -> list[np.ndarray]:
    """A (h, f) cut into ``degree`` column blocks (h, f/t), one per rank.
    ``ValueError`` naming ``degree`` when it does not divide f; ``a`` as in :func:`forward`."""
    return _split("a", a, degree, 1, "a's columns")


def split_rows(b, degree: int) -> list[np.ndarray]:
    """B (f, h) cut into ``degree`` row blocks (f/t, h), one per rank.
    ``ValueError`` naming ``degree`` when it does not divide f; ``b`` as in :func:`forward`."""
    return _split("b", b, degree, 0, "b's rows")


def _shards(a_shards, b_shards) -> int:
    a_shards = checks.sequence("a_shards", a_shards)
    b_shards = checks.sequence("b_shards", b_shards)
    if len(a_shards) != len(b_shards) or not a_shards:
        raise ValueError(f"a_shards and b_shards must be equally many (one per rank, ≥ 1), "
                         f"got {len(a_shards)} and {len(b_shards)}")
    return len(a_shards)


def _sum_in_rank_order(parts: list[np.ndarray]) -> np.ndarray:
    """What the all-reduce computes: the partial results added up, rank 0 first."""
    total = parts[0].copy()
    for part in parts[1:]:
        total += part
    return total


def parallel_forward(x, a_shards, b_shards) -> tuple[np.ndarray, list[np.ndarray]]:
    """Z and the partial outputs Z_i = GeLU(X A_i) B_i of each rank (before the forward
    all-reduce); Z = Σ Z_i equals :func:`forward` up to rounding (~1e-12 in float64).
    ``a_shards`` and ``b_shards`` as many lists of slices; errors as :func:`forward`."""
    _shards(a_shards, b_shards)
    partials = [forward(x, a, b) for a, b in zip(a_shards, b_shards)]
    return _sum_in_rank_order(partials), partials


def parallel_backward(x, a_shards, b_shards, dz):
    """(dX, dA_shards, dB_shards, partial dX_i): each rank's gradients for its own slices
    (equal to the slices of :func:`backward`'s dA and dB) and dX = Σ dX_i, the backward
    all-reduce. Arguments and errors as :func:`parallel_forward` and :func:`backward`."""
    _shards(a_shards, b_shards)
    grads = [backward(x, a, b, dz) for a, b in zip(a_shards, b_shards)]
    partial_dx = [g[0] for g in grads]
    return (_sum_in_rank_order(partial_dx), [g[1] for g in grads], [g[2] for g in grads],
            partial_dx)


# -- bytes ------------------------------------------------------------------------------------
def _layer(batch, sequence, hidden, degree) -> tuple[int, int]:
    numbers = (checks.count("batch", batch, minimum=1)
               * checks.count("sequence", sequence, minimum=1))
    hidden = checks.count("hidden", hidden, minimum=1)
    degree = checks.count("degree", degree, minimum=1)
    if hidden % degree:
        raise ValueError(f"degree must divide the hidden size ({hidden}), got {degree}")
    return numbers * hidden, degree


def bytes_per_layer(batch: int, sequence: int, hidden: int, degree: int, *,
                    element_bytes: float = 2) -> float:
    """Bytes each rank sends for one MLP block per training step: two all-reduces (one
    forward, one backward) of b·s·h numbers, each 2(t − 1)/t · b·s·h·e at the ring bound
    (Patarasuk & Yuan 2009). ``batch`` b (micro-batch, sequences), ``sequence`` s
    (tokens), ``hidden`` h, ``degree`` t (must divide h), ``element_bytes`` e: counts
    ints ≥ 1, e a finite number > 0; ``TypeError``/``ValueError`` naming the argument
    otherwise."""
    numbers, degree = _layer(batch, sequence, hidden, degree)
    return 2 * lower_bound_bytes(degree, numbers * checks.positive("element_bytes",
                                                                    element_bytes))


def ring_bytes_per_layer(batch: int, sequence: int, hidden: int, degree: int, *,
                         element_bytes: int = 2) -> np.ndarray:
    """The same, counted transfer by transfer on the ring plan: bytes sent by each rank
    (shape (t,), int64) for the forward and the backward all-reduce together. The
    arguments as :func:`bytes_per_layer` (ints, ``degree`` at most
    :data:`~distlab.concepts.plans.MAX_NODES`), with b·s·h at most
    :data:`~distlab.concepts.cost.MAX_ELEMENTS`; ``TypeError``/``ValueError`` naming the
    argument otherwise."""
    numbers, degree = _layer(batch, sequence, hidden, degree)
    if numbers > MAX_ELEMENTS:
        raise ValueError(f"batch × sequence × hidden must be ≤ {MAX_ELEMENTS:,} (the limit "
                         f"of this function), got {numbers:,}")
    element_bytes = checks.count("element_bytes", element_bytes, minimum=1,
                                 maximum=MAX_ITEMSIZE)
    degree = checks.count("degree", degree, maximum=MAX_NODES)
    return 2 * bytes_per_node(ring(degree), numbers, element_bytes)[0]
