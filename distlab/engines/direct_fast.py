"""The direct engine: the same plan, run by the workers themselves, message by message.

The task engine (:mod:`~distlab.engines.tasks`) makes every step of every node
a task that the scheduler hands out, so each dependent step pays Dask's per-task overhead
("about 1 ms", distributed docs; [local] 2–10 ms on a busy 2-core box) and every chunk
becomes a key. Here the scheduler is left out of the collective, as MPI and gloo leave
out any coordinator: each rank runs the collective itself, point to point.

- The client sends one message straight to each worker taking part (no task, no
  scheduler). A handler on that worker, installed once by a worker plugin, runs the plan
  for the nodes that live there, concurrently on the worker's event loop.
- Chunks travel straight from worker to worker over Dask's own comm layer, on the
  connections Dask pools between workers, one message per transfer and no reply. A small
  chunk rides inside the message as bytes. A large one is written as raw bytes on the
  connection's stream right after a small header, and the receiver reads them straight
  into the destination's result when it is a copy (else into a buffer it reuses): no
  serialisation, and no copy besides the kernel's. (Dask's own transfers of an array
  between workers reach 0.3–0.7 GB/s on a 2-core box, reference/performance-models.md
  §2.1; this path runs at the speed of a plain socket on the loopback.)
- A node never copies its input: it reads it by key from the worker's memory and writes
  into its result buffer only the blocks it changes (copy on write); the blocks it never
  changes are copied from the input at the end. The arithmetic is the kernel's
  (:mod:`~distlab.concepts.kernel`), done in place: ``own += m`` is ``new = own + m``
  bit for bit, so the results are the simulator's to the last bit (the tests check it).
- Each result stays in its worker's memory under a fresh key, registered with the
  scheduler while the collective runs (as ``client.scatter(direct=True)`` registers what
  it places), so the results are ordinary futures.

Failure: a node whose input is not what the client expects (shape, dtype, finite) aborts
the call on every worker taking part; so does the client when a worker does not answer.
A node that waits longer than ``timeout`` seconds for a message fails instead of hanging.
No result of a failed call is kept.
"""
from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from functools import lru_cache

import numpy as np
from distributed.diagnostics.plugin import WorkerPlugin

from distlab.concepts.kernel import (apply_incoming, block_bounds, flat, incoming_by_node,
    specs_for)
from distlab.concepts.plans import Plan

#: The worker handlers this engine adds (a worker plugin installs them).
CALL, PUT, STREAM, ABORT, DESCRIBE = (
    "distlab_allreduce", "distlab_allreduce_put", "distlab_allreduce_stream",
    "distlab_allreduce_abort", "distlab_allreduce_describe")
HANDLERS = (CALL, PUT, STREAM, ABORT, DESCRIBE)
#: Seconds a node waits for one message before the call fails.
DEFAULT_TIMEOUT = 120.0
#: Chunks of at least this many bytes go as raw bytes on the stream after a header;
#: smaller ones as bytes inside one message.
STREAM_BYTES = 64 * 1024
#: Receive buffers a worker keeps for reuse (a fresh one costs page faults every time).
SCRATCH_BYTES = 64 * 2**20


class Aborted(Exception):
    """The call was aborted on another worker or by the client."""


# --------------------------------------------------------------------------------------
# the plan, node by node
# --------------------------------------------------------------------------------------

class Step:
    """One round of one node: what it sends and receives, and its local work after.
    Transfers come with their pair index: ``(src, dst, j)``, the j-th message of the round
    from src to dst; with the round it makes the message's mailbox slot."""

    def __init__(self, round_: int, outgoing, incoming, specs, land):
        self.round = round_
        self.outgoing = outgoing                  # [(transfer, pair)]
        self.incoming = incoming                  # [(transfer, pair)], the kernel's order
        self.specs = specs
        self.land = land                          # received straight into the result?
        self.arrives_divided = [None] * len(incoming)   # per block, see _steps
        self.divide_after: list[tuple[int, int]] = []

    def slot(self, pair) -> tuple:
        return (self.round, *pair)


