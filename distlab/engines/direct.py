"""The direct engine, naive: the workers run the plan themselves, sending each other chunks.

(``allreduce(values, algorithm, client, dask_engine="direct_naive")``.) The task engine
(:mod:`~distlab.engines.tasks`) makes every step of every node a task that the scheduler
hands out, and pays Dask's per-task overhead on every dependent step. Here the scheduler
is left out of the collective, as MPI and gloo leave out any coordinator. The client sends
one message to each worker taking part; a handler there, installed by a worker plugin,
runs the plan for the nodes that live on that worker, all at once on its event loop, each
node doing::

    for each round of the plan:
        send each chunk it sends to the worker of its destination    (a Dask message)
        wait for the chunks it receives                               (the mailbox)
        buffer = apply_incoming(buffer, what it received)             (the kernel)
    result = finish(buffer)                                           (÷ N)

The arithmetic is the simulator's (:mod:`distlab.concepts.kernel`), call for call, so the
results are the simulator's to the last bit. The results stay in the workers' memory, as
ordinary futures (:mod:`~distlab.engines.direct_call`).

What is naive: every round copies the node's whole buffer (the kernel returns a fresh
array), every chunk is serialised into a message and waits for the receiver's reply, the
plan travels pickled with every call, and future inputs are described where they live
before the call (one more round trip). :mod:`~distlab.engines.direct_fast` removes these
costs one idea at a time; its docstring has the measurements.

Failure (:mod:`~distlab.engines.direct_call`): a node that fails ends the call on every
worker at once, and so does the client when a worker's connection closes, or a worker
that finds a worker of the call gone from the cluster; a node that waits longer than
``timeout`` seconds for a message fails. When a sum overflows, the client runs the call
again, scaled (:mod:`distlab.concepts.kernel`).
"""
from __future__ import annotations

import asyncio
import time

import numpy as np
from distributed.diagnostics.plugin import WorkerPlugin

from distlab.concepts.cost import Network
from distlab.concepts.kernel import (apply_incoming, extract, finish, scale_down,
    scale_exponent, specs_for)
from distlab.concepts.plans import Plan
from distlab.engines import dask_private
from distlab.engines.direct_call import (Aborted, DirectError, Mailbox, Runner, install,
                                         status_of)
from distlab.engines.direct_client import DirectEngine, as_builtin
from distlab.engines.inputs import Inputs
from distlab.engines.placement import describe, read_input
from distlab.engines.result import AllreduceResult

#: The runner, plugin and handlers are the engine's own (worker side).
__all__ = ["DirectNaive"]

RUN, PUT, ABORT = "distlab_naive_run", "distlab_naive_put", "distlab_naive_abort"


