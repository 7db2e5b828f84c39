"""The task engine: the same plan as Dask tasks pinned to real workers, so bytes move.

(``allreduce(..., dask_engine="tasks")``. It shows the scheduler at work, and pays for it:
every dependent step is a task, "about 1 ms of overhead" each in Dask's docs and several
on a busy 2-core box. :mod:`~distlab.engines.direct` and
:mod:`~distlab.engines.direct_fast`, the default, run the same plan without the scheduler.)

Node i lives on worker ``homes[i]``. Its buffer is a future on that worker; each round,
a sender's chunk is cut out by a small task on the sender's worker (skipped when the
whole buffer goes), and the receiver's new buffer is computed by a task pinned to the
receiver's worker, which makes Dask fetch the chunk from the sender's process. Nothing is
gathered to the client between rounds: the whole all-reduce is submitted at once as a
graph of futures, and the client only waits for the last round. The arithmetic is
:mod:`distlab.concepts.kernel`, the same as the simulator's, so the results are
identical to the last bit (a sum that overflows fails its task with
:class:`~distlab.concepts.kernel.SumOverflow`, and the graph is submitted again, scaled, as
the simulator runs its plan again).

Failure: while the client waits, it checks every :data:`POLL_SECONDS` that the workers
holding nodes are still in the cluster; tasks pinned to a worker that left could never
run, so the call is cancelled and raises :class:`~distlab.engines.result.WorkerLost`
naming it. A failed call keeps nothing on the cluster.
"""
from __future__ import annotations

import time

import numpy as np
from distributed import Client, Future, wait

from distlab.concepts.cost import Network
from distlab.concepts.kernel import (SumOverflow, apply_incoming, extract, finish,
    incoming_by_node, scale_down, scale_exponent, specs_for)
from distlab.concepts.plans import Plan
from distlab.engines.inputs import Inputs
from distlab.engines.placement import describe
from distlab.engines.result import AllreduceResult, WorkerLost
from distlab.engines.workers import check_client, submit_on

__all__ = ["Tasks", "critical_path"]

#: Seconds between the client's checks, while it waits, that the call's workers are there.
POLL_SECONDS = 0.5


def _wait_pinned(client: Client, futures, homes, poll: float = POLL_SECONDS) -> None:
    """``distributed.wait`` for tasks pinned to ``homes`` with ``allow_other_workers=
    False``, which can never run if one of those workers leaves the cluster (killed for
    its memory, say: its nanny restarts it at another address). Every ``poll`` seconds,
    check that the homes are still there; if one is gone, cancel the tasks and raise
    :class:`~distlab.engines.result.WorkerLost` instead of waiting for ever."""
    futures = list(futures)
    while True:
        try:
            wait(futures, timeout=poll)
            return
        except TimeoutError:
            failure = None
        except Exception as exc:         # cancelled: their inputs were lost with a worker
            failure = exc
        gone = set(homes) - set(client.nthreads())
        if gone:
            client.cancel(futures)
            raise WorkerLost(gone) from None
        if failure is not None:
            raise failure


def _submit_plan(client: Client, plan: Plan, sources: list[Future], homes: list[str], dtype,
                shape: tuple, scale: int = 0) -> list[Future]:
    """Submit ``plan`` on the cluster, node i's tasks pinned to ``homes[i]`` starting from
    ``sources[i]`` (a future of its flat or shaped value, already checked); returns one
    future per node holding its final value (in ``shape``), on the node's worker.
    ``scale``: run scaled by 2^-scale (after a sum overflowed, see
    :mod:`distlab.concepts.kernel`)."""
    dtype = np.dtype(dtype).str
    whole = (0, plan.blocks)
    guard = plan.divide_by is not None
    finished = [False] * plan.n_nodes

    def task(func, *args, worker):
        return submit_on(client, func, *args, worker=worker, strict=True)

    buffers = [task(scale_down, s, scale, dtype, worker=h) if scale else s
               for s, h in zip(sources, homes)]

    # A node's last round also does its final local step, saving one task per node.
    last_round = {t.dst: k for k, rnd in enumerate(plan.rounds) for t in rnd.transfers}
    for k, rnd in enumerate(plan.rounds):
        after = list(buffers)
        for dst, transfers in incoming_by_node(rnd).items():
            messages = [buffers[t.src] if t.chunk == whole else
                        task(extract, buffers[t.src], t.chunk[0], t.chunk[1], plan.blocks,
                             dtype, worker=homes[t.src])
                        for t in transfers]
            # ... unless another node still reads this buffer in a later round.
            done = last_round[dst] == k and not any(
                t.src == dst for later in plan.rounds[k + 1:] for t in later.transfers)
            after[dst] = task(apply_incoming, buffers[dst], specs_for(transfers), messages,
                              plan.blocks, dtype,
                              (plan.divide_by, shape, scale) if done else None, guard,
                              worker=homes[dst])
            finished[dst] = done
        buffers = after
    return [b if finished[i] else
            task(finish, b, plan.divide_by, shape, dtype, scale, worker=homes[i])
            for i, b in enumerate(buffers)]


