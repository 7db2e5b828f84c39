"""The recommendation data: seeded synthetic ratings with a power-law catalogue.

Users and items with hidden low-rank tastes; item popularity follows a power law (a few
items get most of the ratings, as in every real catalogue). Everything is drawn from a
seed and the sizes in :data:`DATA`, which together form the data's *key*: a tuple that the
tasks carry instead of the arrays, so each worker builds (and caches) the same data.
"""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from distlab.checks import count, number

__all__ = ["DATA", "TEST_FRACTION", "MAX_DATA", "make_ratings", "data_key", "split"]

DATA = dict(n_users=4000, n_items=500, samples=40_000, rank=4, zipf=1.3, noise=0.3)
TEST_FRACTION = 0.1
#: The largest data a key may describe: 10⁷ ratings (a few hundred MB while drawn), a
#: million users or items, and taste vectors of 256 numbers.
MAX_DATA = dict(n_users=10**6, n_items=10**6, samples=10**7, rank=256)


@functools.lru_cache(maxsize=4)
def _rating_arrays(seed: int, n_users: int, n_items: int, samples: int, rank: int,
                   zipf: float, noise: float):
    """(users, items, ratings), read-only arrays in random order, for a data key
    (:func:`data_key`, which checks it); cached, as every task of a run asks for the
    same ones."""
    rng = np.random.default_rng([seed, 10])
    popularity = 1.0 / np.arange(1, n_items + 1) ** zipf
    popularity /= popularity.sum()
    rank_to_item = rng.permutation(n_items)            # ids say nothing about popularity
    users = rng.integers(0, n_users, samples)
    items = rank_to_item[rng.choice(n_items, samples, p=popularity)]
    pairs = np.unique(users * n_items + items)         # a user rates an item once
    users, items = pairs // n_items, pairs % n_items
    U = rng.normal(0, 1, (n_users, rank)) / rank ** 0.25
    V = rng.normal(0, 1, (n_items, rank)) / rank ** 0.25
    ratings = 3.0 + np.sum(U[users] * V[items], axis=1) + noise * rng.normal(size=len(users))
    order = rng.permutation(len(users))
    arrays = (users[order], items[order], ratings[order])
    for a in arrays:
        a.setflags(write=False)
    return arrays


def make_ratings(seed: int = 0, **data) -> pd.DataFrame:
    """Seeded synthetic ratings: columns ``user``, ``item``, ``rating``, in random order.

    ``samples`` (user, item) pairs are drawn, users uniformly and items with probability
    ∝ 1 / rank^``zipf`` (a power law); repeated pairs are dropped. A rating is
    3 + u·v + noise for hidden taste vectors u, v of length ``rank``. Defaults in
    :data:`DATA`; errors as :func:`data_key`."""
    users, items, ratings = _rating_arrays(*data_key(seed, data))
    return pd.DataFrame({"user": users, "item": items, "rating": ratings})


def data_key(seed, data) -> tuple:
    """The data's key ``(seed, n_users, n_items, samples, rank, zipf, noise)`` from a seed
    and options (a dict) overriding :data:`DATA`; raises ``TypeError`` for an unknown
    option or a wrong type, ``ValueError`` for a value out of range (sizes up to
    :data:`MAX_DATA`)."""
    seed = count("seed", seed)
    if not isinstance(data, dict):
        raise TypeError(f"data must be a dict of options, got {type(data).__name__}")
    unknown = set(data) - set(DATA)
    if unknown:
        raise TypeError(f"unknown data options {sorted(unknown)}; known: {sorted(DATA)}")
    d = {**DATA, **data}
    for name in ("n_users", "n_items", "samples", "rank"):
        d[name] = count(name, d[name], minimum=1, maximum=MAX_DATA[name])
    d["zipf"] = number("zipf", d["zipf"], minimum=0)
    d["noise"] = number("noise", d["noise"], minimum=0)
    return (seed, d["n_users"], d["n_items"], d["samples"], d["rank"], d["zipf"], d["noise"])


def _check_key(key) -> tuple:
    """``key`` if it is a data key as :func:`data_key` makes (``TypeError``/``ValueError``
    otherwise)."""
    fields = ("seed", *DATA)
    if not isinstance(key, tuple) or len(key) != len(fields):
        raise TypeError(f"key must be a data key (seed, {', '.join(DATA)}) from data_key(), "
                        f"got {key!r}")
    if data_key(key[0], dict(zip(DATA, key[1:]))) != key:
        raise ValueError(f"key must be a data key from data_key(), got {key!r}")
    return key


def split(key: tuple):
    """(train, test) index arrays: the first 10 % of the shuffled ratings are the test set.
    ``key`` from :func:`data_key`; ``TypeError``/``ValueError`` naming it otherwise."""
    n = len(_rating_arrays(*_check_key(key))[0])
    n_test = max(1, int(n * TEST_FRACTION))
    return np.arange(n_test, n), np.arange(n_test)


def _load_block(trainer: int, trainers: int, key: tuple):
    """Runs on a worker: trainer ``trainer``'s training ratings (the users with
    ``user % trainers == trainer``), as (user, item, rating) arrays."""
    users, items, ratings = _rating_arrays(*key)
    train, _ = split(key)
    mine = train[users[train] % trainers == trainer]
    if len(mine) == 0:
        raise ValueError(f"trainer {trainer} of {trainers} has no ratings")
    return users[mine], items[mine], ratings[mine]


def _hottest(key: tuple, how_many: int) -> np.ndarray:
    """The ``how_many`` most-rated items of the training set, most popular first."""
    users, items, _ = _rating_arrays(*key)
    train, _ = split(key)
    counts = np.bincount(items[train], minlength=key[2])
    return np.argsort(-counts, kind="stable")[:how_many]
