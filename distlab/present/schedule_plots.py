"""Plots of schedules and scaling: Gantt charts, the overhead curve, speed-up and
efficiency against the number of workers (chapters 02 and 08).

Each function takes data (from :mod:`distlab.concepts.partitioning`,
:mod:`distlab.concepts.scaling` or their measurements in :mod:`distlab.apps.schedules` and
:mod:`distlab.apps.speedup`) and returns a matplotlib ``Figure`` already closed in pyplot,
so it shows once and needs no closing.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from distlab import checks
from distlab.concepts import partitioning, scaling
from distlab.present.figures import closed_figure


def gantt(schedules):
    """One row of bars per worker, one panel per ``partitioning.Schedule``; ``TypeError``/
    ``ValueError`` naming ``schedules`` unless it is a non-empty list of them (at most
    64 workers in all, to stay legible)."""
    schedules = checks.sequence("schedules", schedules)
    if not schedules or not all(isinstance(s, partitioning.Schedule) for s in schedules):
        raise TypeError("schedules must be a non-empty list of partitioning.Schedule")
    if sum(s.workers for s in schedules) > 64:
        raise ValueError("schedules must have at most 64 workers in all to draw")
    fig = closed_figure(figsize=(9, 0.9 + 0.5 * sum(s.workers for s in schedules)), dpi=80,
                 layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(schedules), 1, sharex=True))
    longest = max(s.makespan for s in schedules)
    for ax, s in zip(axes, schedules):
        for i, (w, a, b) in enumerate(zip(s.worker, s.start, s.end)):
            ax.barh(w, b - a, left=a, height=0.7, color=f"C{i % 10}", edgecolor="white")
        ax.axvline(s.makespan, color="#d62728", linestyle="--")
        ax.set_yticks(range(s.workers), [f"w{k}" for k in range(s.workers)], fontsize=7)
        ax.set_title(f"{s.strategy}: makespan {s.makespan:.3f} s, idle {s.idle:.3f} s",
                     fontsize=9, loc="left")
        ax.set_xlim(0, longest * 1.02)
    axes[-1].set_xlabel("seconds")
    return fig


def overhead_curve(total_seconds: float, workers: int, scheduler_per_task: float,
                   measured=None, task_counts=None):
    """Efficiency against the number of tasks for ``total_seconds`` of work on ``workers``:
    the model (``partitioning.overhead_model``, the scheduler's ``scheduler_per_task``
    charged serially) as a line, measured points (a ``measure_overhead`` DataFrame) as
    dots, and the break-even task size on these workers. ``task_counts`` None or a
    non-empty list of ints in [1, 10⁶]; ``TypeError``/``ValueError`` naming the argument
    otherwise (the rest as :func:`~distlab.concepts.partitioning.overhead_model`)."""
    if task_counts is None:
        counts = sorted({int(k) for k in np.logspace(np.log10(2), 4, 60)})
    else:
        counts = [checks.count(f"task_counts[{i}]", k, minimum=1, maximum=10**6)
                  for i, k in enumerate(checks.sequence("task_counts", task_counts))]
        if not counts:
            raise ValueError("task_counts must hold at least one number of tasks")
    if measured is not None and (not isinstance(measured, pd.DataFrame)
                                 or not {"tasks", "efficiency"} <= set(measured.columns)):
        raise TypeError("measured must be what measure_overhead returned (a DataFrame with "
                        "tasks and efficiency) or None")
    model = [partitioning.overhead_model(total_seconds, k, workers,
                                         scheduler_per_task)["efficiency"] for k in counts]
    fig = closed_figure(figsize=(6, 3), dpi=80, layout="constrained")
    ax = fig.subplots()
    ax.plot(counts, model, label=f"model: scheduler {scheduler_per_task * 1000:.2g} ms/task "
                                 f"(serial), {workers} workers")
    if measured is not None:
        ax.plot(measured["tasks"], measured["efficiency"], "o", label="measured on this cluster")
    shortest = partitioning.break_even_task_seconds(scheduler_per_task, workers=workers)
    if shortest > 0:
        ax.axvline(total_seconds / shortest, color="#999", linestyle=":",
                   label=f"efficiency 50 % ({total_seconds / shortest:,.0f} tasks)")
    ax.set_xscale("log")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel(f"number of tasks sharing {total_seconds:g} s of work")
    ax.set_ylabel("efficiency")
    ax.legend(fontsize=8)
    return fig


def speedup_plot(measured: dict, f: float, workers=(1, 2, 4, 8, 16, 32, 64)):
    """Measured speed-ups at p = 1 and 2 (dots) and the Amdahl and Gustafson predictions
    fitted to them (dashed, labelled as predictions), with the ideal line. ``measured``
    what ``measure_speedup`` returns (a dict with ``workers`` and ``speed-up``), ``f`` in
    [0, 1], ``workers`` a list of worker counts ≥ 1; ``TypeError``/``ValueError`` naming
    the argument otherwise."""
    if not isinstance(measured, dict) or not {"workers", "speed-up"} <= set(measured):
        raise TypeError("measured must be what measure_speedup returned (a dict with "
                        "workers and speed-up)")
    checks.positive("measured['speed-up']", measured["speed-up"])
    p = np.asarray(checks.sequence("workers", workers))
    if p.dtype.kind not in "iuf" or p.size == 0 or p.min() < 1:
        raise ValueError(f"workers must be a non-empty list of worker counts ≥ 1, got "
                         f"{workers!r}")
    p = p.astype(float)
    s = scaling.serial_fraction_on_parallel(f, measured["workers"])
    fig = closed_figure(figsize=(6, 3), dpi=80, layout="constrained")
    ax = fig.subplots()
    ax.plot(p, p, color="#999", linewidth=1, label="ideal (S = p)")
    ax.plot(p, scaling.amdahl(f, p), "--", label=f"Amdahl prediction, f = {f:.3f}")
    ax.plot(p, scaling.gustafson(s, p), "--", label=f"Gustafson prediction, s = {s:.3f}")
    ax.plot([1, measured["workers"]], [1, measured["speed-up"]], "o", color="black",
            label="measured")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("workers (beyond 2: predictions)")
    ax.set_ylabel("speed-up")
    ax.legend(fontsize=8)
    return fig


def efficiency_plot(frame: pd.DataFrame):
    """Parallel efficiency against nodes, one line per algorithm, from
    :func:`distlab.concepts.scaling.efficiency`. Raises ``TypeError`` for anything else."""
    if not isinstance(frame, pd.DataFrame) or not {"algorithm", "nodes",
                                                   "efficiency"} <= set(frame.columns):
        raise TypeError("frame must be what distlab.concepts.scaling.efficiency() returned")
    fig = closed_figure(figsize=(5.5, 3.2), dpi=72)
    ax = fig.subplots()
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
