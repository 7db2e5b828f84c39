"""``allreduce``: X_i' = (1/N) Σ_j X_j on every node, by any algorithm, on any engine.

    from distlab.engines.allreduce import allreduce, ALGORITHMS
    result = allreduce([10, 20, 30], algorithm="ring")            # the simulator
    result = allreduce([a, b], algorithm="ring", client=client)   # real Dask workers

Without a client the plan runs in-process (:mod:`~distlab.engines.simulator`). With
one it runs on the Dask workers, in either of two ways: ``dask_engine="direct"`` (the
default), where the workers run the plan themselves and send the chunks straight to each
other (:mod:`~distlab.engines.direct_fast`), or ``dask_engine="tasks"``, one Dask
task per node and round, pinned to the workers (:mod:`~distlab.engines.tasks`),
which shows the scheduler at work and pays its overhead on every dependent step. All run
the same plan with the same arithmetic, so they return identical values.
"""
from __future__ import annotations

import time as _time
from numbers import Integral, Real

import numpy as np
import pandas as pd

from distlab.engines import tasks, direct_fast, simulator
from distlab.concepts.cost import DEFAULT_NETWORK, Network, bytes_per_node, round_times
from distlab.concepts.gossip import (DEFAULT_TOLERANCE, gossip_complete, gossip_random,
    gossip_ring)
from distlab.concepts.plans import EXACT_BUILDERS, Plan

#: Every algorithm ``allreduce`` knows, naive first; the last three are gossip.
ALGORITHMS = ("star", "tree", "ring", "recursive_doubling", "rabenseifner",
              "gossip_ring", "gossip_complete", "gossip_random")
EXACT_ALGORITHMS = ALGORITHMS[:5]
#: The two ways a plan runs on a Dask cluster; the first is the default.
DASK_ENGINES = ("direct", "tasks")


# --------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------

def check_algorithm(algorithm) -> str:
    if not isinstance(algorithm, str):
        raise TypeError(f"algorithm must be a string, one of {', '.join(ALGORITHMS)}; "
                        f"got {type(algorithm).__name__}")
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; known algorithms: "
                         f"{', '.join(ALGORITHMS)}")
    return algorithm


def check_nodes(n_nodes) -> int:
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, Integral):
        raise TypeError(f"n_nodes must be an int, got {type(n_nodes).__name__}")
    if n_nodes < 1:
        raise ValueError(f"n_nodes must be at least 1, got {n_nodes}")
    return int(n_nodes)


def _check_options(tolerance, seed, self_weight) -> None:
    if isinstance(tolerance, bool) or not isinstance(tolerance, Real) \
            or not 0 < tolerance < 1:
        raise ValueError(f"tolerance must be a number between 0 and 1 (exclusive), "
                         f"got {tolerance!r}")
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if isinstance(self_weight, bool) or not isinstance(self_weight, Real) \
            or not 0 < self_weight < 1:
        raise ValueError(f"self_weight must be a number between 0 and 1 (exclusive), "
                         f"got {self_weight!r}")


def make_plan(algorithm: str, n_nodes: int, *, tolerance: float = DEFAULT_TOLERANCE,
              seed: int = 0, self_weight: float = 0.5) -> Plan:
    """The plan of ``algorithm`` for ``n_nodes`` nodes. ``tolerance`` (relative
    disagreement to reach), ``seed`` and ``self_weight`` only matter for gossip."""
    check_algorithm(algorithm)
    n_nodes = check_nodes(n_nodes)
    _check_options(tolerance, seed, self_weight)
    if algorithm in EXACT_BUILDERS:
        return EXACT_BUILDERS[algorithm](n_nodes)
    if algorithm == "gossip_ring":
        return gossip_ring(n_nodes, tolerance)
    if algorithm == "gossip_complete":
        return gossip_complete(n_nodes, tolerance, self_weight)
    return gossip_random(n_nodes, tolerance, int(seed))


def _as_node_array(value, name: str) -> np.ndarray:
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a number or a numeric array, "
                        f"got {type(value).__name__}")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a number or a numeric array, got {value!r}") from exc
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a number or a real numeric array, "
                        f"got dtype {array.dtype}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, but contains NaN or infinity")
    return array