def _overlap(a, b) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _layout(transfers, p: int) -> dict[int, tuple]:
    """Per node: its outgoing and incoming transfers of a round (incoming in source
    order, the kernel's), their specs, and which copies may land straight in the result:
    those whose blocks nothing else the node sends or receives that round touches."""
    seen: dict[tuple, int] = {}
    pairs = []
    for t in transfers:
        j = seen.get((t.src, t.dst), 0)
        seen[(t.src, t.dst)] = j + 1
        pairs.append((t, (t.src, t.dst, j)))
    out: dict[int, tuple] = {}
    for i in sorted({t.src for t in transfers} | {t.dst for t in transfers}):
        outgoing = [(t, x) for t, x in pairs if t.src == i]
        incoming = sorted([(t, x) for t, x in pairs if t.dst == i], key=lambda tx: tx[0].src)
        land = []
        for n, (t, _) in enumerate(incoming):
            others = [u.chunk for u, _ in outgoing] + [
                u.chunk for m, (u, _) in enumerate(incoming) if m != n]
            land.append(t.op == "copy" and not any(_overlap(t.chunk, c) for c in others))
        out[i] = (outgoing, incoming, specs_for([t for t, _ in incoming]), land)
    return out


def _steps(plan: Plan) -> dict[int, list[Step]]:
    """Every node's steps, worked out once per plan (a round's layout once per distinct
    set of transfers: gossip repeats one).

    Early division: the final step divides every sum by N. A block whose sum is complete
    at a node (it holds every node's contribution) after a "reduce" is divided right there
    by that node, and the copies it sends later carry the quotient, which is what each
    receiver would have computed from the sum: the same bits, one pass less over the
    vector. Used only when every later transfer of a complete block is a "copy" (true of
    every exact plan here); otherwise every node divides at the end, as the kernel does.
    """
    p, blocks = plan.n_nodes, plan.blocks
    steps: dict[int, list[Step]] = {i: [] for i in range(p)}
    layouts: dict[int, dict] = {}
    early = plan.divide_by is not None
    everyone = (1 << p) - 1
    has = [[1 << i] * blocks for i in range(p)] if early else None   # whose contributions
    divided = [[False] * blocks for _ in range(p)] if early else None
    for k, rnd in enumerate(plan.rounds):
        if id(rnd.transfers) not in layouts:
            layouts[id(rnd.transfers)] = _layout(rnd.transfers, p)
        by_node = {i: Step(k, *layout) for i, layout in layouts[id(rnd.transfers)].items()}
        for i, step in by_node.items():
            steps[i].append(step)
        if not early:
            continue
        # a complete block sent on by anything but a copy rules early division out
        if any(t.op != "copy" and any(everyone in (has[t.src][b], has[t.dst][b])
                                      for b in range(*t.chunk)) for t in rnd.transfers):
            early = False
            continue
        before = [list(h) for h in has]
        was_divided = [list(d) for d in divided]
        for i, step in by_node.items():
            for n, (t, _) in enumerate(step.incoming):
                for b in range(*t.chunk):
                    if t.op == "copy":
                        has[i][b] = before[t.src][b]
                        divided[i][b] = was_divided[t.src][b]
                    else:
                        has[i][b] |= before[t.src][b]
                        divided[i][b] = False
                step.arrives_divided[n] = np.array(
                    [t.op == "copy" and was_divided[t.src][b] for b in range(*t.chunk)],
                    dtype=bool)
            fresh = [b for t, _ in step.incoming if t.op == "reduce"
                     for b in range(*t.chunk) if has[i][b] == everyone and not divided[i][b]]
            for b in sorted(set(fresh)):
                divided[i][b] = True
                if step.divide_after and step.divide_after[-1][1] == b:
                    step.divide_after[-1] = (step.divide_after[-1][0], b + 1)
                else:
                    step.divide_after.append((b, b + 1))
    if not early and plan.divide_by is not None:     # undo: every node divides at the end
        for node_steps in steps.values():
            for step in node_steps:
                step.divide_after = []
                step.arrives_divided = [None] * len(step.incoming)
    return steps


