"""What strong and eventual consistency cost: tables from many seeded runs of the store.

- :func:`tradeoff`: each setting under the chapter's faults, means over seeds, and on how
  many seeds the history was linearizable, had a stale read, converged (chapter 02).
- :func:`price_of_consistency`: no faults, growing network delay and replica count: the
  strong setting pays in latency (two round trips per operation), the eventual one in
  stale reads (chapter 08, 数据同步的一致性).
- :func:`replicated_store_availability`: a replica down for a while, with one replica
  and with three (chapter 09, high availability).

Every number comes from the simulator: exact and reproducible from the seeds.
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from distlab.apps.stores.config import (EVENTUAL, STRONG, Fault, StoreConfig, Workload,
                                        with_changes)
from distlab.apps.stores.runs import _mean_or_nan, run
from distlab.checks import count, positive, sequence
from distlab.concepts.events import Latency

__all__ = ["tradeoff", "price_of_consistency", "replicated_store_availability"]


def _seeds(seeds) -> list:
    seeds = [count(f"seeds[{i}]", s) for i, s in enumerate(sequence("seeds", seeds))]
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    return seeds


def tradeoff(configs: dict | None = None, seeds: Iterable[int] = range(20), *,
             workload: Workload = Workload()):
    """The trade-off table: each configuration run on every seed under its standard
    faults; means over the seeds, and on how many seeds the history was linearizable,
    had a stale read, and converged. Returns a pandas DataFrame, one row per setting.
    ``configs`` a dict {label: StoreConfig} (default: strong and eventual), ``seeds`` a
    non-empty list of ints ≥ 0, ``workload`` a :class:`Workload`; ``TypeError``/
    ``ValueError`` naming the argument otherwise."""
    import pandas as pd

    if configs is None:
        configs = {"strong": STRONG, "eventual": EVENTUAL}
    if not isinstance(configs, dict) or not all(isinstance(c, StoreConfig)
                                                for c in configs.values()):
        raise TypeError(f"configs must be a dict {{label: StoreConfig}}, got {configs!r}")
    if not configs:
        raise ValueError("configs must name at least one StoreConfig")
    if not isinstance(workload, Workload):
        raise TypeError(f"workload must be a Workload, got {type(workload).__name__}")
    seeds = _seeds(seeds)
    rows = []
    for name, config in configs.items():
        runs = [run(config, seed=s, workload=workload) for s in seeds]
        row = {"setting": name, "N/R/W": f"{config.n}/{config.r}/{config.w}",
               "replication": config.replication}
        for key in ("write latency (ms)", "read latency (ms)", "stale reads (%)",
                    "timed out (%)", "convergence (ms)"):
            row[key] = round(_mean_or_nan(r.metrics[key] for r in runs), 1)
        n = len(runs)
        row["linearizable"] = f"{sum(r.linearizable for r in runs)}/{n}"
        row["had a stale read"] = f"{sum(r.metrics['stale reads (%)'] > 0 for r in runs)}/{n}"
        row["converged"] = \
            f"{sum(math.isfinite(r.metrics['convergence (ms)']) for r in runs)}/{n}"
        rows.append(row)
    return pd.DataFrame(rows).set_index("setting")


def _run_mean(config: StoreConfig, seeds: list, workload: Workload) -> dict:
    runs = [run(config, seed=s, workload=workload, faults=()) for s in seeds]
    keys = ("write latency (ms)", "read latency (ms)", "stale reads (%)")
    means = {k: float(np.mean([r.metrics[k] for r in runs])) for k in keys}
    means["linearizable"] = sum(r.linearizable for r in runs)
    return means


def _positive_list(values, name: str, check) -> list:
    """``values`` as a list, each value passed by ``check(name, value)`` and kept as given
    (an int delay stays an int in the table)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a list, got {type(values).__name__}")
    values = list(values)
    if not values:
        raise ValueError(f"{name} must not be empty")
    for v in values:
        check(name, v)
    return values


def price_of_consistency(delays_ms=(1, 5, 20), replicas=(3,), seeds=range(5),
                         workload: Workload | None = None):
    """Strong against eventual on the simulated store, with no faults (so the price is the
    protocol's alone): one row per one-way network delay (ms, jitter up to twice that) and
    number of replicas N (majority quorums for strong, R = W = 1 for eventual).

    Columns: means over ``seeds`` of the write and read latency (ms) of each setting, the
    strong write's cost in one-way delays, the share of eventual reads that were stale,
    and on how many seeds each history was linearizable. Raises ``TypeError`` or
    ``ValueError`` naming a bad argument.
    """
    import pandas as pd

    delays = _positive_list(delays_ms, "delays_ms", positive)
    replicas = [int(n) for n in _positive_list(replicas, "replicas",
                                               lambda name, n: count(name, n, minimum=1))]
    seeds = _seeds(seeds)
    workload = Workload() if workload is None else workload
    if not isinstance(workload, Workload):
        raise TypeError(f"workload must be a Workload or None, got {type(workload).__name__}")
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


def replicated_store_availability(seed: int = 0):
    """The strong store with one replica crashed from 200 to 400 ms of a 1 s workload:
    with one replica every operation in that window fails; with three, the majority
    still answers. One row per replica count: operations, the share that timed out, and
    whether the history was linearizable. ``seed`` an int ≥ 0, else ``TypeError``/
    ``ValueError``."""
    import pandas as pd

    count("seed", seed)
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
