"""Chapter 06's synchronous data-parallel step with PyTorch's DistributedDataParallel.

Jobs for :func:`distlab.engines.torch_gloo.run_ranks`: each runs in every rank of a gloo
process group, so chapter 07 can put PyTorch's data parallelism beside distlab's.

``ddp_step``        data-parallel SGD steps of chapter 06's softmax regression with
                    ``DistributedDataParallel``: same model, same shards, same mini-batches
                    as :mod:`distlab.apps.training`, so the result can be compared number
                    for number with distlab's synchronous strategy.
``time_ddp_step``   median seconds of one DDP step (forward, backward with the gradient
                    all-reduce, optimiser step).

    from distlab.apps import torch_ddp
    from distlab.engines import torch_gloo
    ranks = torch_gloo.run_ranks([(torch_ddp.ddp_step, {"steps": 1})], world_size=2)
    ranks[0]["ddp_step"]          # the parameters after each step, (1, 65, 10)

The ranks import this module by name; it imports torch and the training data only when a
job runs, so a rank starts as fast as it did before. Sources: PyTorch docs,
"DistributedDataParallel"; S. Li et al., "PyTorch Distributed: Experiences on
Accelerating Data Parallel Training", VLDB 2020, https://arxiv.org/abs/2006.15704.
"""
from __future__ import annotations

import numpy as np

from distlab.engines.torch_gloo import median_seconds

__all__ = ["shards_for", "ddp_step", "time_ddp_step"]


def _softmax_regression():
    """Chapter 06's model in torch: a linear map from 65 inputs (64 pixels and the
    constant 1, so no separate bias) to 10 classes, weights starting at zero, float64 so
    that it can be compared with numpy to the last digits."""
    import torch

    from distlab.apps.training import N_CLASSES, N_FEATURES

    model = torch.nn.Linear(N_FEATURES, N_CLASSES, bias=False, dtype=torch.float64)
    with torch.no_grad():
        model.weight.zero_()
    return model


def _rank_batch(rank: int, world_size: int, seed: int, batch: int, step: int, shards=None):
    """Rank ``rank``'s mini-batch at ``step`` as torch tensors (X float64, y int64): the
    very rows distlab's node ``rank`` uses. ``shards`` (one ``(X, y)`` per rank, from
    :func:`shards_for`) spares the rank loading the data set itself (importing
    scikit-learn takes a second)."""
    import torch

    from distlab.apps.training import batch_rows, load_shard

    X, y = load_shard(rank, world_size, seed) if shards is None else shards[rank]
    rows = batch_rows(len(y), batch, seed, rank, step)
    return torch.from_numpy(np.array(X[rows])), torch.from_numpy(np.array(y[rows]))


def shards_for(world_size: int, seed: int = 0) -> list:
    """Every rank's shard, loaded here once and passed to the ranks (``shards=``): a list
    of ``world_size`` ``(X, y)`` pairs (float64 (rows, 65), int64 (rows,)). ``world_size``
    an int in [1, 1024], ``seed`` an int ≥ 0; ``TypeError``/``ValueError`` otherwise."""
    from distlab import checks
    from distlab.apps.training import load_shard

    world_size = checks.count("world_size", world_size, minimum=1, maximum=1024)
    checks.count("seed", seed)
    return [load_shard(r, world_size, seed) for r in range(world_size)]


def ddp_step(rank: int, world_size: int, seed: int = 0, batch: int = 32, lr: float = 2.0,
             steps: int = 1, shards=None, group=None) -> np.ndarray:
    """``steps`` synchronous data-parallel SGD steps with ``DistributedDataParallel``.

    Each rank computes the mean cross-entropy of its own mini-batch; ``backward`` fires
    DDP's hooks, which all-reduce the gradients (bucketed, overlapping the backward pass)
    and divide by ``world_size``; every rank then applies the same SGD step. Returns the
    parameters after each step, shape (steps, 65, 10): each as distlab stores them, the
    transpose of torch's weight. A rank's job: ``run_ranks`` gives it ``rank``,
    ``world_size`` and ``group``; a bad setting raises in the rank, which ``run_ranks``
    reports as a ``RuntimeError`` naming the rank."""
    import torch
    from torch.nn.parallel import DistributedDataParallel

    model = DistributedDataParallel(_softmax_regression(), process_group=group)
    optimiser = torch.optim.SGD(model.parameters(), lr=lr)
    after = []
    for step in range(steps):
        X, y = _rank_batch(rank, world_size, seed, batch, step, shards)
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(X), y)
        loss.backward()
        optimiser.step()
        after.append(model.module.weight.detach().numpy().T.copy())
    return np.stack(after)


def time_ddp_step(rank: int, world_size: int, seed: int = 0, batch: int = 32,
                  lr: float = 2.0, repeats: int = 5, shards=None, group=None) -> float:
    """Median seconds of one DDP training step (forward, backward and the gradient
    all-reduce, optimiser step) of the softmax regression, the slowest rank's. Errors as
    :func:`ddp_step`."""
    import torch
    from torch.nn.parallel import DistributedDataParallel

    model = DistributedDataParallel(_softmax_regression(), process_group=group)
    optimiser = torch.optim.SGD(model.parameters(), lr=lr)
    X, y = _rank_batch(rank, world_size, seed, batch, 0, shards)

    def run():
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(model(X), y).backward()
        optimiser.step()
    return median_seconds(run, repeats, group)