class PlanOnWorker:
    """A plan with each node's steps worked out once (and cached for built plans)."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self._steps = None

    def node(self, i: int) -> list[Step]:
        if self._steps is None:
            self._steps = _steps(self.plan)
        return self._steps[i]


@lru_cache(maxsize=128)
def _built_plan(algorithm: str, n_nodes: int, tolerance: float, seed: int,
                self_weight: float) -> PlanOnWorker:
    from distlab.engines.allreduce import make_plan
    return PlanOnWorker(make_plan(algorithm, n_nodes, tolerance=tolerance, seed=seed,
                                  self_weight=self_weight))


def plan_from(spec) -> PlanOnWorker:
    """A plan from what the client sent: ``("make_plan", algorithm, n, tolerance, seed,
    self_weight)``, built once per worker and cached, or a :class:`Plan` itself."""
    if isinstance(spec, Plan):
        return PlanOnWorker(spec)
    return _built_plan(*spec[1:])


class NodeBuffer:
    """A node's values, copy on write: block b is read from the input until the node first
    changes it, then from the result buffer. The input is never written to. ``divided``
    marks the blocks already divided by N (see :func:`_steps`)."""

    def __init__(self, value, dtype, blocks: int, divide_by):
        self.own = flat(value, dtype)                       # a view when already dtype
        self.result = np.empty_like(self.own)
        self.bounds = block_bounds(len(self.own), blocks)
        self.written = np.zeros(blocks, dtype=bool)
        self.divided = np.zeros(blocks, dtype=bool)
        self.n = None if divide_by is None else np.asarray(divide_by, dtype=self.own.dtype)

    def _span(self, lo, hi):
        return self.bounds[lo], self.bounds[hi]

    def _materialise(self, lo, hi):
        for b in np.flatnonzero(~self.written[lo:hi]) + lo:
            a, c = self._span(b, b + 1)
            self.result[a:c] = self.own[a:c]
        self.written[lo:hi] = True

    def read(self, lo, hi) -> np.ndarray:
        """Blocks lo..hi-1 as they stand (a view: do not keep it past the round)."""
        a, b = self._span(lo, hi)
        if not self.written[lo:hi].any():
            return self.own[a:b]
        self._materialise(lo, hi)
        return self.result[a:b]

    def target(self, lo, hi) -> np.ndarray:
        """Where a copy of blocks lo..hi-1 may be received directly."""
        a, b = self._span(lo, hi)
        return self.result[a:b]

    def apply(self, step: Step, messages, landed) -> None:
        """A round's incoming messages, in the kernel's order and arithmetic."""
        specs = step.specs
        if any(op == "mix" for op, *_ in specs):          # reads the round's start values
            self._materialise(0, len(self.written))
            self.result = apply_incoming(self.result, specs, messages, len(self.written),
                                         self.result.dtype)
            return
        for (op, lo, hi, _), message, done, quotient in zip(specs, messages, landed,
                                                            step.arrives_divided):
            a, b = self._span(lo, hi)
            if op == "copy":
                if not done:
                    self.result[a:b] = message
                self.written[lo:hi] = True
                self.divided[lo:hi] = False if quotient is None else quotient
            elif not self.written[lo:hi].any():            # new = own + m, straight in
                np.add(self.own[a:b], message, out=self.result[a:b])
                self.written[lo:hi] = True
            else:
                self._materialise(lo, hi)
                np.add(self.result[a:b], message, out=self.result[a:b])
                self.divided[lo:hi] = False
        for lo, hi in step.divide_after:
            a, b = self._span(lo, hi)
            np.true_divide(self.result[a:b], self.n, out=self.result[a:b])
            self.divided[lo:hi] = True

    def finish(self, shape) -> np.ndarray:
        """The final local step on the blocks not yet done: the sum divided by N (a block
        never written is divided straight from the input)."""
        for b in range(len(self.written)):
            a, c = self._span(b, b + 1)
            if self.n is None:
                if not self.written[b]:
                    self.result[a:c] = self.own[a:c]
            elif not self.divided[b]:
                source = self.result if self.written[b] else self.own
                np.true_divide(source[a:c], self.n, out=self.result[a:c])
        return self.result.reshape(shape)


# --------------------------------------------------------------------------------------
# the worker side
# --------------------------------------------------------------------------------------

def check_value(value, node: int, shape, dtype) -> tuple[str, str] | None:
    """``None`` if node ``node``'s input is a finite real array of ``shape`` whose working
    dtype is ``dtype``; else ``(kind, message)``: "mismatch" (not the shape or dtype the
    client expected: it checks and retries), "type" or "value" (bad input)."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        return "type", f"values[{node}] must hold a real numeric array, got dtype {array.dtype}"
    if array.shape != tuple(shape) \
            or np.result_type(array.dtype, np.float32) != np.dtype(dtype):
        return "mismatch", f"values[{node}]: {array.shape} {array.dtype}"
    if array.dtype.kind == "f" and not _finite(array):
        return "value", f"values[{node}] must be finite, but contains NaN or infinity"
    return None


