"""ZeRO stage 1 beside PyTorch's: ``ZeroRedundancyOptimizer`` on gloo, the same model.

PyTorch ships ZeRO's stage 1 as ``torch.distributed.optim.ZeroRedundancyOptimizer``
(PyTorch docs, "ZeroRedundancyOptimizer"; Rajbhandari et al., "ZeRO", SC 2020): each rank
builds the wrapped optimizer (here Adam) for its own partition of the parameters only,
updates that partition, and broadcasts it to the others. Its partition is by whole
parameter tensors, assigned greedily to the rank with the fewest elements so far, largest
first; distlab's stage 1 (:mod:`distlab.apps.zero_ranks`) cuts the flat vector itself, so
every rank holds 1/N. :func:`zero_adam_job` trains :mod:`distlab.apps.mlp`'s model with
the same seeds, mini-batches and Adam settings as :func:`distlab.apps.zero_ranks.run`
(gradients averaged by gloo's all-reduce), and measures on every rank the bytes of the
Adam state it holds (``exp_avg``, ``exp_avg_sq`` and the step counter of each parameter
it owns) beside plain ``torch.optim.Adam``'s on the whole model; :func:`side_by_side` puts
them next to distlab's stage 0 and stage 1.

    ranks = run()                                   # None without PyTorch
    side_by_side(ranks, zero_ranks.run(client))     # one row per rank

The ranks import this module by name (:func:`distlab.engines.torch_gloo.run_ranks`).
"""
from __future__ import annotations

import os

import numpy as np

from distlab import checks
from distlab.apps import mlp, torch_ddp
from distlab.apps.mlp import MLPTraining
from distlab.apps.training.data import batch_rows
from distlab.engines import torch_gloo

__all__ = ["zero_adam_job", "run", "side_by_side"]


def _state_bytes(optimizer) -> int:
    """Bytes of every tensor in a torch optimizer's per-parameter state."""
    import torch
    return sum(t.numel() * t.element_size() for state in optimizer.state.values()
               for t in state.values() if torch.is_tensor(t))


def _loss(torch, weights, X, y):
    a = X
    for k, w in enumerate(weights):
        z = a @ w
        if k == len(weights) - 1:
            return torch.nn.functional.cross_entropy(z, y)
        a = torch.cat([torch.tanh(z), torch.ones(len(z), 1, dtype=z.dtype)], dim=1)


def zero_adam_job(rank: int, world_size: int, settings: MLPTraining = MLPTraining(),
                  shards=None, group=None) -> dict:
    """Runs in every rank of a gloo group: ``settings.steps`` data-parallel Adam steps
    with ``ZeroRedundancyOptimizer``. Returns the Adam state bytes this rank holds
    (``"zero state"``), those of a plain Adam on the whole model after the same first
    step (``"plain state"``), which parameters (layer indices) this rank updates, and
    the final weights (flat). A rank's job: its arguments come checked from :func:`run`;
    what it raises (a torch error) ends the group, and :func:`run` raises it."""
    import torch
    import torch.distributed as dist
    from torch.distributed.optim import ZeroRedundancyOptimizer

    s = settings
    weights = [torch.nn.Parameter(torch.from_numpy(w)) for w in mlp.init_layers(s.hidden, s.seed)]
    beta1, beta2, eps = mlp.ADAM
    options = dict(lr=s.lr, betas=(beta1, beta2), eps=eps)
    zero = ZeroRedundancyOptimizer(weights, optimizer_class=torch.optim.Adam,
                                   process_group=group, **options)
    copies = [torch.nn.Parameter(w.detach().clone()) for w in weights]
    plain = torch.optim.Adam(copies, **options)
    X, y = shards[rank]
    for step in range(s.steps):
        rows = batch_rows(len(y), s.batch, s.seed, rank, step)
        zero.zero_grad()
        _loss(torch, weights, torch.from_numpy(X[rows]), torch.from_numpy(y[rows])).backward()
        for w in weights:                               # plain data parallelism's mean
            dist.all_reduce(w.grad, group=group)
            w.grad /= world_size
        if step == 0:
            for w, c in zip(weights, copies):
                c.grad = w.grad.clone()
            plain.step()
        zero.step()
    held = {id(w) for w in zero.optim.state}
    owned = [k for k, w in enumerate(weights) if id(w) in held]
    return {"zero state": _state_bytes(zero.optim), "plain state": _state_bytes(plain),
            "owned": owned, "owned elements": sum(weights[k].numel() for k in owned),
            "weights": np.concatenate([w.detach().numpy().reshape(-1) for w in weights])}


def run(settings: MLPTraining = MLPTraining(), world_size: int = 2, *,
        timeout: float = torch_gloo.DEFAULT_TIMEOUT):
    """:func:`zero_adam_job` on ``world_size`` spawned gloo ranks: one dict per rank.
    Without PyTorch, prints how to install it and returns ``None`` (an error instead
    when ``DISTLAB_REQUIRE_TORCH=1``, as in CI). ``TypeError``/``ValueError`` naming the
    argument for settings that are not an :class:`~distlab.apps.mlp.MLPTraining`, a
    ``world_size`` outside 1 … 16, a ``timeout`` ≤ 0."""
    if not isinstance(settings, MLPTraining):
        raise TypeError(f"settings must be an MLPTraining, got {type(settings).__name__}")
    world_size = checks.count("world_size", world_size, minimum=1, maximum=16)
    timeout = checks.positive("timeout", timeout)
    required = os.environ.get("DISTLAB_REQUIRE_TORCH") == "1"
    if not torch_gloo.available() and not required:
        print(torch_gloo.INSTALL_HINT)
        return None
    shards = torch_ddp.shards_for(world_size, settings.seed)
    ranks = torch_gloo.run_ranks([(zero_adam_job, {"settings": settings, "shards": shards})],
                                 world_size=world_size, timeout=timeout)
    return [r["zero_adam_job"] for r in ranks]


def side_by_side(torch_ranks, zero_table):
    """One row per rank: the Adam state bytes each rank holds with PyTorch's
    ZeroRedundancyOptimizer and with plain Adam, and the optimizer-state bytes of
    distlab's stage 1 and stage 0 (from :func:`distlab.apps.zero_ranks.run`, which must
    include both stages), each with its share of the unsharded state. A DataFrame.
    Raises ``TypeError`` naming ``torch_ranks`` or ``zero_table`` when either is not the
    result it must be."""
    import pandas as pd

    if not isinstance(zero_table, pd.DataFrame) or not {0, 1} <= set(
            zero_table.index.get_level_values(0)):
        raise TypeError("zero_table must be the table of zero_ranks.run with stages 0 and 1")
    torch_ranks = checks.sequence("torch_ranks", torch_ranks)
    if not torch_ranks or not all(isinstance(r, dict) and "zero state" in r
                                  for r in torch_ranks):
        raise TypeError("torch_ranks must be the list that torch_zero.run returns")
    rows = []
    for rank, r in enumerate(torch_ranks):
        sharded = int(zero_table.loc[(1, rank), "optimizer state"])
        whole = int(zero_table.loc[(0, rank), "optimizer state"])
        rows.append({"rank": rank, "PyTorch ZeRO: parameters updated": r["owned elements"],
                     "PyTorch ZeRO: Adam state": r["zero state"],
                     "PyTorch plain Adam": r["plain state"],
                     "PyTorch share": round(r["zero state"] / r["plain state"], 3),
                     "distlab stage 1: optimizer state": sharded,
                     "distlab stage 0": whole, "distlab share": round(sharded / whole, 3)})
    return pd.DataFrame(rows).set_index("rank")
