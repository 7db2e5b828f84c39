"""A call of a direct engine, and what the workers of both direct engines share.

Both direct engines (:mod:`~distlab.engines.direct`, :mod:`~distlab.engines.direct_fast`)
run a call the same way: the client sends one message to each worker taking part (its
nodes, their inputs, the plan), each worker reads its nodes' inputs
(:func:`~distlab.engines.placement.read_input`) and runs them (a :class:`Runner` per
engine, with its :class:`Mailbox`), the client waits for every reply and turns the
results, which stay in the workers' memory, into ordinary futures. The scheduler learns
who holds them while the workers compute, as ``client.scatter(direct=True)`` tells it
what it placed. A failed call keeps no result.

Failure ends a call on every worker at once, not when a timeout runs out (gloo fails a
collective as soon as a peer's connection closes; an NCCL rank waiting on a dead peer
hangs, the behaviour to avoid): a worker whose node fails tells every worker of the call
(the engine's abort handler); the client does the same as soon as a reply fails, a
worker's connection closes or a worker leaves the cluster, and raises
:class:`~distlab.engines.result.WorkerLost` naming it; each worker, while a call lasts,
checks that the call's workers are still in the cluster (the SPMD ranks have no client).
"""
from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from contextlib import contextmanager

import numpy as np

from distlab import checks
from distlab.concepts.cost import Network
from distlab.concepts.kernel import SumOverflow
from distlab.concepts.plans import Plan
from distlab.engines import dask_private
from distlab.engines.inputs import Inputs
from distlab.engines.result import AllreduceResult, WorkerLost
from distlab.engines.workers import check_client

#: Seconds a node waits for one message before the call fails.
DEFAULT_TIMEOUT = 120.0
#: Seconds between a worker's checks that a running call's workers are still there.
WATCH_SECONDS = 0.5
#: Seconds the client waits for the scheduler to confirm that a worker whose connection
#: closed has left (a SIGKILLed worker is gone from its list within milliseconds).
CONFIRM_SECONDS = 3.0
#: Seconds to wait for an abort message to leave (a dead peer must not hold it up).
ABORT_SECONDS = 1.0
#: The abort reason that asks every node to run the call again, scaled (a sum overflowed).
RESCALE = "rescale: a sum overflowed; every node runs the call again, scaled"

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


class Aborted(Exception):
    """The call was ended on another worker or by the client; the message says why."""