def _finite(array: np.ndarray) -> bool:
    """All finite? One summing pass and no temporary: a NaN or an infinity makes the sum
    non-finite; only then (or when finite values overflow the sum) look element by
    element."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.add.reduce(array, axis=None)):
            return True
    return bool(np.isfinite(array).all())


class NodeRunner:
    """One per worker: the mailbox of messages between nodes, and the handlers."""

    def __init__(self, worker):
        self.worker = worker
        self.slots: dict[tuple, asyncio.Future] = {}
        self.dead: OrderedDict = OrderedDict()       # aborted calls, most recent last
        self.scratch: dict[int, np.ndarray] = {}     # receive buffers for reuse, by size
        self.targets: dict[tuple, np.ndarray] = {}   # where a copy may land directly
        #: how the messages travelled: "local" (same worker), "message" (small, inside a
        #: Dask message), "pooled" (raw stream into a reused buffer), "landed" (raw
        #: stream straight into the receiver's result)
        self.counts = dict.fromkeys(("local", "message", "pooled", "landed"), 0)

    # ---- the mailbox: messages may arrive before their node asks for them
    def _future(self, call, slot) -> asyncio.Future:
        key = (call, *slot)
        if key not in self.slots:
            self.slots[key] = asyncio.get_running_loop().create_future()
        return self.slots[key]

    def put(self, call, slot, data, how=None, dtype=None, size=None):
        """Handler: a message arrives (no reply is sent): ``data`` bytes of ``dtype``, or
        (from this worker) an array. ``how``: None for a message of its own, "pooled" for
        a reused receive buffer, "landed" when the data went straight into the
        receiver's result. ``size``: the sender's vector length, to be checked."""
        if call in self.dead:
            return
        if dtype is not None:
            data = np.frombuffer(data, dtype=dtype)
        self.counts[how or "message"] += 1
        future = self._future(call, tuple(slot))
        if not future.done():
            future.set_result((data, how, size))

    async def stream(self, comm, call, slot, nbytes, dtype, size=None):
        """Handler: a header, then ``nbytes`` raw bytes on the same connection, read
        straight into the receiver's result when its node has said where (a copy), else
        into a reused buffer; always read whole, to keep the stream in step."""
        slot = tuple(slot)
        target = self.targets.pop((call, *slot), None)
        if target is not None and target.nbytes == nbytes and target.dtype.str == dtype:
            buffer, how = target, "landed"
        else:
            buffer, how = self.scratch.pop(nbytes, None), "pooled"
            if buffer is None:
                buffer = np.empty(nbytes, dtype=np.uint8)
        view = memoryview(buffer).cast("B")
        for a in range(0, nbytes, 2**30):
            await comm.stream.read_into(view[a:a + 2**30])
        self.put(call, slot, None if how == "landed" else buffer.view(dtype), how,
                 size=size)

    def _recycle(self, array) -> None:
        base = array if array.base is None else array.base
        if isinstance(base, np.ndarray) and base.nbytes <= SCRATCH_BYTES:
            if sum(b.nbytes for b in self.scratch.values()) + base.nbytes > SCRATCH_BYTES:
                self.scratch.clear()
            self.scratch[base.nbytes] = base

    def _expect(self, call, slots, timeout) -> tuple[list, asyncio.TimerHandle]:
        """The futures of a round's messages, and a timer that fails any still missing
        after ``timeout`` seconds (an abort fails them at once)."""
        if call in self.dead:                        # aborted before this node asked
            raise Aborted(self.dead[call])
        futures = [self._future(call, slot) for slot in slots]

        def expire():
            for slot, future in zip(slots, futures):
                if not future.done():
                    future.set_exception(TimeoutError(
                        f"no message {slot} (round, from, to, #) within {timeout:g} s"))
        return futures, asyncio.get_running_loop().call_later(timeout, expire)

    def abort(self, call, reason: str = "aborted"):
        """Handler: end ``call`` here; anything waiting for its messages raises Aborted."""
        self.dead[call] = reason
        while len(self.dead) > 10_000:
            self.dead.popitem(last=False)
        for key in [k for k in self.slots if k[0] == call]:
            future = self.slots.pop(key)
            if not future.done():
                future.set_exception(Aborted(reason))
                future.exception()           # retrieved: no "never retrieved" warning

    # ---- inputs
    async def _value(self, source):
        """A node's input: ``("value", array)`` sent with the call, or ``("key", key)`` of
        a value in this worker's memory (fetched from its holder if it lives elsewhere)."""
        kind, what = source
        if kind == "value":
            return what
        if what in self.worker.data:
            return self.worker.data[what]
        from distributed.worker import get_data_from_worker
        holders = (await self.worker.scheduler.who_has(keys=[what])).get(what) or []
        for holder in holders:
            answer = await get_data_from_worker(self.worker.rpc, [what], holder,
                                                who=self.worker.address)
            if answer.get("status") == "OK" and what in answer["data"]:
                return answer["data"][what]
        raise KeyError(f"no worker holds the input {what!r}")

    async def describe(self, sources):
        """Handler: (shape, dtype, kind, finite) of each input, as ``describe_value``."""
        from distlab.engines.tasks import describe_value
        return {int(node): describe_value(await self._value(source))
                for node, source in sources.items()}

    # ---- one call
    async def run_call(self, call, plan, nodes, peers, dtype, shape, keys, verify=True,
                       timeout=DEFAULT_TIMEOUT):
        """Handler: run the plan for ``nodes`` ({node: input source}) living here; the
        others live at ``peers[node]``. Results go to this worker's memory under
        ``keys[node]``. Returns per node the bytes it sent and its seconds, or the first
        error (after aborting the call everywhere)."""
        if call in self.dead:
            return {"status": "aborted", "message": self.dead[call]}
        plan = plan_from(plan)
        dtype = np.dtype(dtype)
        try:
            inputs = {int(i): await self._value(s) for i, s in nodes.items()}
            if verify:
                for i, value in inputs.items():
                    problem = check_value(value, i, shape, dtype)
                    if problem:
                        await self.abort_everywhere(call, peers, problem[1])
                        return {"status": problem[0], "message": problem[1]}
            outcome = await asyncio.gather(
                *[self._run_node(call, plan, i, value, peers, dtype, shape, timeout)
                  for i, value in inputs.items()], return_exceptions=True)
        except Exception as exc:                     # e.g. an input no worker holds
            inputs, outcome = {}, [exc]
        errors = [o for o in outcome if isinstance(o, BaseException)]
        if errors:
            first = next((e for e in errors if not isinstance(e, Aborted)), errors[0])
            if not isinstance(first, Aborted):
                await self.abort_everywhere(call, peers, repr(first))
            return {"status": "aborted" if isinstance(first, Aborted) else "error",
                    "message": f"{type(first).__name__}: {first}"}
        results = dict(zip(inputs, outcome))
        self.worker.update_data(data={keys[i]: r[0] for i, r in results.items()},
                                stimulus_id=f"distlab-allreduce-{call}")
        return {"status": "OK", "sent": {i: r[1] for i, r in results.items()},
                "seconds": {i: r[2] for i, r in results.items()}}

    async def run_rank(self, call, plan, node, value, peers, dtype, shape, timeout):
        """One rank's part of a call made on the workers themselves (see
        :mod:`~distlab.engines.spmd`): node ``node``'s result, bytes sent and seconds.
        A failure here aborts the call on every rank."""
        if call in self.dead:
            raise Aborted(self.dead[call])
        try:
            return await self._run_node(call, plan, node, value, peers, np.dtype(dtype),
                                        shape, timeout)
        except Aborted:
            raise
        except Exception as exc:
            await self.abort_everywhere(call, peers, f"rank {node}: {exc!r}")
            raise

    async def abort_everywhere(self, call, peers, reason):
        self.abort(call, reason)
        others = sorted(set(peers) - {self.worker.address})
        await asyncio.gather(*[self.worker.rpc(w).distlab_allreduce_abort(
            call=call, reason=reason, reply=False) for w in others],
            return_exceptions=True)

    async def _run_node(self, call, plan, node, value, peers, dtype, shape, timeout):
        start = time.perf_counter()
        buffer = NodeBuffer(value, dtype, plan.plan.blocks, plan.plan.divide_by)
        sent = 0
        for step in plan.node(node):
            landing = []
            for (t, pair), land in zip(step.incoming, step.land):
                if land:
                    landing.append((call, *step.slot(pair)))
                    self.targets[landing[-1]] = buffer.target(*t.chunk)
            slots = [step.slot(pair) for _, pair in step.incoming]
            receiving, timer = self._expect(call, slots, timeout)
            try:
                for t, pair in step.outgoing:
                    chunk = buffer.read(*t.chunk)
                    sent += chunk.nbytes
                    await self._send(call, step.slot(pair), chunk, peers[t.dst],
                                     buffer.own.size)
                # every send of the round has left before the buffer changes
                arrived = [await r for r in receiving]
            finally:
                timer.cancel()
                for slot in slots:
                    self.slots.pop((call, *slot), None)
                for key in landing:                  # unused when the data came early
                    self.targets.pop(key, None)
            for (t, _), (_, _, size) in zip(step.incoming, arrived):
                if size != buffer.own.size:     # else numpy could broadcast a short chunk
                    raise ValueError(f"node {node} holds {buffer.own.size} values but node "
                                     f"{t.src} holds {size}: every node needs the same "
                                     "size")
            buffer.apply(step, [m for m, _, _ in arrived],
                         [h == "landed" for _, h, _ in arrived])
            for message, how, _ in arrived:
                if how == "pooled" and message is not None:
                    self._recycle(message)
        result = buffer.finish(shape)
        return result, sent, time.perf_counter() - start

    async def _send(self, call, slot, chunk, address, size):
        if address == self.worker.address:           # a node on this worker: no network;
            self.put(call, slot, chunk.copy(), "local", size=size)   # a copy, as buffers
            return                                                   # change in place
        pool = self.worker.rpc
        comm = await pool.connect(address)
        done = False
        try:
            stream = getattr(comm, "stream", None)
            if chunk.nbytes >= STREAM_BYTES and stream is not None:
                await comm.write({"op": STREAM, "call": call, "slot": slot,
                                  "nbytes": chunk.nbytes, "dtype": chunk.dtype.str,
                                  "size": size, "reply": False})
                await stream.write(memoryview(np.ascontiguousarray(chunk)).cast("B"))
            else:            # small: the bytes inside the message (a copy, sent later)
                await comm.write({"op": PUT, "call": call, "slot": slot,
                                  "data": chunk.tobytes(), "dtype": chunk.dtype.str,
                                  "size": size, "reply": False})
            done = True
        finally:
            if done:
                pool.reuse(address, comm)
            else:
                comm.abort()                         # half a message: never reuse it


