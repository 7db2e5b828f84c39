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

    data.py       the seeded ratings and their key; the train/test split
    sharding.py   hash sharding, water-filling, the load per shard
    tasks.py      the trainers', shards' and replicas' tasks
    train.py      train_mf: the driver, on Dask or in this process

May import: ``distlab.engines`` (the worker list, pinning), ``distlab.concepts``,
``distlab.checks``, numpy, pandas, distributed. Never: ``distlab.present`` (the plot is
:func:`distlab.present.recsys_plots.load_plot`), ``distlab.cli``, matplotlib.
"""
from distlab.apps.recsys.data import DATA, MAX_DATA, TEST_FRACTION, data_key, make_ratings, split
from distlab.apps.recsys.sharding import MAX_SHARDS, route, shard_load, water_fill
from distlab.apps.recsys.train import train_mf

__all__ = ["DATA", "MAX_DATA", "TEST_FRACTION", "make_ratings", "data_key", "split",
           "MAX_SHARDS", "route", "water_fill", "shard_load", "train_mf"]
