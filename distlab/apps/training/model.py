"""The model: softmax regression (multinomial logistic regression) in numpy, and SGD on it.

The parameters are one (65, 10) float64 array: a column per class, the last row the
biases (the data's last column is a constant 1). Every function here is pure and runs
wherever it is called: in the client for the single process, as a task on a node's
worker for the distributed strategies.
"""
from __future__ import annotations

import numpy as np

from distlab.apps.training.data import N_CLASSES, N_FEATURES, batch_rows


def init_params() -> np.ndarray:
    """All-zero weights, float64 of shape (65, 10): one column per class, last row the
    biases."""
    return np.zeros((N_FEATURES, N_CLASSES))


def probabilities(params: np.ndarray, X: np.ndarray) -> np.ndarray:
    """softmax(Xθ), shape (rows, 10): each row sums to 1."""
    z = X @ params
    z = z - z.max(axis=1, keepdims=True)          # no overflow in exp
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def predict(params: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The predicted class of each row of ``X`` (ints, shape (rows,))."""
    return np.argmax(X @ params, axis=1)


def loss(params: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy (nats)."""
    p = probabilities(params, X)[np.arange(len(y)), y]
    return float(-np.mean(np.log(np.maximum(p, 1e-300))))


def accuracy(params: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """The share of rows whose predicted class is ``y`` (0 … 1)."""
    return float(np.mean(predict(params, X) == y))


def gradient(params: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient of the mean cross-entropy, shape (65, 10): Xᵀ(softmax(Xθ) − onehot(y)) / n."""
    p = probabilities(params, X)
    p[np.arange(len(y)), y] -= 1.0
    return X.T @ p / len(y)


def apply_gradient(params, grad, lr: float) -> np.ndarray:
    """One SGD step, θ − η g (a new array: the worker may still hold the old one)."""
    return params - lr * grad


def node_gradient(params, shard, node: int, step: int, batch: int, seed: int) -> np.ndarray:
    """The gradient of node ``node``'s mini-batch at ``step`` (``shard`` is its ``(X, y)``)."""
    X, y = shard
    rows = batch_rows(len(y), batch, seed, node, step)
    return gradient(params, X[rows], y[rows])


def local_sgd(params, shard, node: int, first_step: int, steps: int, batch: int,
              lr: float, seed: int) -> np.ndarray:
    """``steps`` SGD steps on the node's own shard, without talking to anyone."""
    for step in range(first_step, first_step + steps):
        params = apply_gradient(params, node_gradient(params, shard, node, step, batch,
                                                      seed), lr)
    return params
