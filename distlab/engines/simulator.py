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
from distlab.concepts.kernel import run_plan
from distlab.concepts.plans import Plan
from distlab.engines.inputs import Inputs
from distlab.engines.result import AllreduceResult


class Simulator:
    """The engine of ``allreduce`` without a client."""
    name = "simulator"

    def run(self, plan: Plan, inputs: Inputs, network: Network) -> AllreduceResult:
        """``inputs``: plain values (:func:`~distlab.engines.inputs.local_inputs`)."""
        final, _ = run_plan(plan, list(inputs.values), inputs.dtype)
        return AllreduceResult(plan, inputs, network, "simulator",
                               values=[f.reshape(inputs.shape) for f in final])
