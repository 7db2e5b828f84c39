"""A call of a direct engine: one message to each worker, results as futures.

Both direct engines (:mod:`~distlab.engines.direct`, :mod:`~distlab.engines.direct_fast`)
run a call the same way: the client sends one message to each worker taking part (its
nodes, their inputs, the plan), each worker reads its nodes' inputs (:func:`read_input`)
and runs them, the client waits for every reply and turns the results, which stay in the
workers' memory, into ordinary futures. The scheduler learns who holds them while
the workers compute, as ``client.scatter(direct=True)`` tells it what it placed, so that
it knows the keys before a worker reports them. A failed call keeps no result.
"""
from __future__ import annotations

import asyncio
import time
import uuid

import numpy as np

from distlab.concepts.cost import Network
from distlab.concepts.plans import Plan
from distlab.engines import dask_private
from distlab.engines.inputs import Inputs
from distlab.engines.result import AllreduceResult

#: Seconds a node waits for one message before the call fails.
DEFAULT_TIMEOUT = 120.0

#: Clients (by id) that have registered a plugin (by name). The scheduler applies a plugin
#: to workers that join later, so once per client is enough; registering again on every
#: call would cost a round trip to the scheduler (0.36 ms, median of 21 on the embedded
#: 2-worker cluster: a fifth of an 8 KiB call).
_INSTALLED: set[tuple[str, str]] = set()


def install(client, plugin) -> None:
    """Register the worker plugin ``plugin`` once per client (idempotent on the cluster)."""
    if (client.id, plugin.name) not in _INSTALLED:
        client.register_plugin(plugin)
        _INSTALLED.add((client.id, plugin.name))


class DirectEngine:
    """What both direct engines share: the client, the seconds a node waits for one
    message before the call fails (``timeout``), how a call is sent and how its replies
    become an :class:`~distlab.engines.result.AllreduceResult`."""
    name = "direct"

    def __init__(self, client, timeout: float = DEFAULT_TIMEOUT):
        self.client = client
        self.timeout = timeout

    def call(self, op: str, plan: Plan, plan_message, inputs: Inputs, abort_op=None,
             **extra):
        """Send one call to handler ``op`` of every worker holding a node: the plan as
        ``plan_message``, each node's input (sent along, or its key), the shape and dtype
        (``None`` when not known yet) and ``extra`` fields. Returns the replies, one
        future per node and the call's seconds; raises :class:`DirectError`."""
        call = uuid.uuid4().hex
        keys = [f"allreduce-{plan.algorithm}-{call}-{i}" for i in range(plan.n_nodes)]
        known = inputs.shape is not None
        sources = [("key", v.key) if inputs.futures else
                   ("value", dask_private.serialized(v)) for v in inputs.values]
        messages = messages_by_home(inputs.homes, sources, {
            "call": call, "plan": plan_message, "peers": list(inputs.homes),
            "dtype": inputs.dtype.str if known else None, "shape": inputs.shape,
            "keys": keys, "timeout": self.timeout, **extra})
        nbytes = inputs.size * inputs.dtype.itemsize if known else 0    # 0: not known yet
        start = time.perf_counter()
        replies, futures = dask_private.run_from_client(
            self.client, run_on_workers, self.client, op, messages, keys,
            list(inputs.homes), nbytes, abort_op)
        return replies, futures, time.perf_counter() - start

    def result(self, plan: Plan, inputs: Inputs, network: Network, replies: dict, futures,
               wall: float) -> AllreduceResult:
        """The result of a call that succeeded (plain inputs: values gathered)."""
        values = None if inputs.futures else [np.asarray(v)
                                              for v in self.client.gather(futures)]
        seconds = per_node(replies, "seconds", plan.n_nodes, float)
        sent = per_node(replies, "sent", plan.n_nodes, np.int64)
        return AllreduceResult(plan, inputs, network, "dask", dask_engine=self.name,
                               values=values, futures=futures, wall_time=wall,
                               worker_time=float(seconds.max(initial=0.0)),
                               bytes_counted=sent)


class DirectError(Exception):
    """A worker reported a failure of the call; ``kind`` says which: "type" or "value"
    (a bad input), "mismatch" (inputs not of the shape and dtype expected), "error" or
    "aborted"."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


async def call_all(client, messages: dict, op: str) -> dict:
    """Send ``messages[address]`` to handler ``op`` of each worker at once; each reply,
    or the exception raised, by address."""
    calls = [dask_private.call(client, address, op, **msg)
             for address, msg in messages.items()]
    return dict(zip(messages, await asyncio.gather(*calls, return_exceptions=True)))


def failure(replies: dict) -> Exception | None:
    """The cause among the workers' replies (not an echo of the abort it caused), or
    ``None`` when every worker says OK."""
    bad = [r for r in replies.values()
           if not isinstance(r, dict) or r.get("status") != "OK"]
    if not bad:
        return None
    for r in bad:
        if isinstance(r, dict) and r.get("status") != "aborted":
            return DirectError(r["status"], r["message"])
    for r in bad:
        if isinstance(r, BaseException):
            return r
        if r is None:
            return RuntimeError("a worker has no direct all-reduce handler; is distlab "
                                "importable on the workers?")
    return DirectError("aborted", bad[0]["message"])


async def run_on_workers(client, op: str, messages: dict, keys: list, homes: list,
                         nbytes: int, abort_op: str | None = None):
    """Send the call (``messages`` by address, to handler ``op``), register the result
    ``keys`` (node i's on ``homes[i]``, ``nbytes`` each) meanwhile, and return the replies
    and one future per key. On a failure, tell every worker to drop the call (``abort_op``,
    if given), forget the keys, and raise the cause (:func:`failure`)."""
    registering = asyncio.ensure_future(dask_private.register(client, keys, homes, nbytes))
    replies = await call_all(client, messages, op)
    await registering
    cause = failure(replies)
    if cause is not None:
        if abort_op is not None:
            call = next(iter(messages.values()))["call"]
            await call_all(client, {a: {"call": call, "reason": "client", "reply": False}
                                    for a in messages}, abort_op)
        dask_private.release(client, keys)
        raise cause
    return replies, dask_private.futures_for(client, keys, np.ndarray)


def per_node(replies: dict, field: str, n_nodes: int, dtype) -> np.ndarray:
    """``reply[field][node]`` of every worker's reply, as one array indexed by node."""
    out = np.zeros(n_nodes, dtype=dtype)
    for reply in replies.values():
        for node, value in reply[field].items():
            out[int(node)] = value
    return out


def messages_by_home(homes, sources, common: dict) -> dict:
    """One message per worker: ``common`` plus ``nodes``, {node: source} of its nodes."""
    messages: dict[str, dict] = {}
    for node, (home, source) in enumerate(zip(homes, sources)):
        messages.setdefault(home, {**common, "nodes": {}})["nodes"][node] = source
    return messages


async def read_input(worker, source):
    """Runs on a worker: a node's input, ``("value", array)`` sent with the call, or
    ``("key", key)`` of a value in worker memory (fetched from its holder if it lives
    on another worker)."""
    kind, what = source
    return what if kind == "value" else await dask_private.read_value(worker, what)


def as_builtin(error: DirectError) -> Exception:
    """The exception ``allreduce`` raises for a worker's failure: ``TypeError`` or
    ``ValueError`` for a bad input, ``RuntimeError`` for anything else."""
    if error.kind == "type":
        return TypeError(str(error))
    if error.kind == "value":
        return ValueError(str(error))
    return RuntimeError(f"the direct all-reduce failed: {error}")