def _install(worker) -> None:
    runner = NodeRunner(worker)
    worker.handlers.update({CALL: runner.run_call, PUT: runner.put, STREAM: runner.stream,
                            ABORT: runner.abort, DESCRIBE: runner.describe})


def runner_of(worker) -> NodeRunner:
    """The worker's :class:`NodeRunner` (the plugin installs it)."""
    handler = worker.handlers.get(CALL)
    runner = getattr(handler, "__self__", None)
    if not isinstance(runner, NodeRunner):
        raise RuntimeError("this worker has no direct all-reduce handler; is distlab "
                           "importable on the workers?")
    return runner


class DirectAllreduce(WorkerPlugin):
    """Adds the direct engine's handlers to every worker, now and when one joins."""
    name = "distlab-direct-allreduce"
    idempotent = True

    def setup(self, worker):
        _install(worker)

    def teardown(self, worker):
        for handler in HANDLERS:
            worker.handlers.pop(handler, None)


# --------------------------------------------------------------------------------------
# the client side
# --------------------------------------------------------------------------------------

_INSTALLED: set[str] = set()          # clients (by id) that registered the plugin


def install(client) -> None:
    """Register the worker plugin once per client (idempotent on the cluster)."""
    if client.id not in _INSTALLED:
        client.register_plugin(DirectAllreduce())
        _INSTALLED.add(client.id)


