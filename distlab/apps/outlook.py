"""Chapter 08: the document's two challenges (8.3), made measurable with the earlier
chapters' own functions.

- **数据同步的一致性 — the price of consistency.** The replicated store of chapter 02
  (:mod:`distlab.apps.stores`, on the deterministic simulator) run in its strong setting
  (quorums with R + W > N, two round trips per operation) and its eventual setting (local
  writes and reads, background replication and anti-entropy) as the network delay and the
  number of replicas grow: what strong consistency costs in latency, and what eventual
  consistency costs in stale reads.
- **算法并行化的效率 — parallel efficiency against communication.** A data-parallel
  training step: compute that splits evenly over p nodes, then an all-reduce of the
  gradients (chapter 04's plans and α-β cost). Efficiency E(p) = T₁ / (p · T_p) for the
  star (a parameter server) and the bandwidth-optimal algorithms as p grows; and the same
  star-versus-ring comparison measured on the live cluster, where the cost of one message
  between worker processes on the direct engine (a fraction of a millisecond) plays the
  part of α.

Everything printed from here is exact and reproducible (simulator, cost model); the live
measurement is a timing and is only shown.
"""
from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import pandas as pd

from distlab.concepts.cost import Network, plan_time
from distlab.engines.allreduce import make_plan


# --------------------------------------------------------------------------------------
# the price of consistency
# --------------------------------------------------------------------------------------

def _run_mean(config, seeds, workload):
    from distlab.apps.stores import run

    runs = [run(config, seed=s, workload=workload, faults=()) for s in seeds]
    keys = ("write latency (ms)", "read latency (ms)", "stale reads (%)")
    means = {k: float(np.mean([r.metrics[k] for r in runs])) for k in keys}
    means["linearizable"] = sum(r.linearizable for r in runs)
    return means


def price_of_consistency(delays_ms=(1, 5, 20), replicas=(3,), seeds=range(5),
                         workload=None) -> pd.DataFrame:
    """Strong against eventual on the simulated store, with no faults (so the price is the
    protocol's alone): one row per one-way network delay (ms, jitter up to twice that) and
    number of replicas N (majority quorums for strong, R = W = 1 for eventual). Means over
    ``seeds`` of the write and read latency (ms) of each setting, the strong write's cost
    in one-way delays, the share of eventual reads that were stale, and on how many seeds
    each history was linearizable."""
    from distlab.apps.stores import EVENTUAL, STRONG, Workload, with_changes
    from distlab.concepts.events import Latency

    delays = _positive_list(delays_ms, "delays_ms", Real)
    replicas = _positive_list(replicas, "replicas", Integral)
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    workload = Workload() if workload is None else workload
    rows = []
    for n in replicas:
        majority = n // 2 + 1
        for delay in delays:
            seconds = delay / 1000
            net = dict(latency=Latency(base=seconds, jitter=2 * seconds),
                       timeout=max(0.3, 40 * seconds))
            strong = _run_mean(with_changes(STRONG, n=n, r=majority, w=majority, **net),
                               seeds, workload)
            eventual = _run_mean(with_changes(EVENTUAL, n=n, **net), seeds, workload)
            rows.append({
                "N": n, "one-way delay (ms)": delay,
                "strong write (ms)": round(strong["write latency (ms)"], 1),
                "strong read (ms)": round(strong["read latency (ms)"], 1),
                "eventual write (ms)": round(eventual["write latency (ms)"], 1),
                "eventual read (ms)": round(eventual["read latency (ms)"], 1),
                "strong write ÷ mean delay": round(strong["write latency (ms)"]
                                                   / (2 * delay), 1),
                "eventual stale reads (%)": round(eventual["stale reads (%)"], 1),
                "linearizable: strong": f"{strong['linearizable']}/{len(seeds)}",
                "linearizable: eventual": f"{eventual['linearizable']}/{len(seeds)}",
            })
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# parallel efficiency against communication
# --------------------------------------------------------------------------------------

