"""Chapter 09: the document's four questions (9.1–9.4) answered with runs, each built from
the package's own functions.

- 9.1 *What are the advantages?* High availability, scalability, fault tolerance:
  :func:`replicated_store_availability` (the chapter 02 store with a replica down, with
  and without replication), :func:`survive_worker_loss` (a worker killed under a
  map-reduce; Dask recomputes what it lost), :func:`speed_up` (the same tasks on one
  worker and on all of them).
- 9.2 *Which sync strategies?* Strong and eventual: :func:`averaging_sync` (an exact
  all-reduce against gossip on the averaging formula), with chapter 02's trade-off table.
- 9.3 *How is parallelisation done?* Task partitioning and load balancing:
  :func:`partitioned_sum` (chapter 05's corrected code) and :func:`balance` (skewed tasks
  placed round-robin, longest-first, or left to Dask's scheduler, with chapter 02's
  :mod:`distlab.concepts.partitioning`).
- 9.4 *Where is it used?* :func:`fields`: one line per field, each from a chapter's run.

Exact results come from the simulator and from seeded data; wall times are only shown.
"""
from __future__ import annotations

import math
import time
from numbers import Integral, Real

import numpy as np
import pandas as pd

from distlab.concepts.darts import darts_in_circle, estimate_pi


# --------------------------------------------------------------------------------------
# 9.1 high availability, fault tolerance, scalability
# --------------------------------------------------------------------------------------

