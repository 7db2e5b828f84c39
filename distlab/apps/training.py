"""Chapter 6 · model training: one classifier, trained five ways on the cluster.

The model is softmax regression (multinomial logistic regression) in numpy on
scikit-learn's digits (1,797 8×8 images, shipped inside scikit-learn: nothing is
downloaded). The training set is cut into ``nodes`` shards; every node loads its own shard
*on its worker* (:func:`load_shard` is a task), so no training data goes through the
client or the scheduler. The strategies, naive first:

``single``
    one process, plain mini-batch SGD; each step's batch is the union of the nodes'
    batches, so it is the reference every distributed run is compared with.
``sync``
    synchronous data parallelism: every node computes the gradient of its mini-batch, the
    gradients are averaged with distlab's all-reduce (:func:`distlab.collectives.allreduce`)
    and every node applies the same step. One communication round per step. Mathematically
    the same run as ``single`` (Goyal et al., "Accurate, Large Minibatch SGD", 2017).
``local``
    local SGD / model averaging: every node takes ``local_steps`` (H) steps on its own
    shard, then the *parameters* are averaged with the all-reduce. H times fewer rounds
    (Stich, "Local SGD Converges Fast and Communicates Little", ICLR 2019; McMahan et
    al., FedAvg, AISTATS 2017). With H = 1 and plain SGD it is exactly ``sync``:
    mean(θ − η g_i) = θ − η mean(g_i).
``async``
    an asynchronous parameter server with bounded staleness (Ho et al., "More Effective
    Distributed ML via a Stale Synchronous Parallel Parameter Server", NeurIPS 2013): the
    nodes push gradients one at a time and the server applies each as it arrives; a
    gradient may have been computed on a model up to ``staleness`` versions old. The delays
    are drawn from the seed, so a run is reproducible, while Dask really runs the gradient
    tasks of different versions at the same time.
``gossip``
    gossip SGD (D-PSGD: Lian et al., "Can Decentralized Algorithms Outperform Centralized
    Algorithms?", NeurIPS 2017): no all-reduce and no server; each round every node
    averages its model with its two ring neighbours (W = (I + A)/3, from
    :mod:`distlab.concepts.gossip`) and takes H local steps. The nodes never agree
    exactly; ``consensus`` in the history measures how far apart they are.

Fault tolerance is checkpoint and restart: every ``checkpoint_every`` rounds the client
keeps a copy of the model (it is tiny); when a worker dies, training restarts from the last
checkpoint on the workers still alive. Every mini-batch is a pure function of
``(seed, node, step)``, so the restarted run retraces the same steps and ends with the very
same model. ``train(..., kill_at=r)`` kills a worker (chosen by the seed) after round ``r``
to show it.

    client = distlab.connect()
    history = train("local", client)             # H = 16 local steps per round
    history.tail(1)[["round", "bytes", "accuracy"]]
"""
from __future__ import annotations

import functools
import os
import signal
import threading
import time
from numbers import Integral, Real

import numpy as np
import pandas as pd

STRATEGIES = ("single", "sync", "local", "async", "gossip")
#: Rounds each strategy runs by default: about as far as it needs to converge.
DEFAULT_ROUNDS = {"single": 40, "sync": 40, "local": 6, "async": 30, "gossip": 6}
N_CLASSES = 10
N_FEATURES = 65                       # 64 standardised pixels and a constant 1 (the bias)
TEST_SIZE = 0.25


# --------------------------------------------------------------------------------------
# data: the digits, split and standardised the same way in every process
# --------------------------------------------------------------------------------------

def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The digits exactly as ``sklearn.datasets.load_digits(return_X_y=True)`` returns them,
    read from the file scikit-learn ships (``sklearn/datasets/data/digits.csv.gz``)
    without importing scikit-learn: on a fresh worker that import costs a second or more,
    the file a few milliseconds. Falls back to ``load_digits`` if the file moves."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("sklearn")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
    try:
        data = np.loadtxt(path, delimiter=",")
    except OSError:                                   # pragma: no cover - layout changed
        from sklearn.datasets import load_digits as sklearn_load_digits
        return sklearn_load_digits(return_X_y=True)
    return data[:, :-1], data[:, -1].astype(int)


