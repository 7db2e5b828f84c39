"""The in-process engine: run a plan on numpy arrays, round by round, on a virtual clock.

No event queue is needed: every round is synchronous, so the simulator reads all messages
from the buffers as they stood at the start of the round and applies them with the one
kernel (:func:`distlab.concepts.kernel.run_plan`, the same functions the Dask workers
run); the virtual clock advances by each round's α-β time on the given network
(:mod:`distlab.concepts.cost`, in :class:`~distlab.engines.result.AllreduceResult`).
Exact and reproducible for any node count: this is what the notebooks print and nbval
compares.
"""
from __future__ import annotations

from distlab.concepts.cost import Network
from distlab.concepts.kernel import _run_plan
from distlab.concepts.plans import Plan
from distlab.engines.inputs import Inputs
from distlab.engines.result import AllreduceResult

__all__ = ["Simulator"]


class Simulator:
    """The engine of ``allreduce`` without a client."""
    name = "simulator"

    def run(self, plan: Plan, inputs: Inputs, network: Network) -> AllreduceResult:
        """``plan`` on ``inputs``: plain values, one per node of the plan
        (:func:`~distlab.engines.inputs.local_inputs`), with α-β times on ``network``.
        Raises ``TypeError`` for arguments of the wrong kind (naming it) and
        ``ValueError`` when the plan is for another number of nodes."""
        if not isinstance(plan, Plan):
            raise TypeError(f"plan must be a distlab.concepts.plans.Plan, "
                            f"got {type(plan).__name__}")
        if not isinstance(inputs, Inputs) or inputs.futures:
            raise TypeError("inputs must be plain Inputs from local_inputs(values), "
                            f"got {type(inputs).__name__}")
        if not isinstance(network, Network):
            raise TypeError(f"network must be a distlab.concepts.cost.Network, "
                            f"got {type(network).__name__}")
        if inputs.n_nodes != plan.n_nodes:
            raise ValueError(f"inputs must hold one value per node of the plan "
                             f"({plan.n_nodes}), got {inputs.n_nodes}")
        final, _ = _run_plan(plan, list(inputs.values), inputs.dtype)
        return AllreduceResult(plan, inputs, network, "simulator",
                               values=[f.reshape(inputs.shape) for f in final])
