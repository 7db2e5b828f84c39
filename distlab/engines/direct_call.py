"""What the workers of both direct engines share: the mailbox, the runner, ending a call.

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
:class:`~distlab.engines.result.WorkerLost` naming it
(:mod:`~distlab.engines.direct_client`); each worker, while a call lasts, checks that the
call's workers are still in the cluster (the SPMD ranks have no client).
"""
from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from contextlib import contextmanager

from distlab.concepts.kernel import SumOverflow
from distlab.engines import dask_private
from distlab.engines.result import WorkerLost

__all__: list[str] = []      # internal: learners use DirectNaive, DirectFast, allreduce

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
