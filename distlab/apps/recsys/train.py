"""Training the factorisation: the same driver on Dask or in this process.

:func:`train_mf` submits the tasks of :mod:`distlab.apps.recsys.tasks` clock by clock; with
a client they run on the workers (pinned loosely, trainer t on worker t mod W), without
one they run here, one after the other (``trainers=1, shards=1`` is then plain SGD). Both
compute exactly the same numbers.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from distlab.apps.recsys.data import data_key, _hottest, _load_block, _rating_arrays, split
from distlab.apps.recsys.tasks import (_apply_pushes, _init_hot, _init_shard, _init_users,
                                       _item_table, _merge_hot, _trainer_clock)
from distlab.apps.recsys.sharding import MAX_SHARDS
from distlab.checks import count, flag, number

#: The most epochs, and clocks per epoch, of one run (each clock is a task per trainer
#: and per shard).
MAX_CLOCKS = 1000

__all__ = ["train_mf"]


class _InProcess:
    """Runs "tasks" at once, here: the single-process engine."""
    def submit(self, func, *args, **kwargs):
        kwargs = {k: v for k, v in kwargs.items()
                  if k not in ("workers", "allow_other_workers", "pure")}
        return func(*args, **kwargs)

    def gather(self, values):
        return values


def train_mf(client=None, *, trainers: int = 2, shards: int = 4, hot_items: int = 0,
             epochs: int = 8, clocks_per_epoch: int = 2, lr: float = 0.05,
             reg: float = 0.02, batch: int = 32, seed: int = 0, progress: bool = False,
             **data) -> pd.DataFrame:
    """Train the factorisation with ``trainers`` user blocks and ``shards`` item shards.

    ``client=None`` runs every task in this process (``trainers=1, shards=1`` is then the
    plain single-process SGD); with a ``distributed.Client`` the trainers, shards and
    replicas are tasks on the workers (trainer t on worker t mod W, shard s on worker
    s mod W). ``hot_items``: how many of the most popular items to replicate on every shard.

    Returns one row per epoch: ``epoch``, ``rmse`` (on the held-out 10 %), ``baseline``
    (RMSE of always predicting the mean). ``attrs``: ``load`` (rows pushed to each shard),
    ``imbalance`` (max / mean load), ``hot`` (the replicated items), ``items`` and
    ``users`` (the final embeddings). ``progress`` draws a bar of the shard updates.

    ``trainers`` and ``shards`` ints in [1, :data:`~distlab.apps.recsys.sharding.MAX_SHARDS`],
    ``epochs`` and ``clocks_per_epoch`` ints in [1, :data:`MAX_CLOCKS`], ``hot_items`` in
    [0, n_items], ``lr`` > 0, ``reg`` ≥ 0, ``batch`` ≥ 1, ``progress`` a bool, the data
    as :func:`~distlab.apps.recsys.data.data_key`. Raises ``TypeError``/``ValueError``
    naming the argument (a closed or missing client included).
    """
    if client is not None:
        from distlab.engines.workers import check_client
        check_client(client)
    trainers = count("trainers", trainers, minimum=1)
    shards = count("shards", shards, minimum=1, maximum=MAX_SHARDS)
    hot_items = count("hot_items", hot_items, minimum=0)
    epochs = count("epochs", epochs, minimum=1, maximum=MAX_CLOCKS)
    clocks_per_epoch = count("clocks_per_epoch", clocks_per_epoch, minimum=1,
                             maximum=MAX_CLOCKS)
    flag("progress", progress)
    lr = number("lr", lr, minimum=0, strict=True)
    reg = number("reg", reg, minimum=0)
    batch = count("batch", batch, minimum=1)
    key = data_key(seed, data)
    if trainers > key[1]:
        raise ValueError(f"trainers must be ≤ n_users ({key[1]:,}): more leave a trainer with "
                         f"no ratings; got {trainers:,}")
    trainers = count("trainers", trainers, maximum=MAX_SHARDS)
    if hot_items > key[2]:
        raise ValueError(f"hot_items ({hot_items}) cannot exceed the number of items "
                         f"({key[2]})")
    users_all, items_all, ratings_all = _rating_arrays(*key)
    train, test = split(key)
    blocks_users = np.bincount(users_all[train] % trainers, minlength=trainers)
    if (blocks_users == 0).any():
        raise ValueError(f"trainers={trainers} leaves a trainer with no ratings")
    if client is None:
        engine, homes = _InProcess(), [None]
    else:
        from distlab.engines.workers import worker_addresses
        engine, homes = client, worker_addresses(client)

    def on(func, *args, where, **kwargs):
        if client is None:
            return engine.submit(func, *args, **kwargs)
        from distlab.engines.workers import submit_on
        return submit_on(client, func, *args, worker=homes[where % len(homes)], **kwargs)

    hot = _hottest(key, hot_items)
    cfg = dict(n_items=key[2], rank=key[4], shards=shards, lr=lr, reg=reg, batch=batch,
               seed=key[0], clocks_per_epoch=clocks_per_epoch,
               mean=float(ratings_all[train].mean()))
    blocks = [on(_load_block, t, trainers, key, where=t) for t in range(trainers)]
    users = [on(_init_users, t, trainers, key, where=t) for t in range(trainers)]
    shard_states = [on(_init_shard, s, shards, key, hot, where=s) for s in range(shards)]
    hot_state = on(_init_hot, key, hot, where=0)
    snapshots, every_update = [], []
    for clock in range(epochs * clocks_per_epoch):
        users = [on(_trainer_clock, blocks[t], users[t], hot_state, *shard_states,
                    clock=clock, trainer=t, cfg=cfg, where=t) for t in range(trainers)]
        shard_states = [on(_apply_pushes, shard_states[s], hot_state, s, *users, where=s)
                        for s in range(shards)]
        every_update += shard_states
        if hot_items:
            hot_state = on(_merge_hot, hot_state, *shard_states, where=0)
        if (clock + 1) % clocks_per_epoch == 0:
            snapshots.append((list(users), list(shard_states), hot_state))
    if progress and client is not None:
        from distlab.engines.progress import progress as show_progress
        show_progress(every_update, label="apply_pushes")
    del every_update
    snapshots = engine.gather(snapshots)
    load = np.array([s["received"] for s in snapshots[-1][1]])
    mean = cfg["mean"]
    u_test, i_test, r_test = users_all[test], items_all[test], ratings_all[test]
    baseline = float(np.sqrt(np.mean((r_test - mean) ** 2)))
    rows = []
    for epoch, (user_blocks, shard_list, hot_snap) in enumerate(snapshots, start=1):
        U = _users_table(user_blocks, trainers)
        V = _item_table(key[2], key[4], shard_list, hot_snap)
        pred = mean + np.sum(U[u_test] * V[i_test], axis=1)
        rows.append(dict(epoch=epoch, rmse=float(np.sqrt(np.mean((r_test - pred) ** 2))),
                         baseline=baseline))
    history = pd.DataFrame(rows)
    history.attrs.update(load=load, imbalance=float(load.max() / load.mean()),
                         hot=hot, items=V, users=U)
    return history


def _users_table(blocks, trainers) -> np.ndarray:
    """Each user's row from the trainer that owns it."""
    blocks = [b["users"] if isinstance(b, dict) else b for b in blocks]
    U = np.array(blocks[0], copy=True)
    for t in range(1, trainers):
        U[t::trainers] = blocks[t][t::trainers]
    return U
