"""Why the averaging formula is data-parallel training: one SGD step, two ways.

Each node holds a shard of a least-squares problem and the same parameters w. Averaging
the *gradients* and taking one step, w - η·(1/N)Σ g_i, is the same as every node taking a
step with its own gradient and averaging the *parameters*, (1/N)Σ (w - η·g_i): the mean
is linear. That is why synchronous data parallelism (Goyal et al. 2017; PyTorch DDP)
all-reduces gradients, and why local SGD / FedAvg (Stich 2019; McMahan et al. 2017) can
average parameters instead. Equal in exact arithmetic; in floating point, to rounding.
"""
from __future__ import annotations

import numpy as np

from distlab.checks import choice, count, positive
from distlab.concepts.plans import check_node_count
from distlab.engines.allreduce import ALGORITHMS, allreduce
from distlab.engines.workers import check_client, submit_on, worker_addresses


def _shard(seed: int, node: int, rows: int = 64, features: int = 5) -> tuple:
    """Node ``node``'s data (X, y), the same for a given seed wherever it is made; runs on
    a worker so the data never passes through the client."""
    rng = np.random.default_rng([seed, node])
    x = rng.normal(size=(rows, features))
    truth = np.arange(1.0, features + 1)
    return x, x @ truth + rng.normal(scale=0.1, size=rows)


def _gradient(w, data) -> np.ndarray:
    """∇ of the mean squared error / 2 on one node's shard: Xᵀ(Xw - y)/rows."""
    x, y = data
    return x.T @ (x @ w - y) / len(y)


def _step(w, g, lr: float) -> np.ndarray:
    """One SGD step: w - η·g (a new array)."""
    return np.asarray(w) - lr * np.asarray(g)


def one_step_two_ways(n_nodes: int = 4, lr: float = 0.1, seed: int = 0,
                      algorithm: str = "ring", client=None, workers=None) -> dict:
    """Take one step from w = 0 both ways; returns both new parameter vectors.

    With a client, the shards are made on the workers (node i on ``workers[i]``, by
    default worker i mod W), the gradients and steps are tasks there, and both averages
    are all-reduces of futures: nothing but the two results comes back to the client.

    ``n_nodes`` an int in [1, :data:`~distlab.concepts.plans.MAX_NODES`], ``lr`` a finite
    number > 0, ``seed`` an int ≥ 0, ``algorithm`` one of
    :data:`~distlab.engines.allreduce.ALGORITHMS`, ``workers`` one address per node;
    else ``TypeError`` / ``ValueError`` naming the argument (a closed client included,
    and ``workers`` given without a client)."""
    n_nodes = check_node_count(n_nodes, "n_nodes")
    lr = positive("lr", lr)
    seed = count("seed", seed)
    choice("algorithm", algorithm, ALGORITHMS)
    w = np.zeros(5)
    if client is None and workers is not None:
        raise ValueError(f"workers must be None without a client (the nodes run here), "
                         f"got {workers!r}")
    if client is None:
        data = [_shard(seed, i) for i in range(n_nodes)]
        grads = [_gradient(w, d) for d in data]
        via_gradients = _step(w, allreduce(grads, algorithm).values[0], lr)
        via_parameters = allreduce([_step(w, g, lr) for g in grads], algorithm).values[0]
        return {"average gradients, then step": via_gradients,
                "step, then average parameters": via_parameters}
    check_client(client)
    if workers is None:
        available = worker_addresses(client)
        workers = [available[i % len(available)] for i in range(n_nodes)]
    elif isinstance(workers, (str, bytes)) or not hasattr(workers, "__len__") \
            or len(workers) != n_nodes:
        raise ValueError(f"workers must list one worker address per node ({n_nodes}), "
                         f"got {workers!r}")

    def pin(func, *args, node):
        return submit_on(client, func, *args, worker=workers[node], strict=True)

    data = [pin(_shard, seed, i, node=i) for i in range(n_nodes)]
    grads = [pin(_gradient, w, d, node=i) for i, d in enumerate(data)]
    mean_grad = allreduce(grads, algorithm, client, workers=workers).futures
    via_gradients = [pin(_step, w, g, lr, node=i) for i, g in enumerate(mean_grad)]
    stepped = [pin(_step, w, g, lr, node=i) for i, g in enumerate(grads)]
    via_parameters = allreduce(stepped, algorithm, client, workers=workers).futures
    first, second = client.gather([via_gradients[0], via_parameters[0]])
    return {"average gradients, then step": first, "step, then average parameters": second}
