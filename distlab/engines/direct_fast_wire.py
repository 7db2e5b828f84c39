"""How the fast direct engine's chunks travel: a mailbox per worker, raw bytes on a stream.

A chunk goes from worker to worker over Dask's own connections (the pool each worker keeps
to its peers), one message per transfer and no reply. A small chunk rides inside the
message as bytes. A large one is written as raw bytes on the connection's stream right
after a small header, and the receiver reads them straight into the destination's result
when its node has said where (a copy whose blocks nothing else touches that round:
"landing"), else into a receive buffer it reuses (the pool): no serialisation, and no copy
besides the kernel's. A chunk for a node on the same worker is handed over in memory.

Messages may arrive before their node asks for them: the mailbox
(:class:`~distlab.engines.direct_call.Mailbox`) keeps one future per slot (call, round,
sender, receiver, #), made by whichever side comes first. Every message names its plan
(``tag``) and the sender's vector length, so that the receiver can tell ranks that called
different collectives from a message it can add.
"""
from __future__ import annotations

import asyncio

import numpy as np

from distlab.engines import dask_private
from distlab.engines.direct_call import Aborted, Mailbox

#: The worker handlers the wire uses (the fast engine's plugin installs them).
PUT, STREAM = "distlab_allreduce_put", "distlab_allreduce_stream"
#: Chunks of at least this many bytes go as raw bytes on the stream after a header;
#: smaller ones as bytes inside one message.
STREAM_BYTES = 64 * 1024
#: Receive buffers a worker keeps for reuse (a fresh one costs page faults every time).
SCRATCH_BYTES = 64 * 2**20
#: The ways a message travels, as :attr:`Wire.counts` counts them.
ROUTES = ("local", "message", "pooled", "landed")


#: The wire is the fast engine's own: nothing here is for learners or other layers.
__all__: list[str] = []


class Wire(Mailbox):
    """One per worker: the mailbox of messages between nodes, and their transport."""

    def __init__(self, worker):
        super().__init__()
        self.worker = worker
        self.scratch: dict[int, np.ndarray] = {}     # receive buffers for reuse, by size
        self.targets: dict[tuple, np.ndarray] = {}   # where a copy may land directly
        #: how the messages travelled: "local" (same worker), "message" (small, inside a
        #: Dask message), "pooled" (raw stream into a reused buffer), "landed" (raw
        #: stream straight into the receiver's result)
        self.counts = dict.fromkeys(ROUTES, 0)

    # ---- receiving
    def put(self, call, slot, data, how=None, dtype=None, size=None, tag=None):
        """Handler: a message arrives (no reply is sent): ``data`` bytes of ``dtype``, or
        (from this worker) an array. ``how``: None for a message of its own, "pooled" for
        a reused receive buffer, "landed" when the data went straight into the
        receiver's result. ``size``: the sender's vector length and ``tag`` its plan,
        to be checked. The node finds ``(data, how, size, tag)`` in the slot."""
        if call in self.dead:
            return
        if dtype is not None:
            data = np.frombuffer(data, dtype=dtype)
        self.counts[how or "message"] += 1
        self.deliver((call, *slot), (data, how, size, tag))

    async def stream(self, comm, call, slot, nbytes, dtype, size=None, tag=None):
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
        await dask_private.read_raw(comm, memoryview(buffer).cast("B"))
        self.put(call, slot, None if how == "landed" else buffer.view(dtype), how,
                 size=size, tag=tag)

    def land(self, call, slot, target: np.ndarray) -> None:
        """Let the chunk of ``slot``, if it comes on the stream, be read into ``target``."""
        self.targets[(call, *slot)] = target

    def recycle(self, array) -> None:
        """Give a pooled receive buffer back, once its node has applied it."""
        base = array if array.base is None else array.base
        if isinstance(base, np.ndarray) and base.nbytes <= SCRATCH_BYTES:
            if sum(b.nbytes for b in self.scratch.values()) + base.nbytes > SCRATCH_BYTES:
                self.scratch.clear()
            self.scratch[base.nbytes] = base

    def expect(self, call, slots, timeout) -> tuple[list, asyncio.TimerHandle]:
        """The futures of a round's messages, and a timer that fails any still missing
        after ``timeout`` seconds (an abort fails them at once)."""
        if call in self.dead:                        # aborted before this node asked
            raise Aborted(self.dead[call])
        futures = [self.slot((call, *slot)) for slot in slots]

        def expire():
            for slot, future in zip(slots, futures):
                if not future.done():
                    future.set_exception(TimeoutError(
                        f"no message {slot} (round, from, to, #) within {timeout:g} s"))
        return futures, asyncio.get_running_loop().call_later(timeout, expire)

    def done_with(self, call, slots) -> None:
        """Forget a round's slots and landing targets (a target is unused when its data
        came early, into the pool)."""
        for slot in slots:
            self.slots.pop((call, *slot), None)
            self.targets.pop((call, *slot), None)

    # ---- sending
    async def send(self, call, slot, chunk: np.ndarray, address: str, size: int,
                   tag: str) -> None:
        """Send ``chunk`` to the node at ``address`` for ``slot``; ``size`` (the sender's
        vector length) and ``tag`` (its plan) the receiver checks against its own."""
        if address == self.worker.address:           # a node on this worker: no network;
            self.put(call, slot, chunk.copy(), "local", size=size, tag=tag)   # a copy,
            return                                           # as buffers change in place
        async with dask_private.pooled_comm(self.worker, address) as comm:
            stream = dask_private.raw_stream(comm)
            if chunk.nbytes >= STREAM_BYTES and stream is not None:
                await comm.write({"op": STREAM, "call": call, "slot": slot,
                                  "nbytes": chunk.nbytes, "dtype": chunk.dtype.str,
                                  "size": size, "tag": tag, "reply": False})
                await stream.write(memoryview(np.ascontiguousarray(chunk)).cast("B"))
            else:            # small: the bytes inside the message (a copy, sent later)
                await comm.write({"op": PUT, "call": call, "slot": slot,
                                  "data": chunk.tobytes(), "dtype": chunk.dtype.str,
                                  "size": size, "tag": tag, "reply": False})