class DirectError(Exception):
    """A worker reported a failure of the call; ``kind`` says which."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


async def _call_all(client, messages: dict, handler: str):
    calls = [getattr(client.rpc(addr), handler)(**msg) for addr, msg in messages.items()]
    return dict(zip(messages, await asyncio.gather(*calls, return_exceptions=True)))


def _failure(replies) -> Exception | None:
    """The cause among the workers' replies (not an echo of the abort it caused)."""
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


async def _run_async(client, call, messages, keys, homes, nbytes):
    from distributed import Future

    # Register the results while the workers compute them: nobody knows these keys
    # before this call returns, and a worker storing a key it was sent sends nothing.
    register = asyncio.ensure_future(client.scheduler.update_data(
        who_has={k: [h] for k, h in zip(keys, homes)},
        nbytes={k: nbytes for k in keys}, client=client.id))
    replies = await _call_all(client, messages, CALL)
    await register
    failure = _failure(replies)
    if failure is not None:
        await _call_all(client, {a: {"call": call, "reason": "client", "reply": False}
                                 for a in messages}, ABORT)
        client._send_to_scheduler({"op": "client-releases-keys", "keys": list(keys),
                                   "client": client.id})
        raise failure
    futures = [Future(k, client) for k in keys]
    for k in keys:
        client.futures[k].finish(type=np.ndarray)
    sent = np.zeros(len(keys), dtype=np.int64)
    seconds = np.zeros(len(keys))
    for r in replies.values():
        for i, b in r["sent"].items():
            sent[int(i)] = b
        for i, s in r["seconds"].items():
            seconds[int(i)] = s
    return futures, sent, seconds


