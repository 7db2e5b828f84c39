"""The fast direct engine: the naive one plus one named idea at a time.

The naive direct engine (:mod:`~distlab.engines.direct`) runs a plan on the workers
themselves, message by message; this one runs the same plan the same way, with the same
results to the last bit (the tests check both against the simulator), and each idea
below removes a cost the naive engine pays. Called from the client, p = 2, inputs already
on the workers as futures, median of 11 calls of each engine's best algorithm, one run
of ``tests/time_direct_engines.py`` on a shared 2-core box:

    ========  ==========  =========  ==============
    per node  naive (ms)  fast (ms)  naive ÷ fast
    ========  ==========  =========  ==============
    8 KiB     3.4         2.1        1.6
    1 MiB     8.6         3.5        2.4
    64 MiB    98.0        48.3       2.0
    ========  ==========  =========  ==============

1. **Checking inputs on the workers** (:mod:`~distlab.engines.direct_fast_call`). The
   naive engine describes future inputs before the call (1.4 ms, a round trip through
   the scheduler). Here each node takes its input's own shape and dtype and checks it
   where it lies; the client compares what the nodes report, and describes and runs
   again only when they differ.
2. **The plan rebuilt on the workers** (:mod:`~distlab.engines.direct_fast_plan`). The
   call carries the plan's name and options (56 B) instead of the pickled plan (ring on
   64 nodes: 348 KB, 11 ms to pickle and unpickle per call; on 2 nodes 468 B, 12 µs), and
   a worker works out each node's steps once per plan (ring on 64 nodes: 139 ms).
3. **Copy on write, in place** (:mod:`~distlab.engines.direct_fast_buffer`). A node reads
   its input where it lies and writes into one result buffer only the blocks it changes,
   adding in place, instead of a fresh copy of its whole buffer every round.
4. **Early division** (``node_steps``). A sum is divided by N where it completes, and the
   copies sent on carry the quotient: a node divides n/p values instead of n (one pass
   over 64 MiB costs 5.9 ms). With 3, a node's arithmetic for rabenseifner at 64 MiB
   falls from 33.6 ms (the plain kernel) to 8.1 ms.
5. **Fire and forget, small chunks inline** (:mod:`~distlab.engines.direct_fast_wire`).
   A chunk is one message with no reply, a small one carried inside it as bytes: one
   8-byte message between two workers takes 0.24 ms instead of 0.45 ms.
6. **Raw bytes on the stream, and landing.** A large chunk follows a small header as raw
   bytes on the connection, no serialisation; a copy whose blocks nothing else touches
   that round is read straight into the receiver's result: one 32 MiB message takes
   7.3 ms instead of 19.2 ms.
7. **The buffer pool.** Other large chunks are read into receive buffers the worker
   reuses: a fresh 32 MiB buffer would cost 1.9 ms of page faults every time.

Failure (:mod:`~distlab.engines.direct_call`): a node whose input is not what the call
needs (real, finite, of the shape and dtype given), or whose peer called another
collective (``plan_tag``), or whose sum overflows, ends the call on every worker taking
part; so does the client when a worker's connection closes, and a worker that finds a
worker of the call gone from the cluster. A node that waits longer than ``timeout``
seconds for a message fails instead of hanging. No result of a failed call is kept. When
a sum overflowed, the call runs again scaled (:mod:`distlab.concepts.kernel`): the client
calls again, SPMD ranks do it themselves.
"""
from __future__ import annotations

import time

import numpy as np
from distributed.diagnostics.plugin import WorkerPlugin

from distlab.concepts.kernel import SumOverflow, scale_exponent
from distlab.engines import dask_private
from distlab.engines.direct_call import (DEFAULT_TIMEOUT, RESCALE, Aborted, Runner,
    abort_reason, status_of)
from distlab.engines.direct_fast_buffer import NodeBuffer, check_value
from distlab.engines.direct_fast_plan import PlanOnWorker, plan_from
from distlab.engines.direct_fast_wire import PUT, STREAM, Wire
from distlab.engines.inputs import working_dtype
from distlab.engines.placement import read_input

