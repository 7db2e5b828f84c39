"""Hash sharding, the hot shard it makes, and the fix: replicate the hottest items.

Hashing spreads *items* evenly over the shards, not *requests*: the shard that holds the
most popular items receives far more update rows than the others (:func:`shard_load`
measures it). Replicating the ``hot_items`` most popular items on every shard and sending
their updates to the least-loaded replicas first (:func:`water_fill`) evens the load
while the model stays the same (the same updates are added, in another order).
"""
from __future__ import annotations

import numpy as np

from distlab.apps.recsys.data import _hottest, _rating_arrays, data_key, split
from distlab.checks import count, sequence

__all__ = ["MAX_SHARDS", "route", "water_fill", "shard_load"]

#: The most shards (and trainers) a run may have: each is a task per clock.
MAX_SHARDS = 1024


def _ids(name: str, values) -> np.ndarray:
    """``values`` as an int64 array of ids ≥ 0 (a list or an array)."""
    array = np.asarray(values if isinstance(values, np.ndarray) else sequence(name, values))
    if array.size and (array.dtype.kind not in "iu" or array.ndim != 1):
        raise TypeError(f"{name} must be a list of ints, got {array[:3]!r}…")
    if array.size and array.min() < 0:
        raise ValueError(f"{name} must be ≥ 0, got {int(array.min())}")
    return array.astype(np.int64)


def _shard_of(items, shards: int) -> np.ndarray:
    """The shard that owns each item: hash partitioning (the id modulo the shard count)."""
    return np.asarray(items) % shards


def route(items, shards: int, hot) -> np.ndarray:
    """The shard each update goes to: the owner for a cold item; the hot items' updates
    fill up the least-loaded replicas first (water-filling), so that every shard ends with
    as even a share as the cold updates allow. ``items`` and ``hot``: lists (or arrays) of
    item ids ≥ 0; ``shards`` an int in [1, :data:`MAX_SHARDS`]. Returns an int64 array,
    one shard per item. ``TypeError``/``ValueError`` naming the argument otherwise."""
    items, hot = _ids("items", items), _ids("hot", hot)
    shards = count("shards", shards, minimum=1, maximum=MAX_SHARDS)
    target = _shard_of(items, shards)
    is_hot = np.isin(items, hot)
    n_hot = int(is_hot.sum())
    if n_hot == 0:
        return target
    quota = water_fill(np.bincount(target[~is_hot], minlength=shards), n_hot)
    target[is_hot] = np.repeat(np.arange(shards), quota)
    return target


def water_fill(load, extra: int) -> np.ndarray:
    """How to split ``extra`` units over bins with ``load`` so that the fullest bin is as
    low as possible: raise the lowest bins to a common level (ties to the lowest index).
    ``load`` a non-empty list of ints ≥ 0, ``extra`` an int ≥ 0; an int64 array back, one
    share per bin. ``TypeError``/``ValueError`` naming the argument otherwise."""
    load = _ids("load", load)
    if load.size == 0:
        raise ValueError("load must hold at least one bin")
    extra = count("extra", extra)
    give = np.zeros_like(load)
    order = np.argsort(load, kind="stable")
    left = int(extra)
    for k in range(1, len(load) + 1):
        low = order[:k]
        level = load[order[k]] if k < len(load) else None
        need = int(np.sum(level - load[low] - give[low])) if level is not None else None
        if need is not None and need <= left:
            give[low] = level - load[low]
            left -= need
            continue
        share, rest = divmod(left, k)
        give[low] += share
        give[np.sort(low)[:rest]] += 1
        return give
    return give


def shard_load(seed: int = 0, shards: int = 4, hot_items: int = 0, **data) -> np.ndarray:
    """Rows one epoch pushes to each shard, counted from the training ratings alone, in one
    pass (:func:`~distlab.apps.recsys.train.train_mf` measures the same thing while it trains, clock by clock): one
    row per rating, to the owner, or for a hot item by water-filling (:func:`route`).
    ``shards`` an int in [1, :data:`MAX_SHARDS`], ``hot_items`` an int in [0, n_items];
    the data as :func:`~distlab.apps.recsys.data.data_key`. ``TypeError``/``ValueError``
    naming the argument otherwise."""
    shards = count("shards", shards, minimum=1, maximum=MAX_SHARDS)
    key = data_key(seed, data)
    hot_items = count("hot_items", hot_items, minimum=0, maximum=key[2], limit="n_items")
    _, items, _ = _rating_arrays(*key)
    train, _ = split(key)
    target = route(items[train], shards, _hottest(key, hot_items))
    return np.bincount(target, minlength=shards)
