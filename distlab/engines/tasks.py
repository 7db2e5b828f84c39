"""The task engine: the same plan as Dask tasks pinned to real workers, so bytes move.

(``allreduce(..., dask_engine="tasks")``. It shows the scheduler at work, and pays for it:
every dependent step is a task, "about 1 ms of overhead" each in Dask's docs and several
on a busy 2-core box. :mod:`~distlab.engines.direct_fast`, the default, runs the
same plan without the scheduler.)

Node i lives on worker ``homes[i]``. Its buffer is a future on that worker; each round,
a sender's chunk is cut out by a small task on the sender's worker (skipped when the
whole buffer goes), and the receiver's new buffer is computed by a task pinned to the
receiver's worker, which makes Dask fetch the chunk from the sender's process. Nothing is
gathered to the client between rounds: the whole all-reduce is submitted at once as a
graph of futures, and the client only waits for the last round. The arithmetic is
:mod:`distlab.concepts.kernel`, the same as the simulator's, so the results are
identical to the last bit.
"""
from __future__ import annotations

import numpy as np
from distributed import Client, Future

from distlab.concepts.kernel import (apply_incoming, extract, finish, incoming_by_node,
    specs_for)
from distlab.concepts.plans import Plan


def describe_value(value) -> tuple:
    """Run on a worker: (shape, dtype, numeric kind, all finite) of a node's value, so the
    client can check future inputs without fetching them."""
    array = np.asarray(value)
    kind = array.dtype.kind
    finite = bool(np.all(np.isfinite(array))) if kind in "biuf" else False
    return array.shape, array.dtype.str, kind, finite


class Mismatch:
    """What a task returns, instead of a value, when a node's input is not the shape or
    dtype the client guessed; every later task passes it on, so the client sees it as the
    type of the final futures and resubmits after checking the inputs properly. A value,
    not an exception: a guess that misses is not an error worth a worker's error log."""

    def __init__(self, reason: str = ""):
        self.reason = reason

    def __repr__(self) -> str:
        return f"Mismatch({self.reason!r})"


