"""The search: probe, predict every candidate, measure the few the model ranks best, keep
the fastest measured (see :mod:`distlab.apps.tuning`)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from distlab import checks
from distlab.apps.tuning.configs import Config, check_config, default_config
from distlab.apps.tuning.cost_model import ClusterModel, predict_table
from distlab.apps.tuning.job import Job, reference_gradient
from distlab.apps.tuning.measure import probe, run
from distlab.engines.workers import check_client, worker_addresses


@dataclass(frozen=True)
class Tuning:
    """What :func:`tune` found. ``table``: every candidate with ``predicted_s`` and, for
    the few it ran, ``measured_s`` (median) and ``correct``; ``model``: the probed
    cluster; ``chosen`` and ``default`` configurations; ``gain``: default's measured time
    over the chosen one's (≥ 1, since the default is always measured too)."""
    job: Job
    model: ClusterModel
    table: pd.DataFrame
    chosen: Config
    default: Config
    seconds: float = field(default=0.0)

    def measured(self, config: Config) -> float:
        """Median measured seconds of ``config`` (NaN if it did not run)."""
        return float(self._row(config)["measured_s"])

    def predicted(self, config: Config) -> float:
        """Predicted seconds of ``config``."""
        return float(self._row(config)["predicted_s"])

    def _row(self, config):
        t = self.table
        hit = t[(t.workers == config.workers) & (t.partition_rows == config.partition_rows)
                & (t.algorithm == config.algorithm)]
        if hit.empty:
            raise ValueError(f"{config} was not a candidate")
        return hit.iloc[0]

    @property
    def gain(self) -> float:
        return self.measured(self.default) / self.measured(self.chosen)

    @property
    def all_correct(self) -> bool:
        ran = self.table.dropna(subset=["measured_s"])
        return bool(ran["correct"].all())

    def __str__(self) -> str:
        c, d = self.chosen, self.default
        return "\n".join([
            f"probed cluster: {self.model}",
            f"candidates: {len(self.table)} predicted, "
            f"{int(self.table['measured_s'].notna().sum())} measured",
            f"default: {d} ({_tasks(d, self.job)}): "
            f"{self.measured(d) * 1e3:.0f} ms measured, {self.predicted(d) * 1e3:.0f} ms "
            "predicted",
            f"chosen:  {c} ({_tasks(c, self.job)}): "
            f"{self.measured(c) * 1e3:.0f} ms measured, {self.predicted(c) * 1e3:.0f} ms "
            "predicted",
            f"gain over the default: {self.gain:.1f}×"])


def _tasks(config: Config, job: Job) -> str:
    n = len(config.partitions(job))
    return f"{n} task{'s' if n != 1 else ''}"


#: The most configurations measured beyond the default (``top``), and runs of each
#: (``repeats``): every run is a job on the live cluster.
MAX_RUNS = 100


def tune(client, job: Job = Job(), *, top: int = 4, repeats: int = 3,
         default: Config | None = None, progress: bool = False) -> Tuning:
    """Choose workers, partition size and all-reduce algorithm for ``job`` on the live
    cluster: probe, predict every candidate, measure the default and the ``top`` best
    predicted (plus the best predicted for each worker count) ``repeats`` times each,
    keep the fastest measured. Every run's result is checked against numpy. ``progress``
    draws a bar of the runs (in a notebook).

    Raises ``TypeError`` for a client that is not a ``distributed.Client`` or a job that
    is not a :class:`Job`, ``ValueError`` for a closed client, ``top`` or ``repeats``
    outside [1, :data:`MAX_RUNS`], or a ``default`` the cluster cannot run."""
    check_client(client)
    if not isinstance(job, Job):
        raise TypeError(f"job must be a tuning.Job, got {type(job).__name__}")
    top = checks.count("top", top, minimum=1, maximum=MAX_RUNS)
    repeats = checks.count("repeats", repeats, minimum=1, maximum=MAX_RUNS)
    checks.flag("progress", progress)
    begin = time.perf_counter()
    n_workers = len(worker_addresses(client))
    if default is not None and not isinstance(default, Config):
        raise TypeError(f"default must be a tuning.Config or None, got "
                        f"{type(default).__name__}")
    default = default_config(job, n_workers) if default is None else \
        check_config(default, job, n_workers)

    model = probe(client, job)
    table = predict_table(job, n_workers, model)
    configs = [Config(int(r.workers), int(r.partition_rows), r.algorithm)
               for r in table.itertuples()]
    chosen_to_run = [default] + configs[:top]
    for w in range(1, n_workers + 1):                    # the model's pick for each width
        chosen_to_run.append(next(c for c in configs if c.workers == w))
    to_run = list(dict.fromkeys(chosen_to_run))          # unique, in order

    bar = None
    if progress:
        from distlab.engines.progress import StepsBar
        bar = StepsBar("tune", len(to_run) * repeats)
    reference = reference_gradient(job)
    measured, correct, runs = {}, {}, 0
    for config in to_run:
        times = []
        for _ in range(repeats):
            result, seconds = run(client, job, config)
            runs += 1
            if bar is not None:
                bar.update(runs)
            times.append(seconds)
            correct[config] = correct.get(config, True) and bool(
                np.allclose(result, reference, rtol=1e-9, atol=1e-9))
        measured[config] = float(np.median(times))

    table["measured_s"] = [measured.get(c, np.nan) for c in configs]
    table["correct"] = [correct.get(c) for c in configs]
    if default not in set(configs):
        raise ValueError(f"the default {default} is not among the candidates")
    chosen = min(measured, key=lambda c: (measured[c], c))
    return Tuning(job, model, table, chosen, default, time.perf_counter() - begin)

