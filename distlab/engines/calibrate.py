"""α and β of the live cluster by ping-pong, and the α-β model's predictions against
measured all-reduce times.

Ping-pong: an array is made on worker A; a chain of tasks alternately pinned to B and A
passes it back and forth, so every hop is one task that fetches the array from the other
process. The time per hop, fitted against the size s as ``t = α + s·β``, gives the
cluster's latency per message (which on Dask is mostly scheduling one dependent task:
"about 1 ms of overhead per task", distributed docs; [local] 2–10 ms on a busy 2-core box)
and its time per byte (loopback TCP and pickling, [local] 0.3–0.7 GB/s; see
reference/performance-models.md §2).

The Dask engine then runs each algorithm on arrays already placed on the workers, and the
wall time is set against two predictions from the same plan: the plain α-β model, and a
"tasks" model that pays α per dependent task on the critical path of the engine's graph
(a chunked message costs two: one to cut the chunk on the sender, one to apply it on the
receiver) plus the client's fixed overhead per call.

The direct engine (:mod:`~distlab.engines.direct_fast`) has no tasks on its path, so
its α and β are those of one worker-to-worker message: :func:`ping_pong_direct` runs a
plan that bounces a vector between two workers on that engine, and
:func:`predict_direct` is then the plain α-β model of the plan (rounds of α + bytes·β),
the model of Thakur et al. that MPI libraries are tuned with.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from distlab.engines.allreduce import EXACT_ALGORITHMS, allreduce, check_algorithm, make_plan
from distlab.concepts.cost import Network, round_bytes

#: Sizes in bytes for the ping-pong: latency-bound to bandwidth-bound.
PING_SIZES = (8, 1024 * 1024, 4 * 1024 * 1024, 16 * 1024 * 1024)


def make_array(n_bytes: int) -> np.ndarray:
    """Runs on a worker: a float64 array of about ``n_bytes`` (at least one element)."""
    return np.ones(max(1, n_bytes // 8))


def bounce(x):
    """Runs on a worker: hand the array on; the next hop's task fetches it from here."""
    return x


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
    it sends: reading the inputs, setting up, storing the results)."""
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


def _two_workers(client) -> tuple[str, str]:
    workers = sorted(client.nthreads())          # not scheduler_info(): see api
    if len(workers) < 2:
        raise ValueError(f"a ping-pong needs at least 2 workers, the cluster has "
                         f"{len(workers)}")
    return workers[0], workers[1]


def _chain(client, x, hops: int, a: str, b: str) -> float:
    from distlab.engines.tasks import wait_pinned

    start = time.perf_counter()
    y = x
    for h in range(hops):
        y = client.submit(bounce, y, workers=[b if h % 2 == 0 else a],
                          allow_other_workers=False, pure=False)
    wait_pinned(client, [y], [a, b])
    return time.perf_counter() - start


def ping_pong(client, sizes=PING_SIZES, hops: int = 8, repeats: int = 3) -> Calibration:
    """Time chains of 1 and ``hops`` hops at each size: the difference gives seconds per
    hop (fitted as ``t = α + s·β``, least squares on medians of ``repeats``), the rest is
    the client's fixed overhead per call. About a second on 2 idle cores."""
    from distributed import wait

    if isinstance(hops, bool) or not isinstance(hops, int) or hops < 2:
        raise ValueError(f"hops must be an int of at least 2, got {hops!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive int, got {repeats!r}")
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError("sizes must hold at least two positive byte counts")
    a, b = _two_workers(client)
    rows, overheads = [], []
    for size in sizes:
        x = client.submit(make_array, size, workers=[a], allow_other_workers=False,
                          pure=False)
        wait([x])
        one = float(np.median([_chain(client, x, 1, a, b) for _ in range(repeats)]))
        many = float(np.median([_chain(client, x, hops, a, b) for _ in range(repeats)]))
        per_hop = max((many - one) / (hops - 1), 1e-9)
        overheads.append(max(one - per_hop, 0.0))
        rows.append({"bytes": max(8, size // 8 * 8), "seconds_per_hop": per_hop})
        del x
    samples = pd.DataFrame(rows)
    beta, alpha = np.polyfit(samples["bytes"], samples["seconds_per_hop"], 1)
    if alpha <= 0:                   # noise: fall back to the smallest message's hop time
        alpha = float(samples["seconds_per_hop"].iloc[0])
    if beta <= 0:
        beta = 1e-12
    return Calibration(float(alpha), float(beta), float(np.median(overheads)), samples)


def predict(plan, n: int, calibration: Calibration, itemsize: int = 8) -> dict:
    """Two predictions for the Dask engine: the plain α-β model of the plan, and the
    "tasks" model: the client's overhead, α per dependent task on the critical path of
    the engine's graph, and β per byte of each round's busiest node."""
    from distlab.concepts.cost import plan_time
    from distlab.engines.tasks import critical_path

    network = calibration.network
    alpha_beta = plan_time(plan, n, itemsize, network)
    if plan.n_rounds == 0:
        return {"predicted_s": 0.0, "predicted_tasks_s": calibration.overhead}
    _, _, b_out, b_in, _ = round_bytes(plan, n, itemsize)
    busiest = np.maximum(b_out, b_in).max(axis=1).sum()
    tasks = calibration.overhead + critical_path(plan).sum() * network.alpha \
        + busiest * network.beta
    return {"predicted_s": alpha_beta, "predicted_tasks_s": float(tasks)}


def measure(client, calibration: Calibration, algorithms=EXACT_ALGORITHMS,
            sizes=(8 * 1024, 1024 * 1024, 8 * 1024 * 1024), repeats: int = 3,
            n_nodes: int | None = None, dask_engine: str = "tasks") -> pd.DataFrame:
    """Predicted against measured: one row per algorithm and message size (bytes per
    node), on ``n_nodes`` nodes (default: one per worker). Measured is the median wall
    time of ``repeats`` runs of the task engine (``dask_engine="tasks"``, which the "tasks"
    model describes) on arrays already on the workers."""
    from distributed import wait

    algorithms = [check_algorithm(a) for a in algorithms]
    workers = sorted(client.nthreads())
    p = n_nodes or len(workers)
    if p > len(workers):
        raise ValueError(f"n_nodes={p} but the cluster has only {len(workers)} workers")
    rows = []
    for size in sizes:
        n = max(1, int(size) // 8)
        placed = [client.submit(make_array, n * 8, workers=[w], allow_other_workers=False,
                                pure=False) for w in workers[:p]]
        wait(placed)
        for algorithm in algorithms:
            times = [allreduce(placed, algorithm, client, workers=workers[:p],
                               dask_engine=dask_engine).wall_time
                     for _ in range(repeats)]
            plan = make_plan(algorithm, p)
            row = {"algorithm": algorithm, "nodes": p, "bytes": n * 8,
                   "rounds": plan.n_rounds, **predict(plan, n, calibration),
                   "measured_s": float(np.median(times))}
            row["measured/predicted (tasks)"] = row["measured_s"] / row["predicted_tasks_s"]
            rows.append(row)
        del placed
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# the direct engine: α and β of one worker-to-worker message
# --------------------------------------------------------------------------------------

#: Sizes in bytes for the direct ping-pong: latency-bound to bandwidth-bound.
DIRECT_PING_SIZES = (8, 256 * 1024, 4 * 1024 * 1024, 32 * 1024 * 1024)


def bounce_plan(hops: int):
    """A plan that is not an all-reduce: node 0 sends its vector to node 1, which sends it
    back, ``hops`` messages in all, each replacing the receiver's copy."""
    from distlab.concepts.plans import Plan, Round, Transfer
    rounds = tuple(Round((Transfer(k % 2, 1 - k % 2, (0, 1), "copy"),), "hop")
                   for k in range(hops))
    return Plan("ping_pong", 2, 1, rounds, divide_by=None)


def exchange_plan(rounds: int):
    """A plan that is not an all-reduce: in every round nodes 0 and 1 send each other
    their whole vector at once, each replacing the receiver's copy."""
    from distlab.concepts.plans import Plan, Round, Transfer
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
    ``overhead`` is the client's cost around a call (:func:`call_overhead`); ``gamma``
    and ``fresh`` are timed on a worker (:func:`local_seconds_per_byte`)."""
    from distributed import wait

    from distlab.engines import direct_fast

    if isinstance(hops, bool) or not isinstance(hops, int) or hops < 3:
        raise ValueError(f"hops must be an int of at least 3, got {hops!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive int, got {repeats!r}")
    sizes = sorted(int(s) for s in sizes)
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError("sizes must hold at least two positive byte counts")
    a, b = _two_workers(client)
    rows = []
    for size in sizes:
        n = max(1, size // 8)
        many = hops if size <= 4 * 2**20 else 6
        placed = [client.submit(make_array, n * 8, workers=[w], allow_other_workers=False,
                                pure=False) for w in (a, b)]
        wait(placed)
        sources = [("key", f.key) for f in placed]

        def chain(plan):
            futures, _, seconds = direct_fast.run(client, plan, sources, [a, b], "<f8",
                                                    (n,), verify=False)
            del futures
            return float(seconds.max())

        row = {"bytes": n * 8}
        for column, make in (("seconds_per_hop", bounce_plan),
                             ("seconds_per_exchange", exchange_plan)):
            chain(make(many))                                 # warm the connections
            per_round, beyond = [], []
            for _ in range(repeats):
                few, lots = chain(make(2)), chain(make(many))
                per_round.append(max((lots - few) / (many - 2), 1e-9))
                beyond.append(few - 2 * per_round[-1])
            row[column] = float(np.median(per_round))
        if size == sizes[0]:
            # what a call costs on the workers beyond its rounds (the intercept): reading
            # the inputs, setting up, storing the results, and the workers starting apart
            # (the client's messages reach them one after the other), which a node
            # waiting for its peer's first message pays
            setup = max(float(np.median(beyond)), 0.0)
        rows.append(row)
        del placed
    samples = pd.DataFrame(rows)
    alpha, beta = _fit(samples, "seconds_per_hop")
    alpha_both, beta_both = _fit(samples, "seconds_per_exchange")
    gamma, fresh = client.run(local_seconds_per_byte, max(sizes), workers=[a])[a]
    return Calibration(alpha, beta, call_overhead(client, [a, b]), samples, gamma=gamma,
                       fixed=setup, fresh=fresh, alpha_both=alpha_both, beta_both=beta_both)


def local_seconds_per_byte(n_bytes: int = 16 * 2**20, repeats: int = 5) -> tuple:
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


def call_overhead(client, workers, repeats: int = 15) -> float:
    """Seconds a direct-engine ``allreduce`` call costs beyond its time on the workers:
    the client's checks, its messages to the workers and back, registering the results."""
    from distributed import wait

    tiny = [client.submit(make_array, 8, workers=[w], allow_other_workers=False, pure=False)
            for w in workers]
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
    sends and receives, the crossing ones (``alpha_both``, ``beta_both``) otherwise."""
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
    the inputs (finite?), one more pass on every node at once."""
    from distlab.concepts.cost import round_bytes as _round_bytes
    if plan.n_rounds:
        _, _, _, _, reduced = _round_bytes(plan, n, itemsize)
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
    by the ranks themselves (:mod:`~distlab.engines.spmd`, no client in the way)."""
    from distributed import wait

    from distlab.engines.spmd import run_ranks, time_allreduce

    algorithms = [check_algorithm(a) for a in algorithms]
    workers = sorted(client.nthreads())
    p = len(workers)
    rows = []
    for size in sizes:
        n = max(1, int(size) // 8)
        placed = [client.submit(make_array, n * 8, workers=[w], allow_other_workers=False,
                                pure=False) for w in workers]
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