def _working_dtype(dtypes) -> np.dtype:
    """float32 stays float32 (gradients often are); everything else becomes float64."""
    return np.result_type(*dtypes, np.float32)


def _check_shapes(shapes) -> tuple:
    distinct = sorted(set(shapes), key=str)
    if len(distinct) > 1:
        raise ValueError(f"values must all have one shape, got shapes {distinct}")
    return distinct[0]


# --------------------------------------------------------------------------------------
# the result
# --------------------------------------------------------------------------------------

class AllreduceResult:
    """What ``allreduce`` returns.

    Attributes: ``values`` (node i's final value as a numpy array), ``futures`` (on a
    cluster: node i's final value on its worker; ``None`` on the simulator), ``trace``
    (each node's buffer after each round, a DataFrame), ``rounds``, ``bytes_sent`` and
    ``bytes_received`` (int arrays per node, from the plan), ``time`` (α-β seconds on
    ``network``), ``algorithm``, ``plan``, ``engine`` ("simulator" or "dask"),
    ``dask_engine`` ("direct" or "tasks" on a cluster, ``None`` on the simulator),
    ``wall_time`` (on a cluster: measured seconds from the client's first message to the
    results being futures; ``None`` on the simulator),
    ``worker_time`` (direct engine: the slowest node's seconds from reading its input to
    holding its result, measured on the workers as gloo or MPI time a collective;
    ``None`` otherwise), ``bytes_counted`` (direct engine: the bytes each node really
    sent, counted by the engine), ``error`` (final disagreement relative to the initial
    one: 0 for exact algorithms, below the tolerance for gossip).
    """

    def __init__(self, plan, network, n, itemsize, shape, dtype, engine, initial,
                 values=None, futures=None, wall_time=None, worker_time=None,
                 bytes_counted=None, dask_engine=None):
        self.plan = plan
        self.algorithm = plan.algorithm
        self.rounds = plan.n_rounds
        self.network = network
        self.shape = shape
        self.dtype = np.dtype(dtype)
        self.engine = engine
        self.dask_engine = dask_engine
        self.futures = futures
        self.wall_time = wall_time
        self.worker_time = worker_time
        self.bytes_counted = bytes_counted
        self.bytes_sent, self.bytes_received = bytes_per_node(plan, n, itemsize)
        self.round_times = round_times(plan, n, itemsize, network)
        self.time = float(self.round_times.sum())
        self._n = n
        self._initial = initial          # the flat input buffers, or a callable giving them
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
        if callable(self._initial):
            self._initial = self._initial()
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
        """‖x - x̄1‖ / ‖x(0) - x̄1‖ at the end (0 when the start already agreed)."""
        start = np.stack([np.asarray(b, dtype=float) for b in self.initial()])
        end = np.stack([np.asarray(v, dtype=float).reshape(-1) for v in self.values])
        mean = start.mean(axis=0)
        spread = np.linalg.norm(start - mean)
        return 0.0 if spread == 0 else float(np.linalg.norm(end - mean) / spread)

    def __repr__(self) -> str:
        return (f"AllreduceResult(algorithm={self.algorithm!r}, engine={self.engine!r}, "
                f"nodes={self.n_nodes}, rounds={self.rounds}, "
                f"max_bytes_sent={int(self.bytes_sent.max(initial=0))}, "
                f"time={self.time:.3g} s)")


def _trace_frame(plan, initial, dtype, shape) -> pd.DataFrame:
    _, snaps = simulator.run(plan, initial, dtype, record=True)
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


# --------------------------------------------------------------------------------------
# allreduce
# --------------------------------------------------------------------------------------