class DirectError(Exception):
    """A worker reported a failure of the call; ``kind`` says which: "type" or "value"
    (a bad input), "mismatch" (inputs not of the shape and dtype expected), "rescale" (a
    sum overflowed: run again scaled), "error" or "aborted"."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


# ------------------------------------------------------------------ on the workers

class Mailbox:
    """Per worker: the messages for the nodes that live there, each in its slot (a key
    whose first item is the call) until its node takes it; the calls that ended; and the
    tasks of the nodes running a call, which ending it cancels (a node may be stuck in a
    send: Dask retries a connection to a dead worker for 30 s)."""

    def __init__(self):
        self.slots: dict[tuple, asyncio.Future] = {}
        self.dead: OrderedDict = OrderedDict()       # ended calls and why, newest last
        self.running: dict = {}                      # call → its nodes' tasks here

    def slot(self, key: tuple) -> asyncio.Future:
        if key not in self.slots:          # a message may come before its node asks
            self.slots[key] = asyncio.get_running_loop().create_future()
        return self.slots[key]

    def deliver(self, key: tuple, value) -> None:
        """A message for ``key`` (dropped when its call has ended here)."""
        if key[0] in self.dead:
            return
        future = self.slot(key)
        if not future.done():
            future.set_result(value)

    def abort(self, call, reason: str = "aborted") -> None:
        """Handler: end ``call`` here; whatever waits for its messages raises
        :class:`Aborted`, and messages that come later are dropped."""
        self.dead[call] = reason
        while len(self.dead) > 10_000:
            self.dead.popitem(last=False)
        for key in [k for k in self.slots if k[0] == call]:
            future = self.slots.pop(key)
            if not future.done():
                future.set_exception(Aborted(reason))
                future.exception()           # retrieved: no "never retrieved" warning
        for task in self.running.get(call, ()):
            task.cancel()


class Runner:
    """Per worker and engine: the mailbox, ending a call everywhere (the engine's abort
    handler is ``abort_op``), and the watch on the calls running here: while one has run
    longer than :data:`WATCH_SECONDS`, ask the scheduler every :data:`WATCH_SECONDS`
    which workers it has, and end a call whose workers left. A call that ends sooner
    costs a dict entry (a 64 MiB call lasts ~50 ms)."""
    abort_op = ""

    def __init__(self, worker, mailbox: Mailbox):
        self.worker = worker
        self.mailbox = mailbox
        self.watched: dict = {}              # call → (its other workers, when it began)
        self.watcher = None
        self.gone: set = set()               # workers the scheduler said had left

    async def abort_everywhere(self, call, peers, reason: str) -> None:
        """End ``call`` here and on every other worker in ``peers`` still there."""
        self.mailbox.abort(call, reason)
        others = sorted(set(peers) - {self.worker.address} - self.gone)
        await tell_all(self.worker, others, self.abort_op, call=call, reason=reason)

    @contextmanager
    def watching(self, call, peers):
        self.watched[call] = (frozenset(peers) - {self.worker.address}, time.monotonic())
        if self.watcher is None or self.watcher.done():
            self.watcher = asyncio.ensure_future(self._watch())
        try:
            yield
        finally:
            self.watched.pop(call, None)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            now = time.monotonic()
            due = {c: p for c, (p, t) in self.watched.items()
                   if p and now - t >= WATCH_SECONDS}
            if not due:
                continue
            try:
                alive = await dask_private.scheduler_workers(self.worker)
            except Exception:                        # no scheduler: the timeouts hold
                continue
            for call, peers in due.items():
                gone = peers - alive
                if gone and call in self.watched:
                    self.gone |= gone
                    await self.abort_everywhere(call, peers, str(WorkerLost(gone)))

    async def run_nodes(self, call, peers, coroutines) -> list:
        """Run this worker's nodes of ``call`` at once; the first to fail (not by an
        abort) ends the call everywhere, so that the others need not wait for a
        timeout. Returns each node's result or exception, in order: a failed connection
        becomes :class:`~distlab.engines.result.WorkerLost` when its worker has left the
        cluster, a node stopped by the end of the call :class:`Aborted`."""
        tasks = [asyncio.ensure_future(c) for c in coroutines]
        self.mailbox.running[call] = tasks
        pending, causes = set(tasks), {}
        try:
            with self.watching(call, peers):
                while pending:
                    done, pending = await asyncio.wait(pending,
                                                       return_when=asyncio.FIRST_EXCEPTION)
                    failed = [t for t in tasks if t in done and not t.cancelled()
                              and t.exception() is not None
                              and not isinstance(t.exception(), Aborted)]
                    if failed and not causes:
                        causes[failed[0]] = await self.explain(failed[0].exception(), peers)
                        if call not in self.mailbox.dead:
                            await self.abort_everywhere(call, peers,
                                                        abort_reason(causes[failed[0]]))
        finally:
            self.mailbox.running.pop(call, None)
        return [causes.get(t) or (Aborted(self.mailbox.dead.get(call, "cancelled"))
                                  if t.cancelled() else t.exception() or t.result())
                for t in tasks]

    async def explain(self, error: BaseException, peers) -> BaseException:
        """``error``, or :class:`~distlab.engines.result.WorkerLost` when it is a failed
        connection and the scheduler confirms that workers of the call have left."""
        if not isinstance(error, OSError):           # CommClosedError is one
            return error
        try:
            gone = await dask_private.lost_workers(self.worker, peers, CONFIRM_SECONDS)
        except Exception:                            # no scheduler either
            return error
        self.gone |= gone
        return WorkerLost(gone) if gone else error

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.cancel()


def abort_reason(error: BaseException) -> str:
    """What the other workers are told when ``error`` ends a call."""
    return RESCALE if isinstance(error, SumOverflow) else f"{type(error).__name__}: {error}"


def status_of(error: BaseException, mailbox: Mailbox, call, mismatch=()) -> dict:
    """A worker's reply for a call that failed with ``error``."""
    reason = mailbox.dead.get(call)
    if isinstance(error, WorkerLost):
        status = "lost"
    elif isinstance(error, SumOverflow) or reason == RESCALE:
        status = "rescale"
    elif isinstance(error, Aborted):
        status = "aborted"
    else:
        status = "mismatch" if isinstance(error, mismatch) else "error"
    return {"status": status, "message": f"{type(error).__name__}: {error}"}


#: Messages :func:`tell_all` still sends (the event loop keeps only weak references).
_SENDING: set = set()


async def tell_all(sender, addresses, op: str, **message) -> None:
    """Send ``message`` to handler ``op`` of every address, with no reply, and return
    once they have left, or after :data:`ABORT_SECONDS` at most: a connection to a worker
    that is gone may take long to fail (Dask retries it for 30 s); it goes on alone."""
    if not addresses:
        return
    sends = asyncio.gather(*[dask_private.call(sender, a, op, reply=False, **message)
                             for a in addresses], return_exceptions=True)
    _SENDING.add(sends)
    sends.add_done_callback(_SENDING.discard)
    await asyncio.wait([sends], timeout=ABORT_SECONDS)


# ------------------------------------------------------------------ on the client

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
