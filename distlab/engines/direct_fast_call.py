"""The fast direct engine from the client: the engine ``allreduce`` uses by default.

One call sends each worker taking part one message (its nodes, their inputs, the plan by
name, :mod:`~distlab.engines.direct_call`) and waits for the replies; the workers do the
rest (:mod:`~distlab.engines.direct_fast`). Future inputs are checked on their workers
during the call, each node taking its input's own shape and dtype; only when the nodes
report different ones does the client describe the inputs and run again with the common
dtype (or raise, when the shapes differ); and only when a sum overflowed does it run again
scaled (:mod:`distlab.concepts.kernel`).
"""
from __future__ import annotations

import numpy as np

from distlab.concepts.cost import Network
from distlab.concepts.kernel import scale_exponent
from distlab.concepts.plans import Plan
from distlab.engines import dask_private
from distlab.engines.algorithms import rebuild_options
from distlab.engines.direct_call import DirectError, install
from distlab.engines.direct_client import DirectEngine, as_builtin
from distlab.engines.direct_fast import ABORT, CALL, FastDirectPlugin, runner_of
from distlab.engines.direct_fast_plan import plan_spec
from distlab.engines.direct_fast_wire import ROUTES
from distlab.engines.inputs import Inputs
from distlab.engines.placement import describe
from distlab.engines.result import AllreduceResult
from distlab.engines.workers import check_client

__all__ = ["DirectFast", "message_counts"]


class DirectFast(DirectEngine):
    """The engine of ``allreduce(..., client)`` (``dask_engine="direct"``, the default).

    Made as the naive one is (:class:`~distlab.engines.direct.DirectNaive`), raising the
    same ``TypeError``/``ValueError`` for a bad ``client`` or ``timeout``."""
    name = "direct"

    def run(self, plan: Plan, inputs: Inputs, network: Network) -> AllreduceResult:
        """``wall_time`` is the call that succeeded (a rerun after a mismatch or an
        overflow is not counted). A bad input raises ``TypeError`` / ``ValueError`` as for
        plain values; a worker that left the cluster
        :class:`~distlab.engines.result.WorkerLost`; any other failure ``RuntimeError``."""
        install(self.client, FastDirectPlugin())
        options = rebuild_options(plan)
        spec = dask_private.pickled(plan) if options is None else plan_spec(
            plan.algorithm, plan.n_nodes, **options)
        scale, done = 0, None
        while done is None:
            try:
                done = self.checked_call(plan, spec, inputs, scale)
            except DirectError as error:
                if error.kind != "rescale" or scale:
                    raise as_builtin(error) from None
                scale = scale_exponent(plan.n_nodes)       # a sum overflowed
                continue
            if done is None:               # the nodes' inputs differ in shape or dtype
                if inputs.shape is not None:   # changed between the check and the call
                    raise RuntimeError("the inputs changed while the all-reduce ran")
                inputs = describe(self.client, inputs)
        inputs, replies, futures, wall = done
        return self.result(plan, inputs, network, replies, futures, wall)

    def checked_call(self, plan: Plan, spec, inputs: Inputs, scale: int = 0):
        """One call, its inputs checked on the workers when their shape and dtype are not
        known yet: the inputs (described), the replies, one future per node and the
        call's seconds; ``None`` when they were not all of one shape and dtype (nothing
        of the call is kept). ``scale``: run scaled by 2^-scale."""
        known = inputs.shape is not None
        try:
            replies, futures, wall = self.call(CALL, plan, spec, inputs, ABORT,
                                               verify=not known, scale=scale)
        except DirectError as error:
            if error.kind == "mismatch":
                return None
            raise
        if not known:
            shapes = {tuple(s) for r in replies.values() for s in r["shapes"].values()}
            dtypes = {d for r in replies.values() for d in r["dtypes"].values()}
            if len(shapes) > 1 or len(dtypes) > 1:
                for future in futures:           # forgotten on the cluster too
                    future.release()
                return None
            inputs = inputs.described(shapes.pop(), dtypes.pop())
            dask_private.set_nbytes(self.client, [f.key for f in futures],
                                    list(inputs.homes), inputs.size * inputs.dtype.itemsize)
        return inputs, replies, futures, wall


def _worker_counts(dask_worker) -> dict:
    try:
        return dict(runner_of(dask_worker).wire.counts)
    except RuntimeError:
        return {}


def message_counts(client) -> dict:
    """How the fast engine's messages have travelled so far, summed over the workers:
    ``local``, ``message``, ``pooled``, ``landed`` (see
    :class:`~distlab.engines.direct_fast_wire.Wire`).

    Raises ``TypeError`` / ``ValueError`` for a client that is not an open
    ``distributed.Client`` (:func:`~distlab.engines.workers.check_client`)."""
    check_client(client)
    total = dict.fromkeys(ROUTES, 0)
    for counts in client.run(_worker_counts).values():
        for how, n in counts.items():
            total[how] += n
    return total