def efficiency(nodes=(1, 2, 4, 8, 16, 32, 64), algorithms=("star", "tree", "ring",
               "rabenseifner"), *, gradient_bytes: float = 400e6, compute_s: float = 10.0,
               network: Network = Network(alpha=5e-6, bandwidth=12.5e9)) -> pd.DataFrame:
    """One training step on p nodes: ``compute_s`` of compute split evenly, then an
    all-reduce of ``gradient_bytes`` (default: a 100-million-parameter model in fp32) over
    ``network`` (default: 5 µs, 100 Gb/s), costed from the algorithm's plan (chapter 04).
    Returns, per p and algorithm, the all-reduce seconds, the step seconds T_p, the
    speed-up T₁ / T_p and the efficiency T₁ / (p · T_p)."""
    nodes = _positive_list(nodes, "nodes", Integral)
    if isinstance(algorithms, str) or not algorithms:
        raise TypeError("algorithms must be a non-empty list of all-reduce names")
    for name, value in (("gradient_bytes", gradient_bytes), ("compute_s", compute_s)):
        if isinstance(value, bool) or not isinstance(value, Real) or not value > 0 \
                or not math.isfinite(value):
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not isinstance(network, Network):
        raise TypeError(f"network must be a distlab.collectives.Network, "
                        f"got {type(network).__name__}")
    n = max(1, int(gradient_bytes) // 8)
    rows = []
    for algorithm in algorithms:
        for p in nodes:
            comm = plan_time(make_plan(algorithm, p), n, 8, network) if p > 1 else 0.0
            step = compute_s / p + comm
            rows.append({"algorithm": algorithm, "nodes": p, "all-reduce (s)": comm,
                         "step (s)": step, "speed-up": compute_s / step,
                         "efficiency": compute_s / (p * step)})
    return pd.DataFrame(rows)


def plot_efficiency(frame: pd.DataFrame):
    """Efficiency against nodes, one line per algorithm. Returns a small figure."""
    import matplotlib.pyplot as plt

    if not isinstance(frame, pd.DataFrame) or not {"algorithm", "nodes",
                                                   "efficiency"} <= set(frame.columns):
        raise TypeError("frame must be what outlook.efficiency() returned")
    fig, ax = plt.subplots(figsize=(5.5, 3.2), dpi=72)
    styles = [("o", "-"), ("s", "-"), ("^", "--"), ("x", ":")]   # ring and Rabenseifner overlap
    for k, (algorithm, group) in enumerate(frame.groupby("algorithm", sort=False)):
        marker, line = styles[k % len(styles)]
        ax.plot(group["nodes"], group["efficiency"], marker=marker, linestyle=line,
                label=algorithm)
    ax.set_xscale("log", base=2)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("nodes p")
    ax.set_ylabel("parallel efficiency T₁ / (p·T_p)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def live_star_vs_ring(client, nodes=(2, 4, 8), n_bytes: int = 1 << 20,
                      algorithms=("star", "ring"), repeats: int = 1) -> pd.DataFrame:
    """The same comparison on the cluster: p logical nodes (round-robin on the workers,
    arrays already in place), median wall seconds of ``repeats`` runs of distlab's
    all-reduce per algorithm (after one warm-up star), beside the rounds and the busiest
    node's bytes from the plan."""
    from distributed import wait

    from distlab.engines.allreduce import allreduce
    from distlab.concepts.cost import bytes_per_node
    from distlab.engines.calibrate import make_array

    nodes = _positive_list(nodes, "nodes", Integral)
    workers = sorted(client.nthreads())       # asks the scheduler, unlike scheduler_info()
    rows = []
    for p in nodes:
        homes = [workers[i % len(workers)] for i in range(p)]
        placed = [client.submit(make_array, int(n_bytes), workers=[w],
                                allow_other_workers=False, pure=False) for w in homes]
        wait(placed)
        allreduce(placed, "star", client, workers=homes)                   # warm-up
        for algorithm in algorithms:
            times = [allreduce(placed, algorithm, client, workers=homes).wall_time
                     for _ in range(repeats)]
            plan = make_plan(algorithm, p)
            sent, _ = bytes_per_node(plan, max(1, n_bytes // 8))
            rows.append({"nodes": p, "algorithm": algorithm, "rounds": plan.n_rounds,
                         "busiest node sends (MiB)": round(float(sent.max()) / 2**20, 2),
                         "measured (ms)": float(np.median(times)) * 1e3})
        del placed
    return pd.DataFrame(rows)


def _positive_list(values, name, kind) -> list:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a list of positive numbers, "
                        f"got {type(values).__name__}")
    values = list(values)
    if not values:
        raise ValueError(f"{name} must not be empty")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, kind) or not v > 0:
            raise ValueError(f"{name} must hold positive "
                             f"{'ints' if kind is Integral else 'numbers'}, got {v!r}")
    return values