#: Internal: the fast engine's worker side. Learners use DirectFast
#: (:mod:`~distlab.engines.direct_fast_call`).
__all__: list[str] = []

#: The worker handlers this engine adds (its plugin installs them).
CALL, ABORT = "distlab_allreduce", "distlab_allreduce_abort"
HANDLERS = (CALL, PUT, STREAM, ABORT)


class Mismatch(Exception):
    """Nodes of one call hold values of different sizes or dtypes (the client finds the
    common dtype, or says which shapes differ)."""


class NodeRunner(Runner):
    """One per worker: runs the nodes that live there, over the worker's :class:`Wire`."""
    abort_op = ABORT

    def __init__(self, worker):
        self.wire = Wire(worker)
        super().__init__(worker, self.wire)

    async def run_call(self, call, plan, nodes, peers, dtype, shape, keys, verify=True,
                       timeout=DEFAULT_TIMEOUT, scale=0):
        """Handler: run the plan for ``nodes`` ({node: input source}) living here, scaled
        by 2^-``scale``; the others live at ``peers[node]``. Results go to this worker's
        memory under ``keys[node]``. ``shape`` and ``dtype`` ``None``: each node takes its
        input's own, and the reply says which (``shapes``, ``dtypes``). Returns per node
        the bytes it sent and its seconds, or the first error (after ending the call
        everywhere): status "type" / "value" (a bad input), "mismatch" (nodes of
        different sizes, or not of the given shape and dtype), "rescale" (a sum
        overflowed), "error" or "aborted"."""
        if call in self.wire.dead:
            return status_of(Aborted(self.wire.dead[call]), self.wire, call)
        plan = plan_from(plan)
        try:
            inputs = {int(i): await read_input(self.worker, s) for i, s in nodes.items()}
            if verify:
                for i, value in inputs.items():
                    problem = check_value(value, i, shape, dtype)
                    if problem:
                        await self.abort_everywhere(call, peers, problem[1])
                        return {"status": problem[0], "message": problem[1]}
        except Exception as exc:                     # e.g. an input no worker holds
            await self.abort_everywhere(call, peers, abort_reason(exc))
            return status_of(exc, self.wire, call)
        meta = {i: (np.shape(v), working_dtype([np.asarray(v).dtype]))
                if shape is None else (tuple(shape), np.dtype(dtype))
                for i, v in inputs.items()}
        outcome = await self.run_nodes(call, peers, [
            self._run_node(call, plan, i, value, peers, meta[i][1], meta[i][0], timeout,
                           Mismatch, scale, "node") for i, value in inputs.items()])
        errors = [o for o in outcome if isinstance(o, BaseException)]
        if errors:
            first = next((e for e in errors if not isinstance(e, Aborted)), errors[0])
            return status_of(first, self.wire, call, Mismatch)
        results = dict(zip(inputs, outcome))
        dask_private.store(self.worker, {keys[i]: r[0] for i, r in results.items()},
                           stimulus_id=f"distlab-allreduce-{call}")
        return {"status": "OK", "sent": {i: r[1] for i, r in results.items()},
                "seconds": {i: r[2] for i, r in results.items()},
                "shapes": {i: m[0] for i, m in meta.items()},
                "dtypes": {i: m[1].str for i, m in meta.items()}}

    async def run_rank(self, call, plan, node, value, peers, dtype, shape, timeout):
        """One rank's part of a call made on the workers themselves (see
        :mod:`~distlab.engines.spmd`): node ``node``'s result, bytes sent and seconds.
        A failure here ends the call on every rank. When a sum overflows, every rank runs
        the call again, scaled, as ``call + "-scaled"``."""
        scale = scale_exponent(plan.plan.n_nodes)
        if self.wire.dead.get(call) != RESCALE:
            if call in self.wire.dead:
                raise Aborted(self.wire.dead[call])
            try:
                return await self._rank(call, plan, node, value, peers, dtype, shape,
                                        timeout, 0)
            except (SumOverflow, Aborted):
                if self.wire.dead.get(call) != RESCALE:
                    raise
        return await self._rank(f"{call}-scaled", plan, node, value, peers, dtype, shape,
                                timeout, scale)

    async def _rank(self, call, plan, node, value, peers, dtype, shape, timeout, scale):
        (outcome,) = await self.run_nodes(call, peers, [self._run_node(
            call, plan, node, value, peers, np.dtype(dtype), shape, timeout, ValueError,
            scale, "rank")])
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def _run_node(self, call, plan: PlanOnWorker, node, value, peers, dtype, shape,
                        timeout, mismatch, scale, who):
        start = time.perf_counter()
        wire = self.wire
        buffer = NodeBuffer(value, dtype, plan.plan.blocks, plan.plan.divide_by, scale)
        sent = 0
        for step in plan.node(node):
            for (t, pair), land in zip(step.incoming, step.land):
                if land:
                    wire.land(call, step.slot(pair), buffer.target(*t.chunk))
            slots = [step.slot(pair) for _, pair in step.incoming]
            receiving, timer = wire.expect(call, slots, timeout)
            try:
                for t, pair in step.outgoing:
                    chunk = buffer.read(*t.chunk)
                    sent += chunk.nbytes
                    await wire.send(call, step.slot(pair), chunk, peers[t.dst],
                                    buffer.own.size, plan.tag)
                # every send of the round has left before the buffer changes
                arrived = [await r for r in receiving]
            finally:
                timer.cancel()
                wire.done_with(call, slots)
            for (t, _), message in zip(step.incoming, arrived):
                check_message(message, t.src, node, plan.tag, buffer.own, mismatch, who)
            buffer.apply(step, [m for m, *_ in arrived],
                         [how == "landed" for _, how, *_ in arrived])
            for message, how, *_ in arrived:
                if how == "pooled" and message is not None:
                    wire.recycle(message)
        result = buffer.finish(shape)
        return result, sent, time.perf_counter() - start