def _is_future(x) -> bool:
    from distributed import Future
    return isinstance(x, Future)


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
    nodes live instead. ``dask_engine`` (with a client): ``"direct"``, the workers
    exchange the chunks themselves (fast), or ``"tasks"``, a Dask task per node and round.

    Gossip algorithms stop when the disagreement has fallen below ``tolerance`` times its
    initial value (guaranteed for ``gossip_ring`` / ``gossip_complete``, with probability
    ≥ 1 - tolerance for the seeded ``gossip_random``). ``network`` sets α and bandwidth
    for the α-β time.

    With plain values the result's ``values`` are filled at once. With future inputs the
    results stay on the cluster in ``result.futures`` and ``values`` gathers them on first
    access. Inputs are never modified.
    """
    check_algorithm(algorithm)
    _check_options(tolerance, seed, self_weight)
    if not isinstance(network, Network):
        raise TypeError(f"network must be a distlab.collectives.Network, "
                        f"got {type(network).__name__}")
    if isinstance(values, (str, bytes, dict, set, Real)) or values is None \
            or not hasattr(values, "__len__") or not hasattr(values, "__getitem__"):
        raise TypeError("values must be a list with one value per node, "
                        f"got {type(values).__name__}")
    if len(values) == 0:
        raise ValueError("values must hold at least one node's value, got an empty list")
    values = list(values)
    futures_in = [_is_future(v) for v in values]
    if any(futures_in) and not all(futures_in):
        raise TypeError("values must be all Futures or all plain values, not a mix")
    if all(futures_in) and client is None:
        raise TypeError("values are Dask Futures, so pass the client they belong to "
                        "(client=...)")
    if client is not None:
        from distributed import Client
        if not isinstance(client, Client):
            raise TypeError(f"client must be a distributed.Client (from distlab.connect()) "
                            f"or None, got {type(client).__name__}")
    elif workers is not None:
        raise ValueError("workers only makes sense with a client")
    if not isinstance(dask_engine, str) or dask_engine not in DASK_ENGINES:
        raise ValueError(f"dask_engine must be one of {', '.join(map(repr, DASK_ENGINES))}"
                         f", got {dask_engine!r}")

    kwargs = dict(tolerance=tolerance, seed=seed, self_weight=self_weight)
    if client is None:
        return _run_simulator(values, algorithm, network, kwargs)
    if dask_engine == "direct":
        return _run_direct(client, values, algorithm, network, kwargs, workers,
                           all(futures_in))
    return _run_dask(client, values, algorithm, network, kwargs, workers, all(futures_in))


def _run_simulator(values, algorithm, network, kwargs) -> AllreduceResult:
    arrays = [_as_node_array(v, f"values[{i}]") for i, v in enumerate(values)]
    shape = _check_shapes([a.shape for a in arrays])
    dtype = _working_dtype([a.dtype for a in arrays])
    buffers = [np.array(a, dtype=dtype).reshape(-1) for a in arrays]   # copies
    plan = make_plan(algorithm, len(buffers), **kwargs)
    final, _ = simulator.run(plan, buffers, dtype)
    out = [f.reshape(shape) for f in final]
    n = buffers[0].size
    return AllreduceResult(plan, network, n, dtype.itemsize, shape, dtype, "simulator",
                           buffers, values=out)


def _worker_addresses(client) -> list[str]:
    # nthreads() asks the scheduler; scheduler_info() returns the client's cache, which its
    # periodic refresh (every 2 s, without per-worker details) can empty at any moment
    workers = sorted(client.nthreads())
    if not workers:
        raise RuntimeError("the cluster has no workers")
    return workers


#: The (dtype, shape) last seen per node count for Future inputs. A training loop calls
#: ``allreduce`` with same-shaped futures every step, so the plan is submitted at once
#: with this guess and its first tasks check the inputs on the workers, instead of the
#: client asking first: one round trip saved per call. A wrong guess costs a resubmission.
_LAST_FUTURE_META: dict[int, tuple] = {}


def _homes_of(client, values) -> list[str]:
    from distributed import wait

    who = client.who_has(values)
    homes = []
    for i, f in enumerate(values):
        holders = sorted(who.get(f.key, ()))
        if not holders:
            wait([f])
            holders = sorted(client.who_has([f]).get(f.key, ()))
        if not holders:
            raise ValueError(f"values[{i}] is a Future that is not held by any "
                             f"worker (status {f.status!r})")
        homes.append(holders[0])
    return homes


def _check_meta(meta) -> tuple:
    for i, (_, dt, kind, finite) in enumerate(meta):
        if kind not in "biuf":
            raise TypeError(f"values[{i}] must hold a real numeric array, got dtype {dt}")
        if not finite:
            raise ValueError(f"values[{i}] must be finite, but contains NaN or infinity")
    shape = _check_shapes([tuple(m[0]) for m in meta])
    return shape, _working_dtype([np.dtype(m[1]) for m in meta])


def _check_workers(workers, available, n_nodes):
    if workers is not None:
        if isinstance(workers, str) or not hasattr(workers, "__len__"):
            raise TypeError("workers must be a list of worker addresses, one per node")
        workers = list(workers)
        if len(workers) != n_nodes:
            raise ValueError(f"workers must name one worker per node ({n_nodes}), "
                             f"got {len(workers)}")
        unknown = sorted(set(workers) - set(available))
        if unknown:
            raise ValueError(f"workers names {len(unknown)} address(es) that are not "
                             f"workers of this cluster")
    return workers


def _plain_inputs(values, workers, available):
    """Plain values on a cluster: checked and converted here; node i on the i-th worker."""
    n_nodes = len(values)
    if n_nodes > len(available) and workers is None:
        raise ValueError(f"values has {n_nodes} nodes but the cluster has only "
                         f"{len(available)} workers: each node needs a worker of its "
                         "own (or pass workers=[...] to place nodes explicitly)")
    arrays = [_as_node_array(v, f"values[{i}]") for i, v in enumerate(values)]
    shape = _check_shapes([a.shape for a in arrays])
    dtype = _working_dtype([a.dtype for a in arrays])
    initial = [np.array(a, dtype=dtype).reshape(-1) for a in arrays]
    homes = workers if workers is not None else available[:n_nodes]
    return initial, shape, dtype, homes


def _run_dask(client, values, algorithm, network, kwargs, workers, futures_in):
    available = _worker_addresses(client)
    n_nodes = len(values)
    workers = _check_workers(workers, available, n_nodes)
    plan = make_plan(algorithm, n_nodes, **kwargs)

    if futures_in:
        homes = workers if workers is not None else _homes_of(client, values)
        sources = values
        guess = _LAST_FUTURE_META.get(n_nodes)
        finals = None
        if guess:                  # submit at once; the tasks check the guess themselves
            start = _time.perf_counter()
            finals = tasks.run(client, plan, sources, homes, *guess, verify=True)
            tasks.wait_pinned(client, finals, homes)
            if any(f.type is tasks.Mismatch for f in finals):
                finals = None      # a wrong guess: drop these, check, resubmit
            else:
                dtype, shape = guess
        if finals is None:         # first call of this shape: check, then submit
            checks = [client.submit(tasks.describe_value, f, workers=[w],
                                    allow_other_workers=True, pure=False)
                      for f, w in zip(values, homes)]
            shape, dtype = _check_meta(client.gather(checks))
            _LAST_FUTURE_META[n_nodes] = (dtype, shape)
            start = _time.perf_counter()
            finals = tasks.run(client, plan, sources, homes, dtype, shape)

        def initial():
            return [np.array(v, dtype=dtype).reshape(-1) for v in client.gather(sources)]
    else:
        initial, shape, dtype, homes = _plain_inputs(values, workers, available)
        # hash=False: a fresh key per call, so a value scattered again is not mistaken
        # for one an earlier result is releasing
        sources = [client.scatter(b, workers=[w], direct=True, hash=False)
                   for b, w in zip(initial, homes)]
        start = _time.perf_counter()
        finals = tasks.run(client, plan, sources, homes, dtype, shape)

    tasks.wait_pinned(client, finals, homes)
    wall = _time.perf_counter() - start
    errors = [f for f in finals if f.status == "error"]
    if errors:
        errors[0].result()                       # raises the worker's exception here
    size = int(np.prod(shape, dtype=np.int64))
    gathered = None if futures_in else [np.asarray(v) for v in client.gather(finals)]
    return AllreduceResult(plan, network, size, np.dtype(dtype).itemsize, shape, dtype,
                           "dask", initial, values=gathered, futures=finals, wall_time=wall,
                           dask_engine="tasks")


def _ready_inputs(client, values) -> None:
    """Future inputs must be in worker memory before the workers read them by key: wait
    for them (no cost when they are), and raise a failed one's exception here."""
    from distributed import wait

    if any(f.status != "finished" for f in values):      # else no need to ask the loop
        wait(values)
    for i, f in enumerate(values):
        if f.status == "error":
            f.result()
        if f.status != "finished":
            raise ValueError(f"values[{i}] is a Future that is {f.status}, not finished")