def replicated_store_availability(seed: int = 0) -> pd.DataFrame:
    """The chapter 02 store (strong setting) with one replica crashed from 200 to 400 ms of
    a 1 s workload: with one replica every operation in that window fails; with three,
    the majority still answers. Exact (simulator)."""
    from distlab.apps.stores import Fault, StoreConfig, run

    rows = []
    for n in (1, 3):
        config = StoreConfig(n=n, r=n // 2 + 1, w=n // 2 + 1, replication="sync")
        down = n - 1
        outcome = run(config, seed=seed, faults=(Fault(0.2, "crash", down),
                                                 Fault(0.4, "recover", down)))
        rows.append({"replicas": n, "crashed": f"replica {down}, 200–400 ms",
                     "operations": outcome.metrics["operations"],
                     "timed out (%)": round(outcome.metrics["timed out (%)"], 1),
                     "linearizable": outcome.linearizable})
    return pd.DataFrame(rows).set_index("replicas")


def survive_worker_loss(client, tasks: int = 16, darts: int = 500_000, *,
                        progress: bool = False) -> dict:
    """A map-reduce (π by darts, chapter 00) with a worker killed after the map finished
    and before the results are gathered: the results it held are lost, and Dask
    recomputes them from the task graph on a live worker. Returns the estimate, whether it
    equals the fault-free run (computed here, in one process), and how many workers there
    are afterwards (a nanny restarts the killed one)."""
    from distributed import wait

    from distlab.apps.training import kill_worker, live_workers, wait_for_workers

    tasks = _positive_int(tasks, "tasks")
    darts = _positive_int(darts, "darts")
    before = len(live_workers(client))
    if before < 2:
        raise ValueError("survive_worker_loss needs at least 2 workers: one to lose")
    futures = client.map(darts_in_circle, range(tasks), darts=darts, pure=False)
    if progress:
        from distlab.engines.progress import progress as bar
        bar(futures)
    wait(futures)
    holders = client.who_has(futures)
    victim = sorted(holders[futures[0].key])[0]
    lost = sum(1 for f in futures if set(holders.get(f.key, ())) == {victim})
    kill_worker(client, victim)
    counts = client.gather(futures)                  # lost results are recomputed
    expected = [darts_in_circle(i, darts) for i in range(tasks)]
    wait_for_workers(client, before)
    return {"pi": estimate_pi(counts, darts), "identical to the fault-free run":
            counts == expected, "results lost with the worker": lost,
            "workers afterwards": len(live_workers(client))}


def speed_up(client, tasks: int = 8, darts: int = 8_000_000) -> dict:
    """The same seeded tasks on one worker, then spread over all workers: wall times and
    speed-up (a timing: shown, never asserted), and whether both gave the same counts."""
    from distributed import wait

    from distlab.apps.training import live_workers

    tasks = _positive_int(tasks, "tasks")
    darts = _positive_int(darts, "darts")
    workers = live_workers(client)
    out = {}
    for label, placement in (("1 worker", [workers[0]]), (f"{len(workers)} workers", None)):
        begin = time.perf_counter()
        pin = {} if placement is None else {"workers": placement,
                                             "allow_other_workers": False}
        futures = [client.submit(darts_in_circle, i, darts, pure=False, **pin)
                   for i in range(tasks)]
        wait(futures)
        out[label] = (time.perf_counter() - begin, client.gather(futures))
    (t1, c1), (tn, cn) = out.values()
    return {"workers": len(workers), "one worker (s)": t1, "all workers (s)": tn,
            "speed-up": t1 / tn, "same results": c1 == cn}


# --------------------------------------------------------------------------------------
# 9.2 strong and eventual: the averaging view
# --------------------------------------------------------------------------------------

def averaging_sync(n_nodes: int = 8, tolerance: float = 1e-6, seed: int = 0) -> pd.DataFrame:
    """Strong versus eventual on the averaging formula itself: ``n_nodes`` nodes with
    seeded values reach the mean in one exact all-reduce (every node equal at once), or by
    gossip with neighbours until they agree to ``tolerance`` (in between, nodes disagree).
    Exact (simulator): rounds, the most one node sends, and the final disagreement."""
    from distlab.engines.allreduce import allreduce

    n_nodes = _positive_int(n_nodes, "n_nodes")
    values = list(np.random.default_rng(seed).integers(0, 100, n_nodes).astype(float))
    rows = []
    for algorithm, kind in (("recursive_doubling", "strong: exact all-reduce"),
                            ("gossip_complete", "eventual: gossip, complete graph"),
                            ("gossip_ring", "eventual: gossip, ring neighbours")):
        result = allreduce(values, algorithm, tolerance=tolerance)
        rows.append({"sync": kind, "algorithm": algorithm, "rounds": result.rounds,
                     "busiest node sends (values)": int(result.bytes_sent.max()) // 8,
                     "final disagreement": f"{result.error:.0e}" if result.error else "0"})
    return pd.DataFrame(rows).set_index("sync")


# --------------------------------------------------------------------------------------
# 9.3 task partitioning and load balancing
# --------------------------------------------------------------------------------------

def partitioned_sum(client, rows: int = 1000, columns: int = 100, seed: int = 0,
                    partitions=(1, 2, 8)) -> pd.DataFrame:
    """Chapter 05's corrected ``parallel_computation``: a seeded array cut into
    partitions, each summed on a worker, the partial sums gathered and added. The total is
    the same however it is cut."""
    from distlab.apps.listing import parallel_computation

    data = np.random.default_rng(seed).random((rows, columns))
    exact = float(data.sum())
    out = []
    for k in partitions:
        total = parallel_computation(client, data, partitions=k)
        out.append({"partitions": k, "rows per task": math.ceil(rows / k),
                    "sum": round(total, 6), "equals numpy": bool(np.isclose(total, exact,
                                                                           rtol=1e-12))})
    return pd.DataFrame(out).set_index("partitions")


def skewed_durations(tasks: int = 8, long: float = 0.2, short: float = 0.02) -> list[float]:
    """Task durations (s) where every other task is long: the case that breaks
    round-robin placement (all the long ones land on one worker of two)."""
    tasks = _positive_int(tasks, "tasks")
    for name, value in (("long", long), ("short", short)):
        if isinstance(value, bool) or not isinstance(value, Real) or not value > 0:
            raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return [float(long) if i % 2 == 0 else float(short) for i in range(tasks)]


def balance(client, durations=None) -> pd.DataFrame:
    """Skewed tasks three ways, with chapter 02's load-balancing functions
    (:mod:`distlab.concepts.partitioning`): pinned round-robin, pinned longest-first (Graham's LPT
    rule), and unpinned (Dask's scheduler hands each task to a free worker). The simulated
    makespans are exact; the measured ones are timings, only shown."""
    from distlab.concepts.partitioning import (lower_bound, run_schedule_on_cluster,
        simulate_schedule)
    from distlab.apps.training import live_workers

    durations = skewed_durations() if durations is None else list(durations)
    workers = len(live_workers(client))
    rows = []
    for strategy, name in (("round_robin", "static: round-robin"),
                           ("longest_first", "static: longest first"),
                           ("dynamic", "dynamic: Dask's scheduler")):
        plan = simulate_schedule(durations, workers, strategy)
        ran = run_schedule_on_cluster(client, durations, strategy)
        if sorted(ran["indices"]) != list(range(len(durations))):
            raise RuntimeError(f"{strategy}: not every task ran exactly once")
        rows.append({"placement": name, "simulated workers": list(plan.worker),
                     "simulated makespan (s)": round(plan.makespan, 3),
                     "lower bound (s)": round(lower_bound(durations, workers), 3),
                     "measured (s)": ran["makespan (s)"]})
    return pd.DataFrame(rows).set_index("placement")


# --------------------------------------------------------------------------------------
# 9.4 where it is used
# --------------------------------------------------------------------------------------

def fields(seed: int = 0) -> pd.DataFrame:
    """The document's fields and large models, one exact run each from the package (the
    simulator, seeded data and the cost models: no cluster needed)."""
    from distlab.apps import recsys, serving
    from distlab.concepts import sizing
    from distlab.concepts.cost import Network, closed_form
    from distlab.apps.stores import STRONG, run

    store = run(STRONG, seed=seed)
    eventual = run(STRONG.__class__(n=3, r=1, w=1, replication="async"), seed=seed)
    gpt3 = sizing.plan(175e9, 300e9)
    ring = closed_form("ring", 1024, 175e9 * 2, Network(alpha=5e-6, bandwidth=50e9))["time_s"]
    plain = serving.tail_latency(hedge_after=None, seed=seed)
    hedged = serving.tail_latency(hedge_after="p95", seed=seed)
    load = recsys.shard_load(seed=seed)
    fixed = recsys.shard_load(seed=seed, hot_items=20)
    rows = [
        ("distributed database", "02",
         f"3 replicas, quorums, a crash and a partition: linearizable = {store.linearizable}"),
        ("distributed storage", "02",
         f"asynchronous replicas converge after the faults: "
         f"{math.isfinite(eventual.metrics['convergence (ms)'])}"),
        ("distributed computing", "00 05",
         "map over workers, reduce the results: the π darts and the partitioned sum"),
        ("large-model training", "01 04 06",
         f"GPT-3 175B: {gpt3.memory_gb:,.0f} GB of training state ({gpt3.devices} A100s); "
         f"a ring all-reduce of its gradients, 1,024 nodes: {ring:.1f} s"),
        ("prediction serving", "06",
         f"p99 latency {plain['p99'] * 1e3:.0f} ms, with hedged requests "
         f"{hedged['p99'] * 1e3:.0f} ms"),
        ("recommendation", "06",
         f"hottest shard's load ÷ mean: {load.max() / load.mean():.2f}, with hot items "
         f"replicated {fixed.max() / fixed.mean():.2f}"),
    ]
    return pd.DataFrame(rows, columns=["field", "chapters", "what the run shows"]) \
        .set_index("field")


# --------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------

def _positive_int(value, name) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return int(value)


