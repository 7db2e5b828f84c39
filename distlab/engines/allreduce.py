"""``allreduce``: X_i' = (1/N) Σ_j X_j on every node, by any algorithm, on any engine.

    from distlab.engines.allreduce import allreduce, ALGORITHMS
    result = allreduce([10, 20, 30], algorithm="ring")            # the simulator
    result = allreduce([a, b], algorithm="ring", client=client)   # real Dask workers

Check the arguments, make the plan, let an engine run it: that is all this module does.
Without a client the plan runs in-process (:mod:`~distlab.engines.simulator`). With one it
runs on the Dask workers, on one of three engines (``dask_engine``): ``"direct"`` (the
default), where the workers run the plan themselves and send the chunks straight to each
other (:mod:`~distlab.engines.direct_fast`); ``"direct_naive"``, the same idea in its
plainest form (:mod:`~distlab.engines.direct`); or ``"tasks"``, one Dask task per node
and round, pinned to the workers (:mod:`~distlab.engines.tasks`), which shows the
scheduler at work and pays its overhead on every dependent step. All run the same plan
with the same arithmetic, so they return identical values.
"""
from __future__ import annotations

from distlab import checks
from distlab.concepts.cost import DEFAULT_NETWORK, Network
from distlab.concepts.gossip import DEFAULT_TOLERANCE
from distlab.engines.algorithms import (ALGORITHMS, EXACT_ALGORITHMS, _check_options,
    check_algorithm, make_plan)
from distlab.engines.direct import DirectNaive
from distlab.engines.direct_fast_call import DirectFast
from distlab.engines.inputs import _check_value_list, local_inputs
from distlab.engines.placement import _check_futures, _place
from distlab.engines.result import AllreduceResult, Engine, WorkerLost
from distlab.engines.simulator import Simulator
from distlab.engines.tasks import Tasks
from distlab.engines.workers import check_client

__all__ = ["ALGORITHMS", "EXACT_ALGORITHMS", "DASK_ENGINES", "AllreduceResult", "WorkerLost",
           "allreduce", "check_algorithm", "make_plan"]

#: The engines that run a plan on a Dask cluster, by name; the first is the default.
DASK_ENGINES = {"direct": DirectFast, "tasks": Tasks, "direct_naive": DirectNaive}


def allreduce(values, algorithm: str = "ring", client=None, *,
              tolerance: float = DEFAULT_TOLERANCE, seed: int = 0, self_weight: float = 0.5,
              network: Network = DEFAULT_NETWORK, workers=None,
              dask_engine: str = "direct") -> AllreduceResult:
    """Every node ends with the mean of all nodes' values: X_i' = (1/N) Σ_j X_j.

    ``values``: one value per node (numbers, or numpy arrays of one shape); or, with a
    client, one ``distributed.Future`` per node, node i living on the worker that holds
    ``values[i]`` (several nodes may share a worker; their messages then stay in one
    process). ``algorithm``: one of :data:`ALGORITHMS`. ``client``: ``None`` for the
    simulator, a ``distributed.Client`` to run on its workers; with plain values node i is
    placed on the i-th worker (sorted by address), so there can be at most as many nodes
    as workers. ``workers``: optional list of worker addresses, one per node, to say where
    nodes live instead. ``dask_engine`` (with a client): one of :data:`DASK_ENGINES`.

    Gossip algorithms stop when the disagreement has fallen below ``tolerance`` times its
    initial value (guaranteed for ``gossip_ring`` / ``gossip_complete``, with probability
    ≥ 1 - tolerance for the seeded ``gossip_random``). ``network`` sets α and bandwidth
    for the α-β time.

    With plain values the result's ``values`` are filled at once. With future inputs the
    results stay on the cluster in ``result.futures`` and ``values`` gathers them on first
    access. Inputs are never modified. Finite inputs give a finite mean even where their
    sum overflows (the plan runs again scaled, :mod:`distlab.concepts.kernel`). Raises
    ``TypeError`` / ``ValueError`` for a bad argument or input (naming it; at most
    :data:`~distlab.concepts.plans.MAX_NODES` nodes; ``client`` an open
    ``distributed.Client``: "the client is closed" after ``client.close()``),
    :class:`~distlab.engines.result.WorkerLost` (a ``RuntimeError``) naming the worker
    when one holding nodes leaves the cluster during the call, within seconds, and
    ``RuntimeError`` when the cluster fails the call otherwise.
    """
    check_algorithm(algorithm)
    _check_options(tolerance, seed, self_weight)
    if not isinstance(network, Network):
        raise TypeError(f"network must be a distlab.concepts.cost.Network, "
                        f"got {type(network).__name__}")
    values = _check_value_list(values)
    futures = _check_futures(values, client)
    checks.choice("dask_engine", dask_engine, DASK_ENGINES)
    engine: Engine
    if client is None:
        if workers is not None:
            raise ValueError("workers only makes sense with a client")
        engine, inputs = Simulator(), local_inputs(values)
    else:
        engine = DASK_ENGINES[dask_engine](check_client(client))
        inputs = _place(client, values, workers, futures)
    plan = make_plan(algorithm, len(values), tolerance=tolerance, seed=seed,
                     self_weight=self_weight)
    return engine.run(plan, inputs, network)