#: Worker addresses seen per client: a call in a training loop that names its workers
#: checks them here, without a round trip to the scheduler (refreshed when it names one
#: not seen yet, and after a failed call).
_KNOWN_WORKERS: dict[str, frozenset] = {}


def _known_workers(client, wanted) -> list[str]:
    known = _KNOWN_WORKERS.get(client.id)
    if known and wanted is not None and not isinstance(wanted, str) \
            and hasattr(wanted, "__iter__") and set(wanted) <= known:
        return sorted(known)
    workers = _worker_addresses(client)
    _KNOWN_WORKERS[client.id] = frozenset(workers)
    return workers


def _run_direct(client, values, algorithm, network, kwargs, workers, futures_in):
    from distlab.engines.direct_fast import DirectError

    available = _known_workers(client, workers)
    n_nodes = len(values)
    workers = _check_workers(workers, available, n_nodes)
    plan = make_plan(algorithm, n_nodes, **kwargs)
    spec = ("make_plan", algorithm, n_nodes, float(kwargs["tolerance"]), int(kwargs["seed"]),
            float(kwargs["self_weight"]))

    def go(sources, homes, dtype, shape, verify):
        start = _time.perf_counter()
        try:
            out = direct_fast.run(client, plan, sources, homes, dtype, shape,
                                    plan_spec=spec, verify=verify)
        except DirectError as exc:
            if exc.kind == "type":
                raise TypeError(str(exc)) from None
            if exc.kind == "value":
                raise ValueError(str(exc)) from None
            if exc.kind == "mismatch":
                return None
            _KNOWN_WORKERS.pop(client.id, None)
            raise RuntimeError(f"the direct all-reduce failed: {exc}") from None
        except Exception:
            _KNOWN_WORKERS.pop(client.id, None)          # a worker may have left
            raise
        return (*out, _time.perf_counter() - start)

    if futures_in:
        _ready_inputs(client, values)
        homes = workers if workers is not None else _homes_of(client, values)
        sources = [("key", f.key) for f in values]
        guess = _LAST_FUTURE_META.get(n_nodes)
        done = go(sources, homes, *guess, verify=True) if guess else None
        if done is None:           # first call of this shape, or a wrong guess: check
            shape, dtype = _check_meta(direct_fast.describe(client, sources, homes))
            _LAST_FUTURE_META[n_nodes] = (dtype, shape)
            done = go(sources, homes, dtype, shape, verify=True)
            if done is None:       # changed between the check and the call
                raise RuntimeError("the inputs changed while the all-reduce ran")
        else:
            dtype, shape = guess

        def initial():
            return [np.array(v, dtype=dtype).reshape(-1) for v in client.gather(values)]
        gathered = None
    else:
        initial, shape, dtype, homes = _plain_inputs(values, workers, available)
        done = go([("value", b) for b in initial], homes, dtype, shape, verify=False)
        gathered = [np.asarray(v) for v in client.gather(done[0])]
    finals, sent, seconds, wall = done
    size = int(np.prod(shape, dtype=np.int64))
    return AllreduceResult(plan, network, size, np.dtype(dtype).itemsize, shape, dtype,
                           "dask", initial, values=gathered, futures=finals,
                           wall_time=wall, worker_time=float(seconds.max(initial=0.0)),
                           bytes_counted=sent, dask_engine="direct")
