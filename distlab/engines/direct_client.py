"""A call of a direct engine, as the client sends it: one message to each worker taking
part (its nodes, their inputs, the plan), every reply awaited, and the results, which stay
in the workers' memory, turned into ordinary futures (the scheduler learns who holds them
while the workers compute, as ``client.scatter(direct=True)`` tells it what it placed).
A failed call keeps no result; a worker that leaves during the call, or before its
results are fetched, is named by :class:`~distlab.engines.result.WorkerLost`. What the
workers do is in :mod:`~distlab.engines.direct_call`.
"""
from __future__ import annotations

import asyncio
import time
import uuid

import numpy as np

from distlab import checks
from distlab.concepts.cost import Network
from distlab.concepts.plans import Plan
from distlab.engines import dask_private
from distlab.engines.direct_call import (CONFIRM_SECONDS, DEFAULT_TIMEOUT, WATCH_SECONDS,
                                         DirectError, tell_all)
from distlab.engines.inputs import Inputs
from distlab.engines.result import AllreduceResult, WorkerLost
from distlab.engines.workers import check_client

__all__: list[str] = []      # internal: learners use DirectNaive, DirectFast, allreduce


class DirectEngine:
    """What both direct engines share: the client, the seconds a node waits for one
    message before the call fails (``timeout``), how a call is sent and how its replies
    become an :class:`~distlab.engines.result.AllreduceResult`."""
    name = "direct"

    def __init__(self, client, timeout: float = DEFAULT_TIMEOUT):
        """Raises ``TypeError`` / ``ValueError`` for a client that is not an open
        ``distributed.Client`` and for a ``timeout`` (seconds) that is not > 0."""
        self.client = check_client(client)
        self.timeout = checks.positive("timeout", timeout)

    def call(self, op: str, plan: Plan, plan_message, inputs: Inputs, abort_op: str,
             **extra):
        """Send one call to handler ``op`` of every worker holding a node: the plan as
        ``plan_message``, each node's input (sent along, or its key), the shape and dtype
        (``None`` when not known yet) and ``extra`` fields. Returns the replies, one
        future per node and the call's seconds; raises :class:`DirectError`, or
        :class:`~distlab.engines.result.WorkerLost`."""
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
        values = None if inputs.futures else self.gather(futures, inputs.homes)
        seconds = per_node(replies, "seconds", plan.n_nodes, float)
        sent = per_node(replies, "sent", plan.n_nodes, np.int64)
        return AllreduceResult(plan, inputs, network, "dask", dask_engine=self.name,
                               values=values, futures=futures, wall_time=wall,
                               worker_time=float(seconds.max(initial=0.0)),
                               bytes_counted=sent)


    def gather(self, futures, homes) -> list:
        """The nodes' results, fetched from their workers. A worker killed between the end
        of the call and this fetch takes its results with it: Dask cancels their futures,
        and the caller gets :class:`~distlab.engines.result.WorkerLost` naming it (not
        Dask's ``FutureCancelledError``, which says neither what nor where)."""
        try:
            return [np.asarray(v) for v in self.client.gather(futures)]
        except dask_private.future_cancelled_error():
            alive = set(self.client.nthreads())
            gone = {h for h, f in zip(homes, futures) if f.status != "finished"} - alive
            if not gone:
                raise
            raise WorkerLost(gone) from None


def _ok(reply) -> bool:
    return isinstance(reply, dict) and reply.get("status") == "OK"


async def call_all(client, messages: dict, op: str, abort_op: str) -> dict:
    """Send ``messages[address]`` to handler ``op`` of each worker at once; each reply,
    or the exception raised, by address. The first that fails ends the call on every
    worker (``abort_op``), so that none waits for a message that cannot come; so does a
    worker leaving the cluster (asked every :data:`WATCH_SECONDS` while the call lasts).
    A call to a worker that left is not waited for (Dask retries a connection for 30 s),
    nor one that does not answer :data:`CONFIRM_SECONDS` after the end."""
    calls = {address: asyncio.ensure_future(dask_private.call(client, address, op, **msg))
             for address, msg in messages.items()}
    pending, ended, gone = set(calls.values()), None, set()
    loop = asyncio.get_running_loop()
    while pending:
        done, pending = await asyncio.wait(pending, timeout=WATCH_SECONDS,
                                           return_when=asyncio.FIRST_COMPLETED)
        if not done:
            gone = await dask_private.lost_workers(client, messages, 0.0)
        bad = [a for a, c in calls.items() if c in done and (
            c.cancelled() or c.exception() is not None or not _ok(c.result()))] + sorted(gone)
        if bad and ended is None:
            ended = loop.time()
            await tell_all(client, sorted(set(messages) - gone), abort_op,
                           call=messages[bad[0]]["call"],
                           reason=f"the call failed on worker {bad[0]}")
        late = ended is not None and loop.time() - ended > CONFIRM_SECONDS
        for address, c in calls.items():
            if c in pending and (address in gone or late):
                c.cancel()
    return {a: ConnectionError(f"worker {a} did not answer") if c.cancelled() else
            c.exception() or c.result() for a, c in calls.items()}


async def failure(client, replies: dict) -> Exception | None:
    """The cause among the workers' replies, or ``None`` when every worker says OK:
    :class:`~distlab.engines.result.WorkerLost` when a worker of the call has left the
    cluster (waiting up to :data:`CONFIRM_SECONDS` for the scheduler to confirm it when
    a worker's connection closed), else the first reply that is not an echo of the abort
    it caused."""
    bad = [r for r in replies.values() if not _ok(r)]
    if not bad:
        return None
    closed = any(isinstance(r, OSError) for r in bad)        # CommClosedError too
    gone = await dask_private.lost_workers(client, list(replies),
                                           CONFIRM_SECONDS if closed else 0.0)
    if gone:
        return WorkerLost(gone)
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
                         nbytes: int, abort_op: str):
    """Send the call (``messages`` by address, to handler ``op``), register the result
    ``keys`` (node i's on ``homes[i]``, ``nbytes`` each) meanwhile, and return the replies
    and one future per key. On a failure, end the call everywhere, forget the keys, and
    raise the cause (:func:`failure`)."""
    registering = asyncio.ensure_future(dask_private.register(client, keys, homes, nbytes))
    replies = await call_all(client, messages, op, abort_op)
    await registering
    cause = await failure(client, replies)
    if cause is not None:
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


def as_builtin(error: DirectError) -> Exception:
    """The exception ``allreduce`` raises for a worker's failure: ``TypeError`` or
    ``ValueError`` for a bad input, ``RuntimeError`` for anything else."""
    if error.kind == "type":
        return TypeError(str(error))
    if error.kind == "value":
        return ValueError(str(error))
    return RuntimeError(f"the direct all-reduce failed: {error}")
