"""Chapter 6 · recommendation: matrix factorisation with a parameter server, and hot keys.

Synthetic ratings (:func:`make_ratings`): users and items with hidden low-rank tastes,
item popularity following a power law (a few items get most of the ratings, as in every
real catalogue), seeded. The model predicts ``r̂_ui = μ + u·v``, trained by mini-batch SGD
(Koren, Bell & Volinsky, "Matrix Factorization Techniques for Recommender Systems",
IEEE Computer 42(8), 2009).

Parameter-server style (Li et al., "Scaling Distributed Machine Learning with the
Parameter Server", OSDI 2014): the item embeddings are cut into ``shards`` by hashing the
item id, and the shards live on the workers. The users are split into ``trainers`` blocks,
each a task on a worker with its own ratings (loaded there) and its own user embeddings.
Training runs in clocks: at the start of a clock a trainer pulls the item rows, runs SGD
on its share of the ratings, and pushes one update row per rating to the shard that owns
the item, as an online recommender does with each new event; each shard applies the rows
it receives. A shard's load is the number of rows pushed to it.

Hot keys: hashing spreads *items* evenly, not *requests*. The shard that holds the most
popular items receives far more rows than the others (:func:`shard_load` measures it).
The fix here replicates the ``hot_items`` most popular items on every shard: a trainer
sends the hot items' updates to the replicas whose shards have the least load (filling the
lowest up first), and at the end of the clock the replicas add up their updates and agree
again. The model is the same (the same updates are added, only in another order); the
load is even. (Aggregating updates per item before pushing is the other classic fix; see
HET, Miao et al., VLDB 2022, for caching hot embeddings in training at scale.)

In the Dask run each shard task receives the trainers' whole outputs and reads its own
part (one task fewer per trainer and shard each clock); the rows a shard applies are what
it counts as its load.

    history = train_mf(client, trainers=2, shards=4, hot_items=5)
    history.attrs["load"]        # rows pushed to each shard
"""
from __future__ import annotations

import functools
from numbers import Integral, Real

import numpy as np
import pandas as pd

#: The synthetic catalogue: sizes and taste model (see :func:`make_ratings`).
DATA = dict(n_users=4000, n_items=500, samples=40_000, rank=4, zipf=1.3, noise=0.3)
TEST_FRACTION = 0.1


# --------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def _ratings(seed: int, n_users: int, n_items: int, samples: int, rank: int, zipf: float,
             noise: float):
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
    :data:`DATA`."""
    users, items, ratings = _ratings(*_data_key(seed, data))
    return pd.DataFrame({"user": users, "item": items, "rating": ratings})


def _data_key(seed, data) -> tuple:
    seed = _check_int(seed, "seed", 0)
    unknown = set(data) - set(DATA)
    if unknown:
        raise TypeError(f"unknown data options {sorted(unknown)}; known: {sorted(DATA)}")
    d = {**DATA, **data}
    for name in ("n_users", "n_items", "samples", "rank"):
        d[name] = _check_int(d[name], name, 1)
    d["zipf"] = _check_number(d["zipf"], "zipf", 0.0)
    d["noise"] = _check_number(d["noise"], "noise", 0.0)
    return (seed, d["n_users"], d["n_items"], d["samples"], d["rank"], d["zipf"], d["noise"])


def split(key: tuple):
    """(train, test) index arrays: the first 10 % of the shuffled ratings are the test set."""
    n = len(_ratings(*key)[0])
    n_test = max(1, int(n * TEST_FRACTION))
    return np.arange(n_test, n), np.arange(n_test)


def load_block(trainer: int, trainers: int, key: tuple):
    """Runs on a worker: trainer ``trainer``'s training ratings (the users with
    ``user % trainers == trainer``), as (user, item, rating) arrays."""
    users, items, ratings = _ratings(*key)
    train, _ = split(key)
    mine = train[users[train] % trainers == trainer]
    if len(mine) == 0:
        raise ValueError(f"trainer {trainer} of {trainers} has no ratings")
    return users[mine], items[mine], ratings[mine]


def shard_of(items, shards: int) -> np.ndarray:
    """The shard that owns each item: hash partitioning (the id modulo the shard count)."""
    return np.asarray(items) % shards


def hottest(key: tuple, count: int) -> np.ndarray:
    """The ``count`` most-rated items of the training set, most popular first."""
    users, items, _ = _ratings(*key)
    train, _ = split(key)
    counts = np.bincount(items[train], minlength=key[2])
    return np.argsort(-counts, kind="stable")[:count]


# --------------------------------------------------------------------------------------
# the tasks: trainers, shards, and the hot-row replicas
# --------------------------------------------------------------------------------------

def init_shard(shard: int, shards: int, key: tuple, hot) -> dict:
    """Shard ``shard``'s item rows (small random numbers, seeded per item), without the
    hot items, which live in the replicated table."""
    n_items, rank, seed = key[2], key[4], key[0]
    items = np.arange(shard, n_items, shards)
    items = items[~np.isin(items, hot)]
    return dict(items=items, rows=_init_rows(items, rank, seed, 11),
                hot_delta=np.zeros((len(hot), rank)), received=0)


def init_hot(key: tuple, hot) -> dict:
    hot = np.asarray(hot, dtype=int)
    return dict(items=hot, rows=_init_rows(hot, key[4], key[0], 11))


def init_users(trainer: int, trainers: int, key: tuple) -> np.ndarray:
    """Trainer ``trainer``'s user embeddings, one row per user id (only its own used)."""
    n_users, rank, seed = key[1], key[4], key[0]
    return _init_rows(np.arange(n_users), rank, seed, 12)