def stratified_split(y: np.ndarray, test_size: float, seed: int):
    """(train rows, test rows): ``test_size`` of each class, chosen by a seeded shuffle,
    so both sets have the classes in the same proportions."""
    rng = np.random.default_rng([seed, 0])
    test = []
    for label in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == label))
        test.append(rows[:int(round(len(rows) * test_size))])
    test = np.sort(np.concatenate(test))
    return np.setdiff1d(np.arange(len(y)), test), test


@functools.lru_cache(maxsize=4)
def _split(seed: int):
    X, y = load_digits()
    train, test = stratified_split(y, TEST_SIZE, seed)
    X_train, X_test, y_train, y_test = X[train], X[test], y[train], y[test]
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    std[std == 0] = 1.0                          # pixels that are always blank
    arrays = []
    for part in (X_train, X_test):
        scaled = (part - mean) / std
        arrays.append(np.hstack([scaled, np.ones((len(part), 1))]))
    arrays = [arrays[0], y_train.astype(np.int64), arrays[1], y_test.astype(np.int64)]
    for a in arrays:
        a.setflags(write=False)                  # cached: nobody may change it
    return tuple(arrays)


def load_split(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``X_train, y_train, X_test, y_test``: the digits split 75/25 (stratified, seeded:
    :func:`stratified_split`),
    pixels standardised with the training set's mean and deviation, a bias column of ones
    appended. The same in every process for the same seed."""
    seed = _check_int(seed, "seed", minimum=0)
    return _split(seed)


def load_shard(node: int, nodes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Node ``node``'s shard of the training set: every ``nodes``-th row of a seeded
    shuffle. Runs as a task on the node's worker, so the data is loaded where it is used."""
    nodes = _check_int(nodes, "nodes", minimum=1)
    node = _check_int(node, "node", minimum=0)
    if node >= nodes:
        raise ValueError(f"node must be below nodes ({nodes}), got {node}")
    X, y, _, _ = load_split(seed)
    rows = np.random.default_rng([seed, 1]).permutation(len(y))[node::nodes]
    if len(rows) == 0:
        raise ValueError(f"nodes={nodes} leaves node {node} an empty shard "
                         f"(the training set has {len(y)} rows)")
    return X[rows], y[rows]


def describe_shards(client, nodes: int = 4, seed: int = 0) -> pd.DataFrame:
    """Load every node's shard on its worker (node i on worker i mod W) and report, per
    node, its rows and how many examples of each digit it holds. Only counts travel back."""
    _check_client(client)
    nodes = _check_int(nodes, "nodes", minimum=1)
    workers = live_workers(client)
    futures = [client.submit(_shard_counts, i, nodes, seed, workers=[workers[i % len(workers)]],
                             allow_other_workers=True, pure=False) for i in range(nodes)]
    from distlab.engines.progress import progress
    progress(futures, label="load_shard")
    counts = client.gather(futures)
    frame = pd.DataFrame(counts, columns=[str(d) for d in range(N_CLASSES)])
    frame.insert(0, "rows", frame.sum(axis=1))
    frame.index.name = "node"
    return frame


def _shard_counts(node, nodes, seed):
    _, y = load_shard(node, nodes, seed)
    return np.bincount(y, minlength=N_CLASSES).tolist()


def sklearn_accuracy(seed: int = 0) -> float:
    """Test accuracy of scikit-learn's ``LogisticRegression`` (default settings) on the
    same split: the target the distributed runs are held to."""
    from sklearn.linear_model import LogisticRegression

    X, y, X_test, y_test = load_split(seed)
    model = LogisticRegression(max_iter=2000).fit(X[:, :-1], y)
    return float(model.score(X_test[:, :-1], y_test))


# --------------------------------------------------------------------------------------
# the model: softmax regression
# --------------------------------------------------------------------------------------

def init_params() -> np.ndarray:
    """All-zero weights, shape (65, 10): one column per class, last row the biases."""
    return np.zeros((N_FEATURES, N_CLASSES))


def probabilities(params: np.ndarray, X: np.ndarray) -> np.ndarray:
    z = X @ params
    z = z - z.max(axis=1, keepdims=True)          # no overflow in exp
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def predict(params: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The predicted class of each row of ``X``."""
    return np.argmax(X @ params, axis=1)


def loss(params: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy."""
    p = probabilities(params, X)[np.arange(len(y)), y]
    return float(-np.mean(np.log(np.maximum(p, 1e-300))))


def accuracy(params: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(predict(params, X) == y))


def gradient(params: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient of the mean cross-entropy: Xᵀ(softmax(Xθ) − onehot(y)) / n."""
    p = probabilities(params, X)
    p[np.arange(len(y)), y] -= 1.0
    return X.T @ p / len(y)


# --------------------------------------------------------------------------------------
# one node's work, run as tasks on its worker
# --------------------------------------------------------------------------------------

def batch_rows(n_rows: int, batch: int, seed: int, node: int, step: int) -> np.ndarray:
    """Rows of node ``node``'s mini-batch at ``step``: each epoch is a fresh seeded shuffle
    of the shard, cut into ``n_rows // batch`` batches. A pure function of its arguments,
    which is what makes a restarted run retrace the same steps."""
    if batch > n_rows:
        raise ValueError(f"batch ({batch}) is larger than the shard ({n_rows} rows)")
    per_epoch = n_rows // batch
    epoch, k = divmod(step, per_epoch)
    order = np.random.default_rng([seed, 2, node, epoch]).permutation(n_rows)
    return order[k * batch:(k + 1) * batch]


def node_gradient(params, shard, node: int, step: int, batch: int, seed: int) -> np.ndarray:
    """The gradient of node ``node``'s mini-batch at ``step``."""
    X, y = shard
    rows = batch_rows(len(y), batch, seed, node, step)
    return gradient(params, X[rows], y[rows])


def apply_gradient(params, grad, lr: float) -> np.ndarray:
    """One SGD step, θ − η g (a new array: the worker may still hold the old one)."""
    return params - lr * grad


def local_sgd(params, shard, node: int, first_step: int, steps: int, batch: int,
              lr: float, seed: int) -> np.ndarray:
    """``steps`` SGD steps on the node's own shard, without talking to anyone."""
    for step in range(first_step, first_step + steps):
        params = apply_gradient(params, node_gradient(params, shard, node, step, batch,
                                                      seed), lr)
    return params


def gossip_sgd(neighbours, weights, shard, node: int, first_step: int, steps: int,
               batch: int, lr: float, seed: int) -> np.ndarray:
    """One gossip round: average with the neighbours (Σ_j W_ij θ_j, self included), then
    ``steps`` local SGD steps."""
    mixed = sum(w * p for w, p in zip(weights, neighbours))
    return local_sgd(mixed, shard, node, first_step, steps, batch, lr, seed)


def stack(*arrays) -> np.ndarray:
    return np.stack(arrays)


# --------------------------------------------------------------------------------------
# fault injection and recovery
# --------------------------------------------------------------------------------------

def _die_soon() -> None:
    """Runs on a worker: SIGKILL the worker's own process a moment later (after
    ``client.run`` has had its answer), as an out-of-memory kill or a crash would."""
    threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGKILL)).start()


def kill_worker(client, address: str, timeout: float = 30.0) -> None:
    """Kill the worker process at ``address`` and wait until the scheduler has noticed.
    A worker started with a nanny (the default, embedded or ``dask worker``) is restarted
    by it under a new address; its memory is lost either way."""
    client.run(_die_soon, workers=[address])
    deadline = time.monotonic() + timeout
    while address in client.nthreads():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the scheduler still lists the killed worker after {timeout} s")
        time.sleep(0.05)


def wait_for_workers(client, n: int, timeout: float = 60.0) -> None:
    """Wait until the cluster has ``n`` workers again (a nanny restarting a killed one)."""
    try:
        client.wait_for_workers(n, timeout=timeout)
    except TimeoutError:
        pass                                      # carry on with what is there


def live_workers(client) -> list[str]:
    workers = sorted(client.nthreads())
    if not workers:
        raise RuntimeError("the cluster has no workers")
    return workers


# --------------------------------------------------------------------------------------
# the strategies: each knows its state, how to place it and how to run one round
# --------------------------------------------------------------------------------------

def _pin(client, func, *args, worker, **kwargs):
    # A loose pin: the node's work runs on its worker, but a task whose worker has died
    # may run elsewhere instead of waiting forever.
    return client.submit(func, *args, workers=[worker], allow_other_workers=True,
                         pure=False, **kwargs)


class _Strategy:
    """State: what a checkpoint holds (numpy, in the client). ``place`` puts it on the
    workers as futures; ``round`` submits one round and returns the new futures; ``model``
    turns a gathered state into (model, consensus distance)."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.n = cfg["nodes"]
        self.params_size = N_FEATURES * N_CLASSES * 8

    def initial(self):
        return init_params()

    def model(self, state):
        return state, 0.0


class _Single(_Strategy):
    def run_local(self, rounds, seed):
        cfg = self.cfg
        shards = [load_shard(i, self.n, seed) for i in range(self.n)]
        params = init_params()
        states = [params]
        for k in range(rounds):
            rows = [batch_rows(len(y), cfg["batch"], seed, i, k)
                    for i, (_, y) in enumerate(shards)]
            X = np.concatenate([s[0][r] for s, r in zip(shards, rows)])
            y = np.concatenate([s[1][r] for s, r in zip(shards, rows)])
            params = apply_gradient(params, gradient(params, X, y), cfg["lr"])
            states.append(params)
        return states


class _OnCluster(_Strategy):
    def bind(self, client, homes):
        self.client = client
        self.homes = [homes[i % len(homes)] for i in range(self.n)]
        c = self.cfg
        # Pure keys: the same shard is loaded once and shared by every run that needs it.
        self.shards = [client.submit(load_shard, i, self.n, c["seed"], workers=[self.homes[i]],
                                     allow_other_workers=True, pure=True)
                       for i in range(self.n)]

    def place(self, state):
        return [_pin(self.client, np.array, state, worker=h) for h in self.homes]

    def snapshot(self, futures):
        return futures[0]


class _Sync(_OnCluster):
    steps_per_round = 1

    def round(self, futures, k, bytes_box):
        c = self.cfg
        grads = [_pin(self.client, node_gradient, futures[i], self.shards[i], i, k - 1,
                      c["batch"], c["seed"], worker=self.homes[i]) for i in range(self.n)]
        result = average(self.client, grads, self.homes, c["algorithm"])
        bytes_box.append(int(result.bytes_sent.sum()))
        return [_pin(self.client, apply_gradient, futures[i], result.futures[i], c["lr"],
                     worker=self.homes[i]) for i in range(self.n)]


class _Local(_OnCluster):
    @property
    def steps_per_round(self):
        return self.cfg["local_steps"]

    def round(self, futures, k, bytes_box):
        c, H = self.cfg, self.cfg["local_steps"]
        trained = [_pin(self.client, local_sgd, futures[i], self.shards[i], i, (k - 1) * H, H,
                        c["batch"], c["lr"], c["seed"], worker=self.homes[i])
                   for i in range(self.n)]
        result = average(self.client, trained, self.homes, c["algorithm"])
        bytes_box.append(int(result.bytes_sent.sum()))
        return list(result.futures)


class _Gossip(_OnCluster):
    @property
    def steps_per_round(self):
        return self.cfg["local_steps"]

    def initial(self):
        return np.stack([init_params()] * self.n)

    def place(self, state):
        return [_pin(self.client, np.array, state[i], worker=h)
                for i, h in enumerate(self.homes)]

    def round(self, futures, k, bytes_box):
        from distlab.concepts.gossip import ring_matrix
        c, H = self.cfg, self.cfg["local_steps"]
        W = ring_matrix(self.n)
        out = []
        for i in range(self.n):
            peers = [j for j in range(self.n) if W[i, j] > 0]
            out.append(_pin(self.client, gossip_sgd, [futures[j] for j in peers],
                            [float(W[i, j]) for j in peers], self.shards[i], i, (k - 1) * H,
                            H, c["batch"], c["lr"], c["seed"], worker=self.homes[i]))
        sends = int(np.count_nonzero(W) - self.n)       # messages per round, self excluded
        bytes_box.append(sends * self.params_size)
        return out

    def snapshot(self, futures):
        return _pin(self.client, stack, *futures, worker=self.homes[0])

    def model(self, state):
        mean = state.mean(axis=0)
        spread = float(np.mean([np.linalg.norm(s - mean) for s in state]))
        return mean, spread


class _Async(_OnCluster):
    """The server lives with node 0. Update u comes from node u mod N and was computed on
    version u − d_u of the model, d_u drawn from the seed in 0…staleness (a checkpoint is a
    barrier: no delay reaches back past it)."""
    steps_per_round = 1

    def __init__(self, cfg):
        super().__init__(cfg)
        self.delays: dict[int, list[int]] = {}       # round -> staleness of each push

    def place(self, state):
        return [_pin(self.client, np.array, state, worker=self.homes[0])]

    def round(self, versions, k, bytes_box):
        c = self.cfg
        rng = np.random.default_rng([c["seed"], 3, k])
        delays = rng.integers(0, c["staleness"] + 1, size=self.n)
        versions = list(versions)
        for i in range(self.n):
            current = len(versions) - 1
            read = max(0, current - int(delays[i]))             # bounded staleness
            self.delays.setdefault(k, [0] * self.n)[i] = current - read
            g = _pin(self.client, node_gradient, versions[read], self.shards[i], i, k - 1,
                     c["batch"], c["seed"], worker=self.homes[i])
            versions.append(_pin(self.client, apply_gradient, versions[-1], g,
                                 c["lr"] / self.n, worker=self.homes[0]))
        bytes_box.append(2 * self.n * self.params_size)         # push g, pull θ
        return versions[-(c["staleness"] + 1):]

    def snapshot(self, versions):
        return versions[-1]


_STRATEGY_CLASSES = {"single": _Single, "sync": _Sync, "local": _Local, "async": _Async,
                     "gossip": _Gossip}


def average(client, futures, homes, algorithm):
    """The one place training calls distlab's all-reduce: node i's array (a future on
    ``homes[i]``) becomes the mean over nodes, computed by tasks on the workers."""
    from distlab.engines.allreduce import allreduce
    return allreduce(futures, algorithm=algorithm, client=client, workers=homes)


# --------------------------------------------------------------------------------------
# the driver
# --------------------------------------------------------------------------------------

def train(strategy: str = "sync", client=None, *, nodes: int = 4, rounds: int | None = None,
          lr: float = 2.0, batch: int = 64, local_steps: int = 16, staleness: int = 4,
          algorithm: str = "recursive_doubling", seed: int = 0, checkpoint_every: int = 5,
          kill_at: int | None = None, progress: bool = False) -> pd.DataFrame:
    """Train softmax regression on the digits with ``strategy`` and return its history.

    One row per communication round (round 0 is the initial model): ``strategy``,
    ``round``, ``steps`` (SGD steps each node has taken), ``bytes`` (bytes sent between
    nodes so far, all nodes together), ``loss`` (training cross-entropy), ``accuracy``
    (on the held-out test set), ``consensus`` (mean distance of the nodes' models from
    their average; 0 when they agree). For ``gossip`` the loss and accuracy are those of
    the nodes' average model. ``history.attrs`` holds the final ``params``, the
    ``restarts`` after failures and the ``killed`` worker's index (or ``None``).

    ``nodes`` data-parallel nodes, placed round-robin on the workers; ``lr`` the learning
    rate; ``batch`` each node's mini-batch; ``local_steps`` H for ``local`` and
    ``gossip``; ``staleness`` the bound for ``async``; ``algorithm`` the all-reduce for
    ``sync`` and ``local`` (recursive doubling by default: the model is 5 KB, so latency
    dominates and fewer rounds win); ``checkpoint_every`` rounds the client keeps a copy of
    the model; ``kill_at`` kills a worker (chosen by ``seed``) after that round;
    ``progress`` draws a bar of the rounds done (in a notebook).
    """
    if not isinstance(strategy, str):
        raise TypeError(f"strategy must be a string, one of {', '.join(STRATEGIES)}; "
                        f"got {type(strategy).__name__}")
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; known strategies: "
                         f"{', '.join(STRATEGIES)}")
    nodes = _check_int(nodes, "nodes", minimum=1)
    rounds = DEFAULT_ROUNDS[strategy] if rounds is None else _check_int(rounds, "rounds",
                                                                        minimum=1)
    lr = _check_positive(lr, "lr")
    batch = _check_int(batch, "batch", minimum=1)
    local_steps = _check_int(local_steps, "local_steps (H)", minimum=1)
    staleness = _check_int(staleness, "staleness", minimum=0)
    seed = _check_int(seed, "seed", minimum=0)
    checkpoint_every = _check_int(checkpoint_every, "checkpoint_every", minimum=1)
    if kill_at is not None:
        kill_at = _check_int(kill_at, "kill_at", minimum=1)
        if kill_at >= rounds:
            raise ValueError(f"kill_at must be a round before the last ({rounds}), "
                             f"got {kill_at}")
    from distlab.engines.allreduce import ALGORITHMS
    if algorithm not in ALGORITHMS[:5]:
        raise ValueError(f"algorithm must be an exact all-reduce, one of "
                         f"{', '.join(ALGORITHMS[:5])}; got {algorithm!r}")
    train_rows = len(load_split(seed)[1])
    smallest = train_rows // nodes
    if smallest == 0:
        raise ValueError(f"nodes={nodes} leaves empty shards: the training set has only "
                         f"{train_rows} rows")
    if batch > smallest:
        raise ValueError(f"batch ({batch}) must not exceed a node's shard "
                         f"({smallest} rows with nodes={nodes})")
    if strategy == "single":
        if kill_at is not None:
            raise ValueError("kill_at needs a cluster: the single strategy has no workers")
    else:
        _check_client(client)

    cfg = dict(nodes=nodes, lr=lr, batch=batch, local_steps=local_steps,
               staleness=staleness, algorithm=algorithm, seed=seed)
    runner = _STRATEGY_CLASSES[strategy](cfg)
    if strategy == "single":
        states = runner.run_local(rounds, seed)
        per_round = [0] * rounds
        restarts, killed = 0, None
    else:
        from distlab.engines.progress import StepsBar
        bar = StepsBar(strategy, rounds) if progress else None
        states, per_round, restarts, killed = _drive(client, runner, rounds,
                                                     checkpoint_every, kill_at, seed, bar)
    return _history(strategy, runner, states, per_round, seed, restarts, killed)


def _drive(client, runner, rounds, checkpoint_every, kill_at, seed, bar=None):
    """Run ``rounds`` rounds in segments of ``checkpoint_every``; at each segment's end
    gather the snapshots (the history and the checkpoint). A killed worker abandons the
    segment, and training restarts from the last checkpoint on the live workers."""
    from distributed import wait

    n_workers = len(live_workers(client))
    states = [runner.initial()]
    per_round: list[int] = []
    done, restarts, killed = 0, 0, None
    while done < rounds:
        runner.bind(client, live_workers(client))
        futures = runner.place(states[-1])
        end = min(done + checkpoint_every, rounds)
        snaps, box = [], []
        failed = False
        for k in range(done + 1, end + 1):
            futures = runner.round(futures, k, box)
            snaps.append(runner.snapshot(futures))
            if k == kill_at and killed is None:
                wait(futures)                    # the round is done; now a worker dies
                workers = live_workers(client)
                killed = int(np.random.default_rng([seed, 4]).integers(len(workers)))
                kill_worker(client, workers[killed])
                failed = True
                break
        if failed:
            restarts += 1
            del futures, snaps
            continue                             # back to the last checkpoint
        states.extend(np.asarray(s) for s in client.gather(snaps))
        per_round.extend(box)
        done = end
        if bar is not None:
            bar.update(done)
    if killed is not None:
        wait_for_workers(client, n_workers)      # leave the cluster as we found it
    return states, per_round, restarts, killed


def _history(strategy, runner, states, per_round, seed, restarts, killed) -> pd.DataFrame:
    X, y, X_test, y_test = load_split(seed)
    steps = getattr(runner, "steps_per_round", 1)
    rows = []
    sent = 0
    for k, state in enumerate(states):
        model, spread = runner.model(state)
        if k:
            sent += per_round[k - 1]
        rows.append((strategy, k, k * steps, sent, loss(model, X, y),
                     accuracy(model, X_test, y_test), spread))
    history = pd.DataFrame(rows, columns=["strategy", "round", "steps", "bytes", "loss",
                                          "accuracy", "consensus"])
    history.attrs.update(params=runner.model(states[-1])[0], restarts=restarts,
                         killed=killed)
    if isinstance(runner, _Async):
        history.attrs["staleness"] = [d for k in sorted(runner.delays)
                                      for d in runner.delays[k]]
    return history


# --------------------------------------------------------------------------------------
# reading histories
# --------------------------------------------------------------------------------------

def rounds_to(history: pd.DataFrame, target: float) -> int | None:
    """The first round at which the test accuracy reaches ``target`` (None if never)."""
    _check_history(history)
    hit = history.loc[history["accuracy"] >= target, "round"]
    return None if hit.empty else int(hit.iloc[0])


def summary(histories, target: float | None = None, reference: dict | None = None
            ) -> pd.DataFrame:
    """One row per run: rounds, steps, bytes, final loss and accuracy, and (with
    ``target``) the rounds and bytes it took to reach the target accuracy. ``reference``
    adds rows with an accuracy only, e.g. ``{"scikit-learn": 0.9689}``."""
    if isinstance(histories, pd.DataFrame):
        histories = [histories]
    rows = []
    for h in histories:
        _check_history(h)
        last = h.iloc[-1]
        row = dict(strategy=last["strategy"], rounds=int(last["round"]),
                   steps=int(last["steps"]), bytes=int(last["bytes"]),
                   loss=round(float(last["loss"]), 4),
                   accuracy=round(float(last["accuracy"]), 4))
        if target is not None:
            r = rounds_to(h, target)
            row["rounds_to_target"] = r
            row["bytes_to_target"] = (None if r is None
                                      else int(h.loc[h["round"] == r, "bytes"].iloc[0]))
        rows.append(row)
    for name, acc in (reference or {}).items():
        rows.append(dict(strategy=name, accuracy=round(float(acc), 4)))
    table = pd.DataFrame(rows).set_index("strategy")
    for column in ("rounds", "steps", "bytes", "rounds_to_target", "bytes_to_target"):
        if column in table:
            table[column] = table[column].astype("Int64")    # blanks stay blank, not NaN
    return table


def plot(histories, target: float | None = None):
    """Training loss and test accuracy against communication rounds and against bytes sent
    between nodes, one line per run; ``target`` draws the accuracy to reach. Returns a
    small matplotlib figure."""
    import matplotlib.pyplot as plt

    if isinstance(histories, pd.DataFrame):
        histories = [histories]
    fig, axes = plt.subplots(2, 2, figsize=(9, 5), dpi=72, sharex="col", sharey="row")
    any_sent = False
    for h in histories:
        _check_history(h)
        label = h["strategy"].iloc[0]
        sent = h["bytes"].iloc[-1] > 0                  # the single process sends nothing
        any_sent |= bool(sent)
        for row, column in enumerate(("loss", "accuracy")):
            axes[row, 0].plot(h["round"], h[column], marker=".", label=label)
            if sent:
                axes[row, 1].plot(h["bytes"].iloc[1:] / 1e3, h[column].iloc[1:], marker=".",
                                  label=label)
            else:
                axes[row, 1].plot([], [])               # keep the colours in step
    axes[0, 0].set_ylabel("training loss")
    axes[0, 0].set_yscale("log")
    axes[1, 0].set_ylabel("test accuracy")
    axes[1, 0].set_ylim(0.8, 1.0)
    axes[1, 0].set_xlabel("communication rounds")
    axes[1, 1].set_xlabel("kB sent between nodes")
    if any_sent:
        axes[1, 1].set_xscale("log")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
        if target is not None and ax in axes[1]:
            ax.axhline(target, color="grey", linestyle="--", linewidth=1)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------

def _check_int(value, name, minimum=None) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def _check_positive(value, name) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _check_client(client) -> None:
    from distributed import Client
    if not isinstance(client, Client):
        raise TypeError("client must be a distributed.Client (from distlab.connect()) for "
                        f"a distributed strategy, got {type(client).__name__}")


def _check_history(history) -> None:
    if not isinstance(history, pd.DataFrame):
        raise TypeError(f"history must be the DataFrame train() returned, "
                        f"got {type(history).__name__}")
    missing = {"strategy", "round", "bytes", "accuracy"} - set(history.columns)
    if missing or history.empty:
        raise ValueError(f"history must be a non-empty history from train(); "
                         f"missing columns {sorted(missing)}" if missing else
                         "history must not be empty")
