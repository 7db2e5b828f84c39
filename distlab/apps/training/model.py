"""The model: softmax regression (multinomial logistic regression) in numpy, and SGD on it.

The parameters are one (65, 10) float64 array: a column per class, the last row the
biases (the data's last column is a constant 1). Every function here is pure and runs
wherever it is called: in the client for the single process, as a task on a node's
worker for the distributed strategies. The public functions check their arguments (a
``TypeError`` or ``ValueError`` naming the argument); the strategies' inner loops call
the unchecked versions, ``_probabilities`` … ``_local_sgd``, with what they built.
"""
from __future__ import annotations

import numpy as np

from distlab import checks
from distlab.apps.training.data import N_CLASSES, N_FEATURES, _batch_rows, batch_rows


def init_params() -> np.ndarray:
    """All-zero weights, float64 of shape (65, 10): one column per class, last row the
    biases."""
    return np.zeros((N_FEATURES, N_CLASSES))


def _array(name: str, value, ndim: int, kinds: str = "iuf") -> np.ndarray:
    """``value`` as a non-empty ``ndim``-D array of finite numbers of those kinds."""
    try:
        array = np.asarray(value)
        fits = array.dtype.kind in kinds and array.ndim == ndim
    except (TypeError, ValueError):                       # a ragged list
        fits = False
    if not fits:
        what = "ints" if kinds == "iu" else "numbers"
        raise TypeError(f"{name} must be a {ndim}-D array of {what}, got "
                        f"{type(value).__name__}")
    if array.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite, but contains NaN or infinity")
    return array


_NO_LABELS = object()


def _check(params, X, y=_NO_LABELS) -> tuple:
    """``params`` (features, classes), ``X`` (rows, features), ``y`` (rows,) of classes."""
    params, X = _array("params", params, 2), _array("X", X, 2)
    if X.shape[1] != params.shape[0]:
        raise ValueError(f"X must have params' {params.shape[0]} columns (features), "
                         f"got shape {X.shape}")
    if y is not _NO_LABELS:
        y = _array("y", y, 1, "iu")
        if len(y) != len(X) or y.min() < 0 or y.max() >= params.shape[1]:
            raise ValueError(f"y must hold one class in 0 … {params.shape[1] - 1} per row "
                             f"of X ({len(X)}), got {len(y)} values in "
                             f"{y.min()} … {y.max()}")
    return params, X, y


def _probabilities(params, X) -> np.ndarray:
    z = X @ params
    z = z - z.max(axis=1, keepdims=True)          # no overflow in exp
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def probabilities(params: np.ndarray, X: np.ndarray) -> np.ndarray:
    """softmax(Xθ), shape (rows, classes): each row sums to 1. ``params`` a finite
    (features, classes) array, ``X`` a finite (rows ≥ 1, features) array;
    ``TypeError``/``ValueError`` naming the argument otherwise (so for every function
    below that takes them, and ``y`` one class per row)."""
    return _probabilities(*_check(params, X)[:2])


def predict(params: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The predicted class of each row of ``X`` (ints, shape (rows,)). Errors as
    :func:`probabilities`."""
    params, X, _ = _check(params, X)
    return np.argmax(X @ params, axis=1)


def _loss(params, X, y) -> float:
    p = _probabilities(params, X)[np.arange(len(y)), y]
    return float(-np.mean(np.log(np.maximum(p, 1e-300))))


def loss(params: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy (nats). Errors as :func:`accuracy`."""
    return _loss(*_check(params, X, y))


def _accuracy(params, X, y) -> float:
    return float(np.mean(np.argmax(X @ params, axis=1) == y))


def accuracy(params: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """The share of rows whose predicted class is ``y`` (0 … 1). Errors as
    :func:`probabilities` (and ``y`` one class per row of ``X``)."""
    return _accuracy(*_check(params, X, y))


def _gradient(params, X, y) -> np.ndarray:
    p = _probabilities(params, X)
    p[np.arange(len(y)), y] -= 1.0
    return X.T @ p / len(y)


def gradient(params: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient of the mean cross-entropy, shape (65, 10): Xᵀ(softmax(Xθ) − onehot(y)) / n.
    Errors as :func:`accuracy`."""
    return _gradient(*_check(params, X, y))


def _apply_gradient(params, grad, lr: float) -> np.ndarray:
    return params - lr * grad


def apply_gradient(params, grad, lr: float) -> np.ndarray:
    """One SGD step, θ − η g (a new array: the worker may still hold the old one).
    ``grad`` finite and of ``params``' shape, ``lr`` a finite number > 0;
    ``TypeError``/``ValueError`` naming the argument otherwise."""
    params, grad = _array("params", params, 2), _array("grad", grad, 2)
    if grad.shape != params.shape:
        raise ValueError(f"grad must have params' shape {params.shape}, got {grad.shape}")
    return _apply_gradient(params, grad, checks.positive("lr", lr))


def _check_shard(shard) -> tuple:
    if not isinstance(shard, (tuple, list)) or len(shard) != 2:
        raise TypeError(f"shard must be a node's (X, y), got {type(shard).__name__}")
    return shard


def _node_gradient(params, shard, node, step, batch, seed) -> np.ndarray:
    X, y = shard
    rows = _batch_rows(len(y), batch, seed, node, step)
    return _gradient(params, X[rows], y[rows])


def node_gradient(params, shard, node: int, step: int, batch: int, seed: int) -> np.ndarray:
    """The gradient of node ``node``'s mini-batch at ``step`` (``shard`` is its ``(X, y)``).
    Arrays as :func:`probabilities`; ``node``, ``step``, ``seed`` ints ≥ 0 and ``batch``
    an int in [1, rows] as :func:`~distlab.apps.training.data.batch_rows` takes them:
    ``TypeError``/``ValueError`` naming the argument otherwise (``TypeError`` for a shard
    that is not an ``(X, y)`` pair)."""
    X, y = _check_shard(shard)
    params, X, y = _check(params, X, y)
    batch_rows(len(y), batch, seed, node, step)           # checks the counts
    return _node_gradient(params, (X, y), node, step, batch, seed)


def _local_sgd(params, shard, node: int, first_step: int, steps: int, batch: int,
               lr: float, seed: int) -> np.ndarray:
    """``steps`` SGD steps on the node's own shard, without talking to anyone (a worker
    task of local SGD and gossip: its arguments come checked from the strategy)."""
    for step in range(first_step, first_step + steps):
        params = _apply_gradient(params, _node_gradient(params, shard, node, step, batch,
                                                        seed), lr)
    return params