def _init_rows(ids, rank, seed, stream) -> np.ndarray:
    rng = np.random.default_rng([seed, stream])
    every = 0.1 * rng.normal(size=(int(np.max(ids, initial=-1)) + 1, rank))
    return every[np.asarray(ids, dtype=int)]


def item_table(n_items: int, rank: int, shards_state, hot_state) -> np.ndarray:
    """All item rows in one array, put together from the shards and the hot table."""
    V = np.zeros((n_items, rank))
    for s in shards_state:
        V[s["items"]] = s["rows"]
    V[hot_state["items"]] = hot_state["rows"]
    return V


def trainer_clock(block, previous, hot_state, *shards_state, clock: int, trainer: int,
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
    V = item_table(n_items, rank, shards_state, hot_state)
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


def route(items, shards: int, hot) -> np.ndarray:
    """The shard each update goes to: the owner for a cold item; the hot items' updates
    fill up the least-loaded replicas first (water-filling), so that every shard ends with
    as even a share as the cold updates allow."""
    items = np.asarray(items)
    target = shard_of(items, shards)
    is_hot = np.isin(items, hot)
    n_hot = int(is_hot.sum())
    if n_hot == 0:
        return target
    quota = water_fill(np.bincount(target[~is_hot], minlength=shards), n_hot)
    target[is_hot] = np.repeat(np.arange(shards), quota)
    return target


def water_fill(load, extra: int) -> np.ndarray:
    """How to split ``extra`` units over bins with ``load`` so that the fullest bin is as
    low as possible: raise the lowest bins to a common level (ties to the lowest index)."""
    load = np.asarray(load, dtype=np.int64)
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


def apply_pushes(shard_state: dict, hot_state: dict, shard: int, *trainer_outs) -> dict:
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


def merge_hot(hot_state: dict, *shards_state) -> dict:
    """The replicas agree again: every replica's updates added to the hot rows."""
    rows = hot_state["rows"] + sum(s["hot_delta"] for s in shards_state)
    return dict(items=hot_state["items"], rows=rows)


# --------------------------------------------------------------------------------------
# the driver: the same code runs the tasks on Dask or, without a client, in this process
# --------------------------------------------------------------------------------------

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
    """
    trainers = _check_int(trainers, "trainers", 1)
    shards = _check_int(shards, "shards", 1)
    hot_items = _check_int(hot_items, "hot_items", 0)
    epochs = _check_int(epochs, "epochs", 1)
    clocks_per_epoch = _check_int(clocks_per_epoch, "clocks_per_epoch", 1)
    lr = _check_number(lr, "lr", 0.0, strict=True)
    reg = _check_number(reg, "reg", 0.0)
    batch = _check_int(batch, "batch", 1)
    key = _data_key(seed, data)
    if hot_items > key[2]:
        raise ValueError(f"hot_items ({hot_items}) cannot exceed the number of items "
                         f"({key[2]})")
    users_all, items_all, ratings_all = _ratings(*key)
    train, test = split(key)
    blocks_users = np.bincount(users_all[train] % trainers, minlength=trainers)
    if (blocks_users == 0).any():
        raise ValueError(f"trainers={trainers} leaves a trainer with no ratings")
    if client is None:
        engine, homes = _InProcess(), [None]
    else:
        from distlab.apps import training
        training._check_client(client)
        engine, homes = client, training.live_workers(client)

    def on(func, *args, where, **kwargs):
        if client is None:
            return engine.submit(func, *args, **kwargs)
        return client.submit(func, *args, workers=[homes[where % len(homes)]],
                             allow_other_workers=True, pure=False, **kwargs)

    hot = hottest(key, hot_items)
    cfg = dict(n_items=key[2], rank=key[4], shards=shards, lr=lr, reg=reg, batch=batch,
               seed=key[0], clocks_per_epoch=clocks_per_epoch,
               mean=float(ratings_all[train].mean()))
    blocks = [on(load_block, t, trainers, key, where=t) for t in range(trainers)]
    users = [on(init_users, t, trainers, key, where=t) for t in range(trainers)]
    shard_states = [on(init_shard, s, shards, key, hot, where=s) for s in range(shards)]
    hot_state = on(init_hot, key, hot, where=0)
    snapshots, every_update = [], []
    for clock in range(epochs * clocks_per_epoch):
        users = [on(trainer_clock, blocks[t], users[t], hot_state, *shard_states,
                    clock=clock, trainer=t, cfg=cfg, where=t) for t in range(trainers)]
        shard_states = [on(apply_pushes, shard_states[s], hot_state, s, *users, where=s)
                        for s in range(shards)]
        every_update += shard_states
        if hot_items:
            hot_state = on(merge_hot, hot_state, *shard_states, where=0)
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
        V = item_table(key[2], key[4], shard_list, hot_snap)
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


def shard_load(seed: int = 0, shards: int = 4, hot_items: int = 0, **data) -> np.ndarray:
    """Rows one epoch pushes to each shard, counted from the training ratings alone, in one
    pass (:func:`train_mf` measures the same thing while it trains, clock by clock): one
    row per rating, to the owner, or for a hot item by water-filling (:func:`route`)."""
    shards = _check_int(shards, "shards", 1)
    hot_items = _check_int(hot_items, "hot_items", 0)
    key = _data_key(seed, data)
    _, items, _ = _ratings(*key)
    train, _ = split(key)
    target = route(items[train], shards, hottest(key, hot_items))
    return np.bincount(target, minlength=shards)


def plot_load(loads: dict):
    """Rows pushed to each shard, one group of bars per run (``{label: load array}``), with
    the mean drawn as a line: the hot shard stands out. Returns a small figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(loads), figsize=(3.2 * len(loads), 2.6), dpi=72,
                             sharey=True, squeeze=False)
    for ax, (label, load) in zip(axes[0], loads.items()):
        load = np.asarray(load)
        ax.bar(np.arange(len(load)), load / 1e3, color="tab:blue")
        ax.axhline(load.mean() / 1e3, color="grey", linestyle="--", linewidth=1)
        ax.set_title(f"{label}: max/mean {load.max() / load.mean():.2f}", fontsize=9)
        ax.set_xlabel("shard")
        ax.set_xticks(np.arange(len(load)))
    axes[0][0].set_ylabel("thousand rows pushed")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------

def _check_int(value, name, minimum) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def _check_number(value, name, minimum, strict=False) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not np.isfinite(value) or value < minimum or (strict and value == minimum):
        bound = f"above {minimum}" if strict else f"at least {minimum}"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return float(value)