def run(client, plan: Plan, sources: list, homes: list[str], dtype, shape: tuple, *,
        plan_spec=None, verify: bool = True, timeout: float = DEFAULT_TIMEOUT):
    """Run ``plan`` on the workers: node i on ``homes[i]`` with input ``sources[i]``, a
    ``("key", key)`` in worker memory or a ``("value", flat array)`` sent along. Returns
    one future per node (its result, on its worker), the bytes each node sent, and each
    node's seconds from reading its input to holding its result. ``plan_spec`` tells the
    workers how to rebuild the plan (default: the plan itself is sent). With ``verify``
    every node checks its input (shape, dtype, finite) first; a failure raises
    :class:`DirectError` and no result is kept."""
    from distributed.protocol import to_serialize
    from distributed.protocol.serialize import ToPickle

    install(client)
    call = uuid.uuid4().hex
    keys = [f"allreduce-{plan.algorithm}-{call}-{i}" for i in range(plan.n_nodes)]
    messages: dict[str, dict] = {}
    for i, ((kind, what), home) in enumerate(zip(sources, homes)):
        msg = messages.setdefault(home, {
            "call": call, "plan": plan_spec or ToPickle(plan), "nodes": {},
            "peers": list(homes), "dtype": np.dtype(dtype).str, "shape": tuple(shape),
            "keys": keys, "verify": verify, "timeout": timeout})
        msg["nodes"][i] = (kind, to_serialize(what) if kind == "value" else what)
    nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    return client.sync(_run_async, client, call, messages, keys, list(homes), nbytes)


def describe(client, sources: list, homes: list[str]) -> list[tuple]:
    """(shape, dtype, kind, finite) of each node's input, read on its worker."""
    install(client)
    messages: dict[str, dict] = {}
    for i, (source, home) in enumerate(zip(sources, homes)):
        messages.setdefault(home, {"sources": {}})["sources"][i] = source
    replies = client.sync(_call_all, client, messages, DESCRIBE)
    out = {}
    for reply in replies.values():
        if isinstance(reply, BaseException):
            raise reply
        out.update({int(i): v for i, v in reply.items()})
    return [out[i] for i in range(len(sources))]


def _worker_counts(dask_worker) -> dict:
    try:
        return dict(runner_of(dask_worker).counts)
    except RuntimeError:
        return {}


def message_counts(client) -> dict:
    """How the direct engine's messages have travelled so far, summed over the workers:
    ``local``, ``message``, ``pooled``, ``landed`` (see :class:`NodeRunner`)."""
    total = dict.fromkeys(("local", "message", "pooled", "landed"), 0)
    for counts in client.run(_worker_counts).values():
        for how, n in counts.items():
            total[how] += n
    return total
