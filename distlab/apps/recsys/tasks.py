"""The parameter server's tasks: trainers, item shards and the hot-row replicas.

Each function (private: a task of :func:`~distlab.apps.recsys.train.train_mf`) runs on a
worker (or, without a cluster, in this process) and returns plain
arrays and dicts, so Dask can move them. Per clock: every trainer pulls the item rows and
runs SGD on its share of the ratings (:func:`_trainer_clock`), each shard applies the
update rows pushed to it (:func:`_apply_pushes`), and the hot rows' replicas agree again
(:func:`_merge_hot`).
"""
from __future__ import annotations

import numpy as np

from distlab.apps.recsys.sharding import route


def _init_shard(shard: int, shards: int, key: tuple, hot) -> dict:
    """Shard ``shard``'s item rows (small random numbers, seeded per item), without the
    hot items, which live in the replicated table."""
    n_items, rank, seed = key[2], key[4], key[0]
    items = np.arange(shard, n_items, shards)
    items = items[~np.isin(items, hot)]
    return dict(items=items, rows=_init_rows(items, rank, seed, 11),
                hot_delta=np.zeros((len(hot), rank)), received=0)


def _init_hot(key: tuple, hot) -> dict:
    """The replicated table of the hot items' rows (seeded as the shards' rows are)."""
    hot = np.asarray(hot, dtype=int)
    return dict(items=hot, rows=_init_rows(hot, key[4], key[0], 11))


def _init_users(trainer: int, trainers: int, key: tuple) -> np.ndarray:
    """Trainer ``trainer``'s user embeddings, one row per user id (only its own used)."""
    n_users, rank, seed = key[1], key[4], key[0]
    return _init_rows(np.arange(n_users), rank, seed, 12)


def _init_rows(ids, rank, seed, stream) -> np.ndarray:
    rng = np.random.default_rng([seed, stream])
    every = 0.1 * rng.normal(size=(int(np.max(ids, initial=-1)) + 1, rank))
    return every[np.asarray(ids, dtype=int)]


def _item_table(n_items: int, rank: int, shards_state, hot_state) -> np.ndarray:
    """All item rows in one array, put together from the shards and the hot table."""
    V = np.zeros((n_items, rank))
    for s in shards_state:
        V[s["items"]] = s["rows"]
    V[hot_state["items"]] = hot_state["rows"]
    return V


def _trainer_clock(block, previous, hot_state, *shards_state, clock: int, trainer: int,
                  cfg: dict) -> dict:
    """One clock of one trainer: pull the item rows, run SGD on this clock's slice of its
    ratings (mini-batches of ``cfg['batch']``), and route one update row per rating: to the
    owning shard, or for a hot item to a replica chosen by :func:`route`.

    ``previous`` is the trainer's output of the clock before (or its initial user
    embeddings). Returns the new user embeddings and the pushes per shard (item ids and
    rows)."""
    u, i, r = block
    n_items, rank = cfg["n_items"], cfg["rank"]
    S, lr, reg = cfg["shards"], cfg["lr"], cfg["reg"]
    epoch, part = divmod(clock, cfg["clocks_per_epoch"])
    order = np.random.default_rng([cfg["seed"], 13, trainer, epoch]).permutation(len(u))
    mine = np.array_split(order, cfg["clocks_per_epoch"])[part]
    U = (previous["users"] if isinstance(previous, dict) else previous).copy()
    V = _item_table(n_items, rank, shards_state, hot_state)
    deltas = np.empty((len(mine), rank))
    for k in range(0, len(mine), cfg["batch"]):
        b = mine[k:k + cfg["batch"]]
        ub, ib = u[b], i[b]
        err = r[b] - cfg["mean"] - np.sum(U[ub] * V[ib], axis=1)
        gU = -err[:, None] * V[ib] + reg * U[ub]
        dV = -lr * (-err[:, None] * U[ub] + reg * V[ib])
        np.add.at(U, ub, -lr * gU)
        np.add.at(V, ib, dV)
        deltas[k:k + len(b)] = dV
    items = i[mine]
    target = route(items, S, hot_state["items"])
    pushes = [(items[target == s], deltas[target == s]) for s in range(S)]
    return dict(users=U, pushes=pushes)


def _apply_pushes(shard_state: dict, hot_state: dict, shard: int, *trainer_outs) -> dict:
    """Shard ``shard`` applies the rows the trainers pushed to it: cold items to its own
    rows, hot items to its replica's running delta. Work proportional to the rows received.
    (Each trainer's output holds its pushes for every shard; the shard reads its part.)"""
    rows = shard_state["rows"].copy()
    hot_delta = np.zeros_like(shard_state["hot_delta"])
    own, hot = shard_state["items"], hot_state["items"]
    size = int(max(own.max(initial=-1), hot.max(initial=-1))) + 1
    position = np.full(size, -1)
    position[own] = np.arange(len(own))
    hot_position = np.full(size, -1)
    hot_position[hot] = np.arange(len(hot))
    received = shard_state["received"]
    for out in trainer_outs:
        items, deltas = out["pushes"][shard]
        received += len(items)
        is_hot = hot_position[items] >= 0
        np.add.at(rows, position[items[~is_hot]], deltas[~is_hot])
        np.add.at(hot_delta, hot_position[items[is_hot]], deltas[is_hot])
    return dict(items=own, rows=rows, hot_delta=hot_delta, received=received)


def _merge_hot(hot_state: dict, *shards_state) -> dict:
    """The replicas agree again: every replica's updates added to the hot rows."""
    rows = hot_state["rows"] + sum(s["hot_delta"] for s in shards_state)
    return dict(items=hot_state["items"], rows=rows)