def check_message(message, src: int, node: int, tag: str, own: np.ndarray, mismatch,
                  who: str) -> None:
    """Raise ``mismatch`` when a message from ``src`` is not one node ``node`` can add (it
    would otherwise fail with numpy's broadcast error, or worse, add): another
    collective, another dtype, another vector length."""
    data, _, size, their_tag = message
    if their_tag != tag:
        raise mismatch(f"{who}s called different algorithms: {who} {src} called "
                       f"{their_tag}, {who} {node} called {tag}")
    if data is not None and data.dtype != own.dtype:
        raise mismatch(f"{who}s called with different dtypes: {who} {src} with "
                       f"{data.dtype}, {who} {node} with {own.dtype}")
    if size != own.size:
        raise mismatch(f"{who} {node} holds {own.size} values but {who} {src} holds "
                       f"{size}: every {who} needs the same size")


class FastDirectPlugin(WorkerPlugin):
    """Adds the fast direct engine's handlers to every worker, now and when one joins."""
    name = "distlab-direct-allreduce"
    idempotent = True

    def setup(self, worker):
        runner = NodeRunner(worker)
        dask_private.add_handlers(worker, {
            CALL: runner.run_call, PUT: runner.wire.put, STREAM: runner.wire.stream,
            ABORT: runner.wire.abort})

    def teardown(self, worker):
        runner = getattr(dask_private.handler_of(worker, CALL), "__self__", None)
        if isinstance(runner, NodeRunner):
            runner.close()
        dask_private.remove_handlers(worker, HANDLERS)


def runner_of(worker) -> NodeRunner:
    """The worker's :class:`NodeRunner` (the plugin installs it); ``RuntimeError`` when
    there is none."""
    runner = getattr(dask_private.handler_of(worker, CALL), "__self__", None)
    if not isinstance(runner, NodeRunner):
        raise RuntimeError("this worker has no direct all-reduce handler; is distlab "
                           "importable on the workers?")
    return runner
