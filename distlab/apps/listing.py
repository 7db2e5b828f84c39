"""Chapter 5, corrected: the document's two functions, written so they run on Dask.

The listing printed in the source document (``DOCUMENT_LISTING``) fails at its first
``client.submit`` and has five more defects behind that one; chapter 05 runs it, names each
defect, and calls these instead. Both functions take the one shared client, so no call
starts a cluster of its own.
"""
from __future__ import annotations

from numbers import Real

import numpy as np
from distributed import Client, wait

from distlab.checks import count, flag
from distlab.engines.progress import progress as show_progress
from distlab.engines.workers import check_client, worker_addresses

#: Section 5.2 of the source document, exactly as printed.
DOCUMENT_LISTING = '''\
import numpy as np
from distributed import Client, progress

def data_sync(data):
    client = Client()
    data = client.submit(data)
    synced_data = np.mean([node.data for node in data], axis=0)
    client.gather(synced_data)
    return synced_data

def parallel_computation(data):
    client = Client()
    tasks = client.map(np.sum, data)
    results = client.gather(tasks)
    return sum(results)

if __name__ == "__main__":
    # 初始化分布式环境
    client = Client()

    # 生成测试数据
    data = client.submit(np.random.rand(100, 100))

    # 数据同步
    synced_data = data_sync(data)
    print("同步后的数据：", synced_data)

    # 算法并行化
    result = parallel_computation(synced_data)
    print("并行计算结果：", result)
'''


def _as_finite_array(value, name: str) -> np.ndarray:
    """A float copy of ``value``; TypeError if not numeric, ValueError if NaN or infinite."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a number or a numeric array, got {type(value).__name__}")
    try:
        array = np.array(value, dtype=float)  # a copy: the caller's data is never touched
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a number or a numeric array, got {value!r}") from exc
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, but contains NaN or infinity")
    return array


def _mean(*values: np.ndarray) -> np.ndarray:
    return np.mean(values, axis=0)


def _copy(value: np.ndarray) -> np.ndarray:
    return np.array(value, copy=True)


def data_sync(client: Client, node_values, *, progress: bool = False) -> list:
    """Average the nodes' values on the cluster: X_i' = (1/N) Σ_j X_j for every node i.

    ``node_values`` holds one value per node, each a number or an array (all of one shape).
    Node i's value is placed on worker i mod W, the mean is computed on the cluster, and a
    copy of it is sent back to every node's worker. Returns every node's synced value, in
    node order: floats for scalar input, arrays otherwise.

    Raises ``TypeError`` (client not an open ``distributed.Client``, node_values not a
    list, a value not numeric) or ``ValueError`` (a closed client, no values, NaN or
    infinity, values of different shapes); ``RuntimeError`` if the cluster has no worker.
    """
    check_client(client)
    flag("progress", progress)
    if isinstance(node_values, (str, bytes, Real)) or not hasattr(node_values, "__len__"):
        raise TypeError("node_values must be a list with one value per node, "
                        f"got {type(node_values).__name__}")
    if len(node_values) == 0:
        raise ValueError("node_values must hold at least one node's value, got an empty list")
    values = [_as_finite_array(v, f"node_values[{i}]") for i, v in enumerate(node_values)]
    shapes = {v.shape for v in values}
    if len(shapes) > 1:
        raise ValueError(f"node_values must all have one shape, got shapes {sorted(shapes)}")

    workers = worker_addresses(client)
    home = [workers[i % len(workers)] for i in range(len(values))]
    # Each node's value goes straight to its own worker: the "node" holds its data.
    # hash=False: equal values must not share one key, or releasing one loses the other.
    placed = [client.scatter(v, workers=[w], direct=True, hash=False)
              for v, w in zip(values, home)]
    mean = client.submit(_mean, *placed, pure=False)
    # One copy of the mean per worker; every node on that worker reads it.
    copies = {w: client.submit(_copy, mean, workers=[w], pure=False)
              for w in sorted(set(home))}
    if progress:
        show_progress(list(copies.values()))
    wait(list(copies.values()))
    synced = dict(zip(copies, client.gather(list(copies.values()))))
    scalar = values[0].shape == ()
    return [float(synced[w]) if scalar else synced[w].copy() for w in home]


def parallel_computation(client: Client, data, *, partitions: int | None = None,
                         progress: bool = False) -> float:
    """Sum ``data`` on the cluster: partition, assign, compute in parallel, gather.

    The array is cut along its first axis into ``partitions`` contiguous blocks (default:
    one per worker, so each task is big enough to be worth its overhead); each block is
    sent to one worker, summed there, and the partial sums are gathered and added.

    Raises ``TypeError`` (client as in :func:`data_sync`, data not numeric, partitions
    not an int) or ``ValueError`` (a closed client, data empty or not finite, partitions
    outside 1 … len(data)).
    """
    check_client(client)
    flag("progress", progress)
    array = _as_finite_array(data, "data")
    if array.ndim == 0 or array.size == 0:
        raise ValueError(f"data must be a non-empty array, got shape {array.shape}")
    workers = worker_addresses(client)
    if partitions is None:
        partitions = min(len(workers), len(array))
    partitions = count("partitions", partitions)
    if not 1 <= partitions <= len(array):
        raise ValueError(f"partitions must be between 1 and {len(array)} "
                         f"(the length of data's first axis), got {partitions}")

    blocks = np.array_split(array, partitions)                           # 1. partition
    placed = [client.scatter(b, workers=[workers[i % len(workers)]], direct=True, hash=False)
              for i, b in enumerate(blocks)]                              # 2. assign
    partial = [client.submit(np.sum, p, pure=False) for p in placed]      # 3. compute
    if progress:
        show_progress(partial)
    return float(sum(client.gather(partial)))                            # 4. gather