def check_input(value, node: int, shape: tuple, dtype: str) -> Mismatch | None:
    """Run on a worker before the kernel touches an input of this call: it must have the
    guessed shape and working dtype (else a Mismatch), and be finite (else ValueError)."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf" or array.shape != tuple(shape) \
            or np.result_type(array.dtype, np.float32) != np.dtype(dtype):
        return Mismatch(f"values[{node}]: {array.shape} {array.dtype}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"values[{node}] must be finite, but contains NaN or infinity")
    return None


def checked(func, checks, *args):
    """Run on a worker: pass on any Mismatch among the arguments (the buffer, or a message
    in the list at index 2), ``check_input`` each ``(argument index[, list index], node)``
    in ``checks``, then run ``func``."""
    for arg in args[:3]:
        items = arg if isinstance(arg, list) else [arg]
        for item in items:
            if isinstance(item, Mismatch):
                return item
    for where in checks["inputs"]:
        value = args[where[0]] if len(where) == 2 else args[where[0]][where[1]]
        miss = check_input(value, where[-1], checks["shape"], checks["dtype"])
        if miss is not None:
            return miss
    return func(*args)


def wait_pinned(client: Client, futures, homes, poll: float = 5.0) -> None:
    """``distributed.wait`` for tasks pinned to ``homes`` with ``allow_other_workers=
    False``, which can never run if one of those workers leaves the cluster (killed for
    its memory, say: its nanny restarts it at another address). Every ``poll`` seconds,
    check that the homes are still there; if one is gone, cancel and raise instead of
    waiting for ever."""
    from distributed import wait

    futures = list(futures)
    while True:
        try:
            wait(futures, timeout=poll)
            return
        except TimeoutError:
            gone = sorted(set(homes) - set(client.nthreads()))
            if gone:
                client.cancel(futures)
                raise RuntimeError(
                    f"{len(gone)} worker(s) holding nodes of this all-reduce left the "
                    "cluster while it ran; its tasks are pinned to them and can never "
                    "run (is a worker running out of memory?)") from None


def _pin(client: Client, func, *args, worker: str):
    return client.submit(func, *args, workers=[worker], allow_other_workers=False,
                         pure=False)


def run(client: Client, plan: Plan, sources: list[Future], homes: list[str], dtype,
        shape: tuple, verify: bool = False) -> list[Future]:
    """Submit ``plan`` on the cluster; returns one future per node holding its final
    value (in the input's shape), on the node's worker. With ``verify``, every task that
    reads an input of this call first checks it (:func:`check_input`): the shape and
    dtype were guessed, not yet checked by the client; a wrong guess makes the final
    futures hold a :class:`Mismatch`."""
    dtype = np.dtype(dtype).str
    whole = (0, plan.blocks)
    buffers = list(sources)
    original = [True] * plan.n_nodes          # still the caller's input, not yet replaced
    finished = [False] * plan.n_nodes

    def task(func, *args, worker, inputs=()):
        if verify:
            checks = {"shape": tuple(shape), "dtype": dtype, "inputs": list(inputs)}
            return _pin(client, checked, func, checks, *args, worker=worker)
        return _pin(client, func, *args, worker=worker)

    # A node's last round also does its final local step, saving one task per node.
    last_round = {t.dst: k for k, rnd in enumerate(plan.rounds) for t in rnd.transfers}
    for k, rnd in enumerate(plan.rounds):
        after = list(buffers)
        for dst, transfers in incoming_by_node(rnd).items():
            messages, message_inputs = [], []
            for j, t in enumerate(transfers):
                if t.chunk == whole:
                    messages.append(buffers[t.src])
                    if original[t.src]:
                        message_inputs.append((2, j, t.src))
                else:
                    messages.append(task(extract, buffers[t.src], t.chunk[0], t.chunk[1],
                                         plan.blocks, dtype, worker=homes[t.src],
                                         inputs=[(0, t.src)] if original[t.src] else []))
            # ... unless another node still reads this buffer in a later round.
            done = last_round[dst] == k and not any(
                t.src == dst for later in plan.rounds[k + 1:] for t in later.transfers)
            inputs = ([(0, dst)] if original[dst] else []) + message_inputs
            after[dst] = task(apply_incoming, buffers[dst], specs_for(transfers), messages,
                              plan.blocks, dtype, (plan.divide_by, shape) if done else None,
                              worker=homes[dst], inputs=inputs)
            finished[dst] = done
        for dst in incoming_by_node(rnd):
            original[dst] = False
        buffers = after
    return [b if finished[i] else
            task(finish, b, plan.divide_by, shape, dtype, worker=homes[i],
                 inputs=[(0, i)] if original[i] else [])
            for i, b in enumerate(buffers)]


def critical_path(plan: Plan) -> np.ndarray:
    """Dependent tasks per round on the critical path of :func:`run`'s graph: 1 for the
    receiver's task, plus 1 when the chunk must first be cut out on the sender. Returns
    one count per round, plus a last entry for a final step that could not be fused."""
    whole = (0, plan.blocks)
    depth = [0] * plan.n_nodes
    per_round = []
    last_round = {t.dst: k for k, rnd in enumerate(plan.rounds) for t in rnd.transfers}
    fused = [False] * plan.n_nodes
    for k, rnd in enumerate(plan.rounds):
        before = max(depth)
        after = list(depth)
        for dst, transfers in incoming_by_node(rnd).items():
            ready = max([depth[dst]] + [depth[t.src] + (t.chunk != whole) for t in transfers])
            after[dst] = ready + 1
            fused[dst] = last_round[dst] == k and not any(
                t.src == dst for later in plan.rounds[k + 1:] for t in later.transfers)
        depth = after
        per_round.append(max(depth) - before)
    final = [depth[i] + (not fused[i]) for i in range(plan.n_nodes)]
    return np.array(per_round + [max(final) - max(depth)], dtype=int)