class NaiveRunner(Runner):
    """One per worker: runs the nodes that live there; its mailbox keeps the chunks that
    arrive for them, by (call, round, transfer index), until taken."""
    abort_op = ABORT

    def __init__(self, worker):
        super().__init__(worker, Mailbox())

    def put(self, key, data) -> None:
        """Handler: a chunk arrives."""
        self.mailbox.deliver(tuple(key), data)

    async def take(self, key: tuple, timeout: float):
        try:
            return await asyncio.wait_for(self.mailbox.slot(key), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"no chunk for round {key[1]} within {timeout:g} s") \
                from None
        finally:
            self.mailbox.slots.pop(key, None)

    async def run(self, call, plan, nodes, peers, dtype, shape, keys, timeout, scale=0):
        """Handler: run ``plan`` for ``nodes`` ({node: input source}) living here, the
        others living at ``peers[node]``, scaled by 2^-``scale``; store node i's result
        under ``keys[i]``. Returns per node the bytes it sent and its seconds, or the
        first error (after ending the call on every worker)."""
        if call in self.mailbox.dead:
            return {"status": "aborted", "message": self.mailbox.dead[call]}
        try:
            inputs = {int(i): await read_input(self.worker, s) for i, s in nodes.items()}
        except Exception as exc:                     # e.g. an input no worker holds
            await self.abort_everywhere(call, peers, f"{type(exc).__name__}: {exc}")
            return status_of(exc, self.mailbox, call)
        outcome = await self.run_nodes(call, peers, [
            self.run_node(call, plan, i, value, peers, np.dtype(dtype), tuple(shape),
                          timeout, scale) for i, value in inputs.items()])
        errors = [o for o in outcome if isinstance(o, BaseException)]
        if errors:
            first = next((e for e in errors if not isinstance(e, Aborted)), errors[0])
            return status_of(first, self.mailbox, call)
        done = dict(zip(inputs, outcome))
        dask_private.store(self.worker, {keys[i]: r for i, (r, _, _) in done.items()},
                           stimulus_id=f"distlab-naive-{call}")
        return {"status": "OK", "sent": {i: s for i, (_, s, _) in done.items()},
                "seconds": {i: t for i, (_, _, t) in done.items()}}

    async def run_node(self, call, plan: Plan, node: int, value, peers, dtype, shape,
                       timeout, scale=0):
        """Node ``node``'s part of the plan: its result, the bytes it sent, its seconds."""
        start = time.perf_counter()
        buffer = scale_down(value, scale, dtype)
        guard = plan.divide_by is not None
        sent = 0
        for k, rnd in enumerate(plan.rounds):
            for j, t in enumerate(rnd.transfers):
                if t.src == node:
                    chunk = extract(buffer, *t.chunk, plan.blocks, dtype)
                    await dask_private.call(self.worker, peers[t.dst], PUT,
                                            key=(call, k, j),
                                            data=dask_private.serialized(chunk))
                    sent += chunk.nbytes
            # what this node receives, in the kernel's order: by source
            incoming = [(j, t) for j, t in sorted(enumerate(rnd.transfers),
                                                  key=lambda jt: jt[1].src)
                        if t.dst == node]
            if incoming:
                chunks = [await self.take((call, k, j), timeout) for j, _ in incoming]
                buffer = apply_incoming(buffer, specs_for([t for _, t in incoming]), chunks,
                                        plan.blocks, dtype, guard=guard)
        seconds = time.perf_counter() - start
        return finish(buffer, plan.divide_by, shape, dtype, scale), sent, seconds


class NaiveDirectPlugin(WorkerPlugin):
    """Adds the naive direct engine's handlers to every worker, now and when one joins."""
    name = "distlab-direct-naive"
    idempotent = True

    def setup(self, worker):
        runner = NaiveRunner(worker)
        dask_private.add_handlers(worker, {RUN: runner.run, PUT: runner.put,
                                           ABORT: runner.mailbox.abort})

    def teardown(self, worker):
        runner = getattr(dask_private.handler_of(worker, RUN), "__self__", None)
        if isinstance(runner, NaiveRunner):
            runner.close()
        dask_private.remove_handlers(worker, (RUN, PUT, ABORT))


class DirectNaive(DirectEngine):
    """The engine of ``allreduce(..., client, dask_engine="direct_naive")``.

    ``DirectNaive(client, timeout)``: an open ``distributed.Client`` and the seconds a
    node waits for a message; ``TypeError``/``ValueError`` otherwise, as
    :class:`~distlab.engines.direct_client.DirectEngine` says."""
    name = "direct_naive"

    def run(self, plan: Plan, inputs: Inputs, network: Network) -> AllreduceResult:
        """Future inputs are described first, where they live
        (:func:`~distlab.engines.placement.describe`); ``wall_time`` starts when the call
        is sent (a scaled rerun counts alone). A bad input raises ``TypeError`` /
        ``ValueError``, a worker that left the cluster
        :class:`~distlab.engines.result.WorkerLost`, any other failure ``RuntimeError``."""
        install(self.client, NaiveDirectPlugin())
        inputs = describe(self.client, inputs)
        scale = 0
        while True:
            try:
                replies, futures, wall = self.call(RUN, plan, dask_private.pickled(plan),
                                                   inputs, ABORT, scale=scale)
                return self.result(plan, inputs, network, replies, futures, wall)
            except DirectError as error:
                if error.kind != "rescale" or scale:
                    raise as_builtin(error) from None
                scale = scale_exponent(plan.n_nodes)
