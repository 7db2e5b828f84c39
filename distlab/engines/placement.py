"""Where the nodes live on a Dask cluster: each node's worker, and its input there.

Plain values are placed one node per worker in address order (or where ``workers`` says);
a future's node lives on the worker that holds it (or where ``workers`` says, and the
engine fetches it there). Each call asks the scheduler once for what it needs (the worker
list, or who holds the futures): about 0.2 ms on the embedded cluster, the price of
keeping no state between calls.

Nothing here is public: ``allreduce`` checks its arguments and calls :func:`_place`;
:func:`describe` and :func:`read_input` are the engines' (the direct engines call them).
"""
from __future__ import annotations

from distributed import Future, wait

from distlab.engines import dask_private
from distlab.engines.inputs import Inputs, _check_descriptions, _describe_value, local_inputs
from distlab.engines.workers import worker_addresses

__all__: list[str] = []


def _is_future(value) -> bool:
    return isinstance(value, Future)


def _check_futures(values: list, client) -> bool:
    """Whether ``values`` are futures: ``TypeError`` for a mix of futures and plain values,
    and for futures without the client they belong to."""
    futures = [_is_future(v) for v in values]
    if any(futures) and not all(futures):
        raise TypeError("values must be all Futures or all plain values, not a mix")
    if all(futures) and client is None:
        raise TypeError("values are Dask Futures, so pass the client they belong to "
                        "(client=...)")
    return all(futures)


def _check_workers(workers, available: list[str], n_nodes: int) -> list[str] | None:
    """``workers`` (one address per node) if every one is a worker of the cluster
    (``available``); ``TypeError`` / ``ValueError`` otherwise. ``None`` stays ``None``."""
    if workers is None:
        return None
    if isinstance(workers, str) or not hasattr(workers, "__len__"):
        raise TypeError("workers must be a list of worker addresses, one per node")
    workers = list(workers)
    if len(workers) != n_nodes:
        raise ValueError(f"workers must name one worker per node ({n_nodes}), "
                         f"got {len(workers)}")
    unknown = sorted(set(workers) - set(available))
    if unknown:
        raise ValueError(f"workers names {len(unknown)} address(es) that are not "
                         f"workers of this cluster")
    return workers


def _ready(futures: list) -> None:
    """Wait for future inputs to be in worker memory (no cost when they are), and raise a
    failed one's exception here."""
    if any(f.status != "finished" for f in futures):      # else no need to ask the loop
        wait(futures)
    for i, f in enumerate(futures):
        if f.status == "error":
            f.result()
        if f.status != "finished":
            raise ValueError(f"values[{i}] is a Future that is {f.status}, not finished")


def _homes_of(client, futures: list) -> list[str]:
    """The worker holding each future (the first by address when several do)."""
    who = client.who_has(futures)
    homes = []
    for i, f in enumerate(futures):
        holders = sorted(who.get(f.key, ()))
        if not holders:
            raise ValueError(f"values[{i}] is a Future that is not held by any "
                             f"worker (status {f.status!r})")
        homes.append(holders[0])
    return homes


def _place(client, values: list, workers=None, futures: bool = False) -> Inputs:
    """The inputs of a call on the cluster, each node with its worker. Plain values are
    checked here (as :func:`~distlab.engines.inputs.local_inputs`); futures are waited
    for but not fetched, so their shape and dtype are left for the engine to learn.
    Raises ``ValueError`` when more nodes than workers are given without ``workers``."""
    n_nodes = len(values)
    if futures:
        _ready(values)
        if workers is None:
            return Inputs(tuple(values), None, None, tuple(_homes_of(client, values)), True)
        homes = _check_workers(workers, worker_addresses(client), n_nodes)
        return Inputs(tuple(values), None, None, tuple(homes), True)
    available = worker_addresses(client)
    homes = _check_workers(workers, available, n_nodes)
    if homes is None:
        if n_nodes > len(available):
            raise ValueError(f"values has {n_nodes} nodes but the cluster has only "
                             f"{len(available)} workers: each node needs a worker of its "
                             "own (or pass workers=[...] to place nodes explicitly)")
        homes = available[:n_nodes]
    return local_inputs(values, homes)


async def read_input(worker, source):
    """Runs on a worker: a node's input, ``("value", array)`` sent with the call, or
    ``("key", key)`` of a value in worker memory (fetched from its holder if it lives
    on another worker)."""
    kind, what = source
    return what if kind == "value" else await dask_private.read_value(worker, what)


async def _describe_here(keys_by_worker: dict, dask_worker=None) -> dict:
    """Runs on each worker (``client.run``): ``_describe_value`` of its nodes' inputs."""
    return {node: _describe_value(await dask_private.read_value(dask_worker, key))
            for node, key in keys_by_worker[dask_worker.address].items()}


def describe(client, inputs: Inputs) -> Inputs:
    """Future inputs with their shape and working dtype, read where they live
    (:func:`~distlab.engines.inputs._describe_value`, by ``client.run``: one round trip
    through the scheduler, no task) and checked here: ``TypeError`` / ``ValueError`` as
    for plain values. Plain inputs, and inputs already described, are returned as they
    are."""
    if not inputs.futures or inputs.shape is not None:
        return inputs
    keys_by_worker: dict[str, dict] = {}
    for node, (future, home) in enumerate(zip(inputs.values, inputs.homes)):
        keys_by_worker.setdefault(home, {})[node] = future.key
    replies = client.run(_describe_here, keys_by_worker, workers=list(keys_by_worker))
    found = {int(node): d for reply in replies.values() for node, d in reply.items()}
    return inputs.described(*_check_descriptions([found[i] for i in range(inputs.n_nodes)]))
