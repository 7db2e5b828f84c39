"""The digits, split, standardised and sharded the same way in every process.

scikit-learn's digits (1,797 8×8 images, shipped inside scikit-learn: nothing is
downloaded) are split 75/25 into a training and a test set, standardised with the
training set's statistics, and the training set is cut into one shard per node — IID by
default, or skewed so that each node sees mostly some digits (:func:`shard_rows`). Every
node's mini-batch at every step is a pure function of ``(seed, node, step)``
(:func:`batch_rows`), which is what lets a run restarted from a checkpoint retrace the
same steps. numpy only: a torch rank that needs a shard does not pay for Dask.
"""
from __future__ import annotations

import functools

import numpy as np

from distlab import checks

N_CLASSES = 10
N_FEATURES = 65                       # 64 standardised pixels and a constant 1 (the bias)
TEST_SIZE = 0.25
#: The most rows a shard may have for :func:`batch_rows` (the digits have 1,347 training
#: rows; each epoch shuffles them all).
MAX_ROWS = 10**7


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The digits exactly as ``sklearn.datasets.load_digits(return_X_y=True)`` returns them
    (X float64 of shape (1797, 64), y int of shape (1797,)), read from the file
    scikit-learn ships (``sklearn/datasets/data/digits.csv.gz``) without importing
    scikit-learn: on a fresh worker that import costs a second or more, the file a few
    milliseconds. Falls back to ``load_digits`` if the file moves."""
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
    """(train rows, test rows), two sorted int arrays: ``test_size`` of each class, chosen
    by a seeded shuffle, so both sets have the classes in the same proportions. ``y`` a
    non-empty 1-D array of class labels (ints), ``test_size`` in (0, 1), ``seed`` an int
    ≥ 0; ``TypeError``/``ValueError`` naming the argument otherwise."""
    y = np.asarray(y) if not isinstance(y, (str, bytes)) else None
    if y is None or y.dtype.kind not in "iu" or y.ndim != 1:
        raise TypeError("y must be a 1-D array of class labels (ints)")
    if y.size == 0:
        raise ValueError("y must hold at least one label")
    test_size = checks.fraction("test_size", test_size, open_low=True, open_high=True)
    seed = checks.count("seed", seed)
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
    :func:`stratified_split`), pixels standardised with the training set's mean and
    deviation, a bias column of ones appended (X float64 of shape (rows, 65), y int64).
    The same in every process for the same seed; read-only (cached). ``TypeError``/
    ``ValueError`` for a seed that is not an int ≥ 0."""
    return _split(checks.count("seed", seed, minimum=0))


def shard_rows(node: int, nodes: int, seed: int = 0, label_skew: float = 0.0) -> np.ndarray:
    """The training-set rows (ints, in the shard's order) of node ``node``'s shard.

    IID (``label_skew`` 0, the default): every ``nodes``-th row of a seeded shuffle, so each
    shard holds every digit in about the same proportion. Non-IID (``label_skew`` in
    (0, 1]): that share of the shuffled rows is first sorted by label and cut into
    ``nodes`` contiguous parts, one per node; the rest is dealt as before. At 1 every node
    sees only two or three digits — the "pathological non-IID" split of McMahan et al.,
    "Communication-Efficient Learning of Deep Networks from Decentralized Data", AISTATS
    2017; in between, each node sees mostly some digits and a little of every other.
    Shard sizes differ by at most 2. Raises ``ValueError`` for a node outside
    ``0 … nodes − 1``, more nodes than training rows, or a skew outside [0, 1]."""
    nodes = checks.count("nodes", nodes, minimum=1)
    node = checks.count("node", node, minimum=0)
    label_skew = checks.fraction("label_skew", label_skew)
    if node >= nodes:
        raise ValueError(f"node must be below nodes ({nodes}), got {node}")
    _, y, _, _ = load_split(seed)
    nodes = checks.count("nodes", nodes, maximum=len(y),
                         limit="the training rows: more leave an empty shard")
    order = np.random.default_rng([seed, 1]).permutation(len(y))
    n_sorted = int(round(label_skew * len(y)))
    by_label = order[:n_sorted][np.argsort(y[order[:n_sorted]], kind="stable")]
    dealt = order[n_sorted:][node::nodes]
    # Sorted part first, then the dealt rows, each in shuffled order: at skew 0 exactly the
    # rows, in the order, that every earlier run used (the mini-batches index this order).
    return np.concatenate([np.array_split(by_label, nodes)[node], dealt])


def load_shard(node: int, nodes: int, seed: int = 0, label_skew: float = 0.0
               ) -> tuple[np.ndarray, np.ndarray]:
    """Node ``node``'s shard of the training set, ``(X, y)``: the rows of
    :func:`shard_rows` (IID by default; ``label_skew`` > 0 for non-IID shards). Runs as a
    task on the node's worker, so the data is loaded where it is used. Raises
    ``ValueError`` for a node outside ``0 … nodes − 1`` or an empty shard."""
    X, y, _, _ = load_split(seed)
    rows = shard_rows(node, nodes, seed, label_skew)
    if len(rows) == 0:
        raise ValueError(f"nodes={nodes} leaves node {node} an empty shard "
                         f"(the training set has {len(y)} rows)")
    return X[rows], y[rows]


def batch_rows(n_rows: int, batch: int, seed: int, node: int, step: int) -> np.ndarray:
    """Rows (``batch`` distinct ints) of node ``node``'s mini-batch at ``step``: each epoch
    is a fresh seeded shuffle of the shard, cut into ``n_rows // batch`` batches. A pure
    function of its arguments, which is what makes a restarted run retrace the same
    steps. ``n_rows`` an int in [1, :data:`MAX_ROWS`], ``batch`` an int ≥ 1, ``seed``,
    ``node`` and ``step`` ints ≥ 0; ``TypeError``/``ValueError`` naming the argument
    otherwise, and ``ValueError`` if the batch is larger than the shard."""
    n_rows = checks.count("n_rows", n_rows, minimum=1, maximum=MAX_ROWS)
    batch = checks.count("batch", batch, minimum=1)
    for name, value in (("seed", seed), ("node", node), ("step", step)):
        checks.count(name, value)
    if batch > n_rows:
        raise ValueError(f"batch ({batch}) is larger than the shard ({n_rows} rows)")
    return _batch_rows(n_rows, batch, seed, node, step)


def _batch_rows(n_rows: int, batch: int, seed: int, node: int, step: int) -> np.ndarray:
    """:func:`batch_rows` for the strategies' inner loops, whose arguments are checked."""
    per_epoch = n_rows // batch
    epoch, k = divmod(step, per_epoch)
    order = np.random.default_rng([seed, 2, node, epoch]).permutation(n_rows)
    return order[k * batch:(k + 1) * batch]


def sklearn_accuracy(seed: int = 0) -> float:
    """Test accuracy of scikit-learn's ``LogisticRegression`` (default settings) on the
    same split: the target the distributed runs are held to. ``seed`` and its errors as
    :func:`load_split`."""
    from sklearn.linear_model import LogisticRegression

    X, y, X_test, y_test = load_split(seed)
    model = LogisticRegression(max_iter=2000).fit(X[:, :-1], y)
    return float(model.score(X_test[:, :-1], y_test))
