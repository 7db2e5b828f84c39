"""What every engine returns (:class:`AllreduceResult`), what every engine is, and what an
engine on a cluster raises when a worker of the call leaves it (:class:`WorkerLost`).

An engine (:class:`Engine`) runs a plan on inputs: ``engine.run(plan, inputs, network)``
returns an :class:`AllreduceResult`. The simulator (:mod:`~distlab.engines.simulator`),
the task engine (:mod:`~distlab.engines.tasks`), the naive direct engine
(:mod:`~distlab.engines.direct`) and the fast one (:mod:`~distlab.engines.direct_fast`)
all apply the one averaging kernel, so their results agree to the last bit.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

from distlab.concepts.cost import Network, bytes_per_node, round_times
from distlab.concepts.kernel import _run_plan
from distlab.concepts.plans import Plan
from distlab.engines.inputs import Inputs

__all__ = ["AllreduceResult", "WorkerLost", "Engine"]

#: What :attr:`AllreduceResult.error` computes the true mean in: wider than float64 where
#: the platform's long double is (x86: 64-bit mantissa), else float64.
_WIDE = np.longdouble if np.finfo(np.longdouble).eps < np.finfo(np.float64).eps else np.float64


class AllreduceResult:
    """What ``allreduce`` returns.

    Attributes: ``values`` (node i's final value as a numpy array), ``futures`` (on a
    cluster: node i's final value on its worker; ``None`` on the simulator), ``trace``
    (each node's buffer after each round, a DataFrame), ``rounds``, ``bytes_sent`` and
    ``bytes_received`` (int arrays per node, from the plan), ``time`` (α-β seconds on
    ``network``), ``algorithm``, ``plan``, ``engine`` ("simulator" or "dask"),
    ``dask_engine`` ("direct", "direct_naive" or "tasks" on a cluster, ``None`` on the
    simulator), ``wall_time`` (on a cluster: measured seconds from the client's first
    message to the results being futures; ``None`` on the simulator), ``worker_time``
    (direct engines: the slowest node's seconds from reading its input to holding its
    result, measured on the workers as gloo or MPI time a collective; ``None``
    otherwise), ``bytes_counted`` (direct engines: the bytes each node really sent,
    counted by the engine), ``error`` (how far from the true mean, see :attr:`error`).

    ``inputs`` must have a known shape and dtype (engines describe future inputs first).
    A record the engines build; its arguments are not checked again here.
    """

    def __init__(self, plan: Plan, inputs: Inputs, network: Network, engine: str, *,
                 dask_engine: str | None = None, values=None, futures=None,
                 wall_time=None, worker_time=None, bytes_counted=None):
        self.plan = plan
        self.algorithm = plan.algorithm
        self.rounds = plan.n_rounds
        self.network = network
        self.shape = inputs.shape
        self.dtype = np.dtype(inputs.dtype)
        self.engine = engine
        self.dask_engine = dask_engine
        self.futures = futures
        self.wall_time = wall_time
        self.worker_time = worker_time
        self.bytes_counted = bytes_counted
        self.bytes_sent, self.bytes_received = bytes_per_node(plan, inputs.size,
                                                              self.dtype.itemsize)
        self.round_times = round_times(plan, inputs.size, self.dtype.itemsize, network)
        self.time = float(self.round_times.sum())
        self._inputs = inputs
        self._initial = None
        self._values = values
        self._trace = None

    @property
    def n_nodes(self) -> int:
        return self.plan.n_nodes

    @property
    def values(self) -> list[np.ndarray]:
        """Node i's final value. With future inputs these are gathered from the workers on
        first access (the all-reduce itself never gathers)."""
        if self._values is None:
            self._values = [np.asarray(v) for v in self.futures[0].client.gather(self.futures)]
        return self._values

    def initial(self) -> list[np.ndarray]:
        """Each node's flat input (gathered from the workers, for future inputs)."""
        if self._initial is None:
            self._initial = self._inputs.initial()
        return self._initial

    @property
    def trace(self) -> pd.DataFrame:
        """One row per (round, node): round 0 is the start, rounds 1…R the buffers after each
        communication round (partial sums for exact algorithms), and, for exact algorithms,
        a last row R+1 after the local divide by N. Columns ``round``, ``step``, ``node``,
        then ``value`` (scalar inputs) or ``x[0]``, ``x[1]``, … (the flattened vector).

        Built on first access by replaying the plan in the simulator from the initial
        values (gathered, for Dask inputs); the tests check the replay ends where the
        engine did."""
        if self._trace is None:
            self._trace = _trace_frame(self.plan, self.initial(), self.dtype, self.shape)
        return self._trace

    @property
    def error(self) -> float:
        """The largest deviation of any node's result from the true mean, relative to the
        largest input magnitude::

            error = max_i,j |x_ij - m_j| / max_i,j |x_ij(0)|,   m_j = (1/N) Σ_i x_ij(0)

        (when every input is 0: the largest |x_ij| itself). ``m`` is computed from the
        inputs as the engine held them (in the working dtype) in extended precision where
        the platform has it (``numpy.longdouble``), else float64, after scaling everything
        by one power of two so that nothing overflows. Exact algorithms reach a few units
        in the last place of the working dtype (at most about (N/2 + 1)·ε, ε =
        ``numpy.finfo(dtype).eps``: N - 1 roundings of the sum and one of the division);
        gossip stops within its tolerance of agreement, which bounds this error by about
        tolerance·√N (Xiao & Boyd's contraction, per element, of a disagreement at most √N
        times the largest input).
        """
        start = np.stack([np.asarray(b, dtype=_WIDE) for b in self.initial()])
        end = np.stack([np.asarray(v, dtype=_WIDE).reshape(-1) for v in self.values])
        peak = np.abs(start).max(initial=0.0)
        if peak == 0:
            return float(np.abs(end).max(initial=0.0))
        shift = -int(np.frexp(peak)[1])              # exact: everything ≤ 1 in magnitude
        start, end = np.ldexp(start, shift), np.ldexp(end, shift)
        mean = start.sum(axis=0) / start.shape[0]
        return float(np.abs(end - mean).max(initial=0.0) / np.ldexp(peak, shift))

    def __repr__(self) -> str:
        return (f"AllreduceResult(algorithm={self.algorithm!r}, engine={self.engine!r}, "
                f"nodes={self.n_nodes}, rounds={self.rounds}, "
                f"max_bytes_sent={int(self.bytes_sent.max(initial=0))}, "
                f"time={self.time:.3g} s)")


def _trace_frame(plan: Plan, initial: list[np.ndarray], dtype, shape: tuple) -> pd.DataFrame:
    """The plan replayed on ``initial`` (flat buffers), as :attr:`AllreduceResult.trace`."""
    _, snaps = _run_plan(plan, initial, dtype, record=True)
    labels = ["start"] + [r.label for r in plan.rounds]
    if plan.divide_by is not None:
        labels.append(f"local: divide by {plan.divide_by}")
    n = snaps[0].shape[1]
    columns = ["value"] if shape == () else [f"x[{j}]" for j in range(n)]
    rows = []
    for k, (label, snap) in enumerate(zip(labels, snaps)):
        for node in range(plan.n_nodes):
            rows.append([k, label, node, *snap[node].tolist()])
    return pd.DataFrame(rows, columns=["round", "step", "node", *columns])


class WorkerLost(RuntimeError):
    """A worker holding nodes of an all-reduce left the cluster while it ran: its process
    was killed or crashed, or its Nanny restarted it for passing 95 % of its memory limit
    (``distributed.worker.memory.terminate``; the Nanny brings the worker count back, at
    a new address). ``workers``: their addresses. The call is over on every worker, and
    nothing of it is kept; the nodes that lived there lost their values."""

    def __init__(self, workers, what: str = "all-reduce"):
        self.workers = sorted(workers)
        who = ("worker " if len(self.workers) == 1 else "workers ") + ", ".join(self.workers)
        super().__init__(f"{who} left the cluster during this {what} (killed, crashed, or "
                         "restarted by its nanny for its memory); the call was ended on "
                         "every worker: call it again on the workers there now")


class Engine(Protocol):
    """Where a plan runs. ``name`` is what ``allreduce``'s ``dask_engine`` calls it
    ("simulator" for the in-process one). An interface: ``run`` raises ``TypeError`` /
    ``ValueError`` for bad inputs and :class:`WorkerLost` when a worker leaves."""
    name: str

    def run(self, plan: Plan, inputs: Inputs, network: Network) -> AllreduceResult:
        """Run ``plan`` on ``inputs`` (one value per node; on a cluster, each with its
        worker) and return the result; the inputs are never modified."""
        ...