class Tasks:
    """The engine of ``allreduce(..., client, dask_engine="tasks")``. ``client``: an open
    ``distributed.Client`` (``TypeError`` / ``ValueError`` otherwise, as
    :func:`~distlab.engines.workers.check_client`)."""
    name = "tasks"

    def __init__(self, client: Client):
        self.client = check_client(client)

    def run(self, plan: Plan, inputs: Inputs, network: Network) -> AllreduceResult:
        """Plain inputs are scattered to their homes first, future inputs described there
        (:func:`~distlab.engines.placement.describe`); ``wall_time`` starts at the graph's
        submission (and includes a scaled rerun). A task's exception is raised here;
        :class:`~distlab.engines.result.WorkerLost` when a worker of the call left."""
        client = self.client
        inputs = describe(client, inputs)
        if inputs.futures:
            sources = list(inputs.values)
        else:       # hash=False: a fresh key per call, never one an old result releases
            sources = [client.scatter(b, workers=[w], direct=True, hash=False)
                       for b, w in zip(inputs.values, inputs.homes)]
        start = time.perf_counter()
        try:
            finals = self._finals(plan, sources, inputs)
        except BaseException:
            if not inputs.futures:                   # nothing of a failed call is kept
                client.cancel(sources)
            raise
        wall = time.perf_counter() - start
        values = None if inputs.futures else [np.asarray(v) for v in client.gather(finals)]
        return AllreduceResult(plan, inputs, network, "dask", dask_engine="tasks",
                               values=values, futures=finals, wall_time=wall)

    def _finals(self, plan: Plan, sources: list, inputs: Inputs) -> list[Future]:
        """The graph submitted and waited for, again scaled if a sum overflowed: one
        finished future per node, or the failure raised (the graph cancelled)."""
        client, scale = self.client, 0
        while True:
            finals = _submit_plan(client, plan, sources, inputs.homes, inputs.dtype,
                                 inputs.shape, scale)
            _wait_pinned(client, finals, inputs.homes)
            failed = [f for f in finals if f.status != "finished"]
            if not failed:
                return finals
            error = failed[0].exception() if failed[0].status == "error" else None
            client.cancel(finals)
            gone = set(inputs.homes) - set(client.nthreads())
            if gone:                                 # e.g. its inputs were lost with it
                raise WorkerLost(gone)
            if not isinstance(error, SumOverflow) or scale:
                raise error or RuntimeError(f"the all-reduce's tasks ended "
                                            f"{failed[0].status}")
            scale = scale_exponent(plan.n_nodes)


def critical_path(plan: Plan) -> np.ndarray:
    """Dependent tasks per round on the critical path of :func:`run`'s graph: 1 for the
    receiver's task, plus 1 when the chunk must first be cut out on the sender. Returns
    one count per round, plus a last entry for a final step that could not be fused.
    Raises ``TypeError`` unless ``plan`` is a :class:`~distlab.concepts.plans.Plan`."""
    if not isinstance(plan, Plan):
        raise TypeError(f"plan must be a distlab.concepts.plans.Plan, got {type(plan).__name__}")
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
