"""α and β of the live cluster for the direct engine, and its α-β-γ predictions.

The direct engine (:mod:`~distlab.engines.direct_fast`) has no tasks on its path, so its
α and β are those of one worker-to-worker message: :func:`ping_pong_direct` runs plans
that bounce a vector between two workers on that engine (one way, and two messages
crossing), and :func:`predict_direct` is then the α-β model of the plan (rounds of
α + bytes·β, the model of Thakur et al. that MPI libraries are tuned with) plus γ per byte
of arithmetic and the calibrated fixed costs of a call. :func:`measure_direct` sets the
predictions against measured calls. The task engine's calibration, which shares
:class:`Calibration`, is :mod:`~distlab.engines.calibrate_tasks`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from distributed import wait

from distlab import checks
from distlab.concepts.cost import Network, round_bytes
from distlab.concepts.plans import Plan, Round, Transfer
from distlab.engines.algorithms import ALGORITHMS, EXACT_ALGORITHMS, make_plan
from distlab.engines.allreduce import allreduce
from distlab.engines.direct_fast_call import DirectFast
from distlab.engines.inputs import Inputs
from distlab.engines.spmd import run_ranks, time_allreduce
from distlab.engines.workers import check_client, submit_on, worker_addresses

__all__ = ["Calibration", "DIRECT_PING_SIZES", "ping_pong_direct", "round_seconds",
           "predict_direct", "measure_direct"]

#: Bounds on the work a calibration may be asked for: beyond them it would run for hours
#: or exhaust a worker's memory (512 MiB by default), so they are refused.
MAX_HOPS = 1000
MAX_REPEATS = 100
MAX_BYTES = 256 * 2**20


def _check_sizes(sizes, at_least: int) -> list[int]:
    """``sizes`` as a list of at least ``at_least`` byte counts in [1, MAX_BYTES]."""
    sizes = checks.sequence("sizes", sizes)
    if len(sizes) < at_least:
        raise ValueError(f"sizes must hold at least {at_least} byte count(s), "
                         f"got {len(sizes)}")
    return [checks.count(f"sizes[{i}]", s, minimum=1, maximum=MAX_BYTES,
                         limit="half a worker's default memory") for i, s in enumerate(sizes)]


def _check_model(plan, n, calibration, itemsize) -> tuple[int, int]:
    """The arguments of a prediction: ``(n, itemsize)``, or ``TypeError`` / ``ValueError``
    naming the bad one."""
    if not isinstance(plan, Plan):
        raise TypeError(f"plan must be a distlab.concepts.plans.Plan, got {type(plan).__name__}")
    if not isinstance(calibration, Calibration):
        raise TypeError(f"calibration must be a Calibration (from ping_pong_direct or "
                        f"ping_pong), got {type(calibration).__name__}")
    return checks.count("n", n, minimum=1), checks.count("itemsize", itemsize, minimum=1,
                                                          maximum=16, limit="numpy's widest")


def _check_measure(client, calibration, algorithms, sizes, repeats) -> tuple:
    """The arguments a measurement shares, checked: ``(algorithms, sizes, repeats)``."""
    check_client(client)
    if not isinstance(calibration, Calibration):
        raise TypeError(f"calibration must be a Calibration (from ping_pong_direct or "
                        f"ping_pong), got {type(calibration).__name__}")
    algorithms = checks.sequence("algorithms", algorithms)
    if not algorithms:
        raise ValueError("algorithms must name at least one algorithm")
    algorithms = [checks.choice(f"algorithms[{i}]", a, ALGORITHMS)
                  for i, a in enumerate(algorithms)]
    return (algorithms, _check_sizes(sizes, 1),
            checks.count("repeats", repeats, minimum=1, maximum=MAX_REPEATS))


def make_array(n_bytes: int) -> np.ndarray:
    """Runs on a worker: a float64 array of about ``n_bytes`` (at least one element).
    A worker task, not a learner's function; raises nothing of its own."""
    return np.ones(max(1, n_bytes // 8))


def _two_workers(client) -> tuple[str, str]:
    """The first two workers by address; ``RuntimeError`` when there are fewer."""
    workers = worker_addresses(client, at_least=2)
    return workers[0], workers[1]


@dataclass(frozen=True)
class Calibration:
    """Fitted α (s per message) and β (s per byte), the client's fixed cost of submitting
    work and hearing it finished (``overhead``, s), and the samples they came from. The
    direct engine's calibration also has ``alpha_both`` and ``beta_both`` (the same for a
    round in which two messages cross, each way at once: on one host the two directions
    share the cores, as the OSU micro-benchmarks' osu_bibw shows against osu_bw),
    ``gamma`` (s per byte of arithmetic on a worker,
    γ of the α-β-γ model), ``fresh`` (s per byte to allocate a node's result and touch it
    the first time: page faults) and ``fixed`` (s a call costs on the workers whatever
    it sends: reading the inputs, setting up, storing the results).

    A record that :func:`ping_pong_direct` and
    :func:`~distlab.engines.calibrate_tasks.ping_pong` return; its fields are not
    checked."""
    alpha: float
    beta: float
    overhead: float
    samples: pd.DataFrame           # columns: bytes, seconds_per_hop
    gamma: float = 0.0
    fixed: float = 0.0
    fresh: float = 0.0
    alpha_both: float | None = None      # α and β of a round where messages cross
    beta_both: float | None = None

    @property
    def network(self) -> Network:
        return Network(alpha=self.alpha, bandwidth=1.0 / self.beta, gamma=self.gamma)

    def __str__(self) -> str:
        return (f"α ≈ {self.alpha * 1e3:.2f} ms per message, "
                f"1/β ≈ {1e-6 / self.beta:.0f} MB/s, "
                f"client overhead ≈ {self.overhead * 1e3:.1f} ms per call")



#: Sizes in bytes for the direct ping-pong: latency-bound to bandwidth-bound.
DIRECT_PING_SIZES = (8, 256 * 1024, 4 * 1024 * 1024, 32 * 1024 * 1024)


def _bounce_plan(hops: int):
    """A plan that is not an all-reduce: node 0 sends its vector to node 1, which sends it
    back, ``hops`` messages in all, each replacing the receiver's copy."""
    rounds = tuple(Round((Transfer(k % 2, 1 - k % 2, (0, 1), "copy"),), "hop")
                   for k in range(hops))
    return Plan("ping_pong", 2, 1, rounds, divide_by=None)


def _exchange_plan(rounds: int):
    """A plan that is not an all-reduce: in every round nodes 0 and 1 send each other
    their whole vector at once, each replacing the receiver's copy."""
    both = (Transfer(0, 1, (0, 1), "copy"), Transfer(1, 0, (0, 1), "copy"))
    return Plan("exchange", 2, 1, tuple(Round(both, "exchange") for _ in range(rounds)),
                divide_by=None)


def _fit(samples: pd.DataFrame, column: str) -> tuple[float, float]:
    """α: the smallest size's time; β: least squares of the rest on the bytes, through α
    (a free intercept lets the noise of the big sizes swing α, or even β's sign)."""
    alpha = float(samples[column].iloc[0])
    s_bytes = samples["bytes"].to_numpy(float)
    beta = float(np.sum(s_bytes * (samples[column] - alpha)) / np.sum(s_bytes ** 2))
    if beta <= 0:
        beta = float(samples[column].iloc[-1] / s_bytes[-1])
    return alpha, beta


def ping_pong_direct(client, sizes=DIRECT_PING_SIZES, hops: int = 10,
                     repeats: int = 7) -> Calibration:
    """α and β of the direct engine: at each size, ``repeats`` pairs of chains of 2 and of
    ``hops`` messages between two workers (fewer hops above 4 MiB), timed on the workers.
    A pair's difference over the extra hops is the seconds of one message, whatever the
    call costs besides; its median per size is fitted as ``t = α + s·β`` (α from the
    smallest size, β by least squares through it); the same with chains of exchanges (two
    messages crossing) gives ``alpha_both`` and ``beta_both``, and their intercept at the
    smallest size, ``fixed``: a call's time on the workers beyond its rounds.
    ``overhead`` is the client's cost around a call (:func:`_call_overhead`); ``gamma``
    and ``fresh`` are timed on a worker (:func:`_local_seconds_per_byte`).

    ``sizes``: at least two byte counts in [1, :data:`MAX_BYTES`]; ``hops`` an int in
    [3, :data:`MAX_HOPS`]; ``repeats`` in [1, :data:`MAX_REPEATS`]. Raises ``TypeError`` /
    ``ValueError`` naming a bad argument (a closed ``client`` included) and
    ``RuntimeError`` with fewer than 2 workers."""
    check_client(client)
    hops = checks.count("hops", hops, minimum=3, maximum=MAX_HOPS)
    repeats = checks.count("repeats", repeats, minimum=1, maximum=MAX_REPEATS)
    sizes = sorted(_check_sizes(sizes, 2))
    a, b = _two_workers(client)
    rows = []
    for size in sizes:
        n = max(1, size // 8)
        many = hops if size <= 4 * 2**20 else 6
        placed = [submit_on(client, make_array, n * 8, worker=w, strict=True)
                  for w in (a, b)]
        wait(placed)
        inputs = Inputs(tuple(placed), (n,), np.dtype(float), (a, b), futures=True)

        def chain(plan):
            return DirectFast(client).run(plan, inputs, Network()).worker_time

        row = {"bytes": n * 8}
        for column, make in (("seconds_per_hop", _bounce_plan),
                             ("seconds_per_exchange", _exchange_plan)):
            chain(make(many))                                 # warm the connections
            per_round, short = [], []
            # the smallest size sets the intercept below, a difference of two noisy
            # times: three times the samples there (its chains take milliseconds)
            for _ in range(repeats * (3 if size == sizes[0] else 1)):
                few, lots = chain(make(2)), chain(make(many))
                per_round.append(max((lots - few) / (many - 2), 1e-9))
                short.append(few)
            row[column] = float(np.median(per_round))
        if size == sizes[0]:
            # what a call costs on the workers beyond its rounds (the intercept): reading
            # the inputs, setting up, storing the results, and the workers starting apart
            # (the client's messages reach them one after the other), which a node
            # waiting for its peer's first message pays. Medians of each part, not of
            # per-sample differences, whose noise clipped it to 0 in one bench run.
            setup = max(float(np.median(short)) - 2 * row[column], 0.0)
        rows.append(row)
        del placed
    samples = pd.DataFrame(rows)
    alpha, beta = _fit(samples, "seconds_per_hop")
    alpha_both, beta_both = _fit(samples, "seconds_per_exchange")
    gamma, fresh = client.run(_local_seconds_per_byte, max(sizes), workers=[a])[a]
    return Calibration(alpha, beta, _call_overhead(client, [a, b]), samples, gamma=gamma,
                       fixed=setup, fresh=fresh, alpha_both=alpha_both, beta_both=beta_both)


def _local_seconds_per_byte(n_bytes: int = 16 * 2**20, repeats: int = 5) -> tuple:
    """Runs on a worker: (γ, fresh), seconds per byte of ``out = a + b`` (as a node reduces
    a message into its result), and the extra seconds per byte when ``out`` is freshly
    allocated (as every call's result is: the page faults of touching it first). Best of
    ``repeats``, at least 1 MiB."""
    n = max(n_bytes, 2**20) // 8
    a, b, out = np.ones(n), np.ones(n), np.zeros(n)

    def best(make_out):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            np.add(a, b, out=make_out())
            times.append(time.perf_counter() - start)
        return min(times)
    warm = best(lambda: out)
    cold = best(lambda: np.empty(n))
    return warm / (8 * n), max(cold - warm, 0.0) / (8 * n)


def _call_overhead(client, workers, repeats: int = 15) -> float:
    """Seconds a direct-engine ``allreduce`` call costs beyond its time on the workers:
    the client's checks, its messages to the workers and back, registering the results."""
    tiny = [submit_on(client, make_array, 8, worker=w, strict=True) for w in workers]
    wait(tiny)
    extra = []
    for k in range(repeats + 1):
        start = time.perf_counter()
        result = allreduce(tiny, "recursive_doubling", client, workers=list(workers))
        if k:                                                  # the first one warms up
            extra.append(time.perf_counter() - start - result.worker_time)
        del result
    return float(np.median(extra))


def round_seconds(plan, n: int, itemsize: int, calibration: Calibration) -> np.ndarray:
    """Each round's α-β time on the calibrated cluster: α per message and β per byte of
    the busiest node (Hockney), with the one-way α and β for a round in which no node both
    sends and receives, the crossing ones (``alpha_both``, ``beta_both``) otherwise.

    ``n`` elements per node (an int ≥ 1), ``itemsize`` bytes each (1 to 16). Raises
    ``TypeError`` / ``ValueError`` naming a bad argument."""
    n, itemsize = _check_model(plan, n, calibration, itemsize)
    if plan.n_rounds == 0:
        return np.zeros(0)
    m_out, m_in, b_out, b_in, _ = round_bytes(plan, n, itemsize)
    crossing = ((m_out > 0) & (m_in > 0)).any(axis=1)
    alpha = np.where(crossing, calibration.alpha_both or calibration.alpha,
                     calibration.alpha)
    beta = np.where(crossing, calibration.beta_both or calibration.beta, calibration.beta)
    messages = np.maximum(m_out, m_in).max(axis=1)
    busiest = np.maximum(b_out, b_in).max(axis=1)
    return messages * alpha + busiest * beta


def predict_direct(plan, n: int, calibration: Calibration, itemsize: int = 8) -> dict:
    """The direct engine's predicted seconds on the workers (``predicted_s``): the
    calibrated fixed cost of a call and of a fresh result, the α-β time of the plan's
    rounds (:func:`round_seconds`), and γ per byte of arithmetic: what the busiest node
    reduces (the α-β-γ model of Thakur et al. 2005) and the division by N, one pass over
    the vector. ``predicted_call_s`` adds the client's overhead per call and the check of
    the inputs (finite?), one more pass on every node at once. Arguments and errors as
    :func:`round_seconds`."""
    n, itemsize = _check_model(plan, n, calibration, itemsize)
    if plan.n_rounds:
        _, _, _, _, reduced = round_bytes(plan, n, itemsize)
        busiest = float(reduced.sum(axis=0).max())
    else:
        busiest = 0.0
    vector = n * itemsize
    divide = vector if plan.divide_by is not None and plan.n_rounds else 0
    on_workers = (calibration.fixed + calibration.fresh * vector
                  + calibration.gamma * (busiest + divide)
                  + float(round_seconds(plan, n, itemsize, calibration).sum()))
    return {"predicted_s": on_workers,
            "predicted_call_s": on_workers + calibration.overhead + calibration.gamma * vector}


def measure_direct(client, calibration: Calibration, algorithms=EXACT_ALGORITHMS,
                   sizes=(8 * 1024, 1024 * 1024), repeats: int = 9) -> pd.DataFrame:
    """The direct engine, predicted (:func:`predict_direct`) against measured, one row per
    algorithm and size (bytes per node), one node per worker, medians of ``repeats`` runs:
    ``call_s``, ``allreduce(...)`` from the client until the results are futures;
    ``on_workers_s``, the slowest node inside that call; ``ranks_s``, the same plan called
    by the ranks themselves (:mod:`~distlab.engines.spmd`, no client in the way).

    ``algorithms``: names from :data:`~distlab.engines.algorithms.EXACT_ALGORITHMS` (or
    any of ``ALGORITHMS``); ``sizes`` byte counts in [1, :data:`MAX_BYTES`]; ``repeats``
    in [1, :data:`MAX_REPEATS`]. Raises ``TypeError`` / ``ValueError`` naming a bad
    argument (a closed ``client`` included)."""
    algorithms, sizes, repeats = _check_measure(client, calibration, algorithms, sizes,
                                                repeats)
    workers = worker_addresses(client)
    p = len(workers)
    rows = []
    for size in sizes:
        n = max(1, int(size) // 8)
        placed = [submit_on(client, make_array, n * 8, worker=w, strict=True)
                  for w in workers]
        wait(placed)
        for algorithm in algorithms:
            calls, on_workers = [], []
            for k in range(repeats + 1):
                start = time.perf_counter()
                result = allreduce(placed, algorithm, client, workers=workers)
                if k:                                          # the first one warms up
                    calls.append(time.perf_counter() - start)
                    on_workers.append(result.worker_time)
                del result
            per_rank = run_ranks(client, time_allreduce, n * 8, algorithm, repeats)
            plan = make_plan(algorithm, p)
            model = predict_direct(plan, n, calibration)
            rows.append({"algorithm": algorithm, "nodes": p, "bytes": n * 8,
                         "rounds": plan.n_rounds, **model,
                         "call_s": float(np.median(calls)),
                         "on_workers_s": float(np.median(on_workers)),
                         "ranks_s": float(np.median(np.max(per_rank, axis=0)))})
        del placed
    table = pd.DataFrame(rows)
    table["measured/predicted"] = table.on_workers_s / table.predicted_s
    return table
