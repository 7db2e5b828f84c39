"""Pictures of a split model: a pipeline schedule as a Gantt chart, memory by ZeRO stage.

- :func:`pipeline_gantt` draws timelines played by :func:`distlab.concepts.pipeline.run`
  (one row per stage, a bar per forward F or backward B pass of a micro-batch), one panel
  per schedule, on a shared time axis: GPipe (Huang et al., NeurIPS 2019) above 1F1B
  (Narayanan et al., SOSP 2019), same makespan, same bubble, fewer activations held.
- :func:`memory_by_stage` is the data of :func:`memory_bars`: the bytes on one device
  for ZeRO stages 0–3 (Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training
  Trillion Parameter Models", SC 2020, Figure 1), from
  :func:`distlab.concepts.memory.per_device`.

Each figure function returns a matplotlib ``Figure`` already closed in pyplot, so it shows
once and needs no closing.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from distlab import checks
from distlab.concepts import memory, pipeline, zero
from distlab.present.figures import closed_figure

__all__ = ["KIND_COLOURS", "stage_peaks", "pipeline_gantt", "memory_by_stage", "memory_bars"]

#: Forward passes blue, backward passes orange.
KIND_COLOURS = {"F": "#4c72b0", "B": "#dd8452"}
TIMELINE_COLUMNS = ("stage", "micro_batch", "kind", "start", "end")


def _check_timeline(name: str, timeline) -> pd.DataFrame:
    if not isinstance(timeline, pd.DataFrame) or not set(TIMELINE_COLUMNS) <= set(timeline):
        raise TypeError(f"timelines[{name!r}] must be a DataFrame from pipeline.run, with "
                        f"columns {', '.join(TIMELINE_COLUMNS)}")
    if len(timeline) == 0:
        raise ValueError(f"timelines[{name!r}] must hold at least one step")
    return timeline.sort_values(["stage", "start"], ignore_index=True)


def stage_peaks(timeline: pd.DataFrame) -> list[int]:
    """Per stage, the most micro-batches whose activations it holds at once, read off a
    :func:`~distlab.concepts.pipeline.run` timeline: its steps in time order, as
    :func:`~distlab.concepts.pipeline.peak_in_flight` counts them. ``TypeError`` for a
    timeline that is not such a DataFrame, ``ValueError`` for one without steps."""
    timeline = _check_timeline("timeline", timeline)
    order = [[pipeline.Step(int(r.stage), int(r.micro_batch), r.kind)
              for r in group.itertuples()] for _, group in timeline.groupby("stage")]
    return pipeline.peak_in_flight(order)


def pipeline_gantt(timelines: Mapping[str, pd.DataFrame], *, time_unit: str = "virtual time"):
    """One panel per named timeline (a :func:`~distlab.concepts.pipeline.run` DataFrame),
    stacked on one time axis: a row per stage (stage 0 on top, labelled with its peak
    in-flight micro-batches), a bar per step from ``start`` to ``end``, F and B in
    :data:`KIND_COLOURS`, the micro-batch number on the bar; each title gives the measured
    bubble (:func:`~distlab.concepts.pipeline.bubble_fraction`); ``time_unit`` labels the
    time axis. ``TypeError`` for a
    timeline that is not such a DataFrame, ``ValueError`` for an empty one or none."""
    if not isinstance(timelines, Mapping):
        raise TypeError(f"timelines must map names to pipeline.run DataFrames, got "
                        f"{type(timelines).__name__}")
    if not timelines:
        raise ValueError("timelines must map at least one name to a pipeline.run DataFrame")
    if not isinstance(time_unit, str):
        raise TypeError(f"time_unit must be a string, got {type(time_unit).__name__}")
    frames = {name: _check_timeline(name, t) for name, t in timelines.items()}
    stages = sum(int(f["stage"].max()) + 1 for f in frames.values())
    fig = closed_figure(figsize=(9, 0.8 + 0.45 * stages + 0.35 * len(frames)), dpi=80,
                        layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(frames), 1, sharex=True))
    for ax, (name, frame) in zip(axes, frames.items()):
        width = frame["end"] - frame["start"]
        ax.barh(frame["stage"], width, left=frame["start"], height=0.8,
                color=[KIND_COLOURS[k] for k in frame["kind"]], edgecolor="white")
        for row, w in zip(frame.itertuples(), width):
            ax.text(row.start + w / 2, row.stage, str(row.micro_batch), ha="center",
                    va="center", fontsize=7, color="white")
        p = int(frame["stage"].max()) + 1
        peaks = stage_peaks(frame)
        ax.set_yticks(range(p), [f"stage {i} (holds ≤ {peaks[i]})" for i in range(p)],
                      fontsize=7)
        ax.set_ylim(p - 0.5, -0.5)
        m = frame["micro_batch"].nunique()
        ax.set_title(f"{name}: p = {p} stages, m = {m} micro-batches, bubble "
                     f"{pipeline.bubble_fraction(frame):.1%}", fontsize=9, loc="left")
    axes[-1].set_xlabel(time_unit)
    from matplotlib.patches import Patch

    fig.legend(handles=[Patch(color=c, label={"F": "forward", "B": "backward"}[k])
                        for k, c in KIND_COLOURS.items()],
               loc="outside lower center", ncol=2, fontsize=8, frameon=False)
    return fig


def memory_by_stage(parameters: float | None = None, *, model: memory.Transformer | None = None,
                    dp: int = 1, tp: int = 1, pp: int = 1, **options) -> pd.DataFrame:
    """GB (10⁹ bytes) on the fullest device for ZeRO stages 0–3: one row per stage (the
    index, ``zero``), one column per part of :meth:`memory.DeviceMemory.parts`
    (parameters, gradients, optimizer state, activations — NaN without a ``model`` —
    and total). Arguments as :func:`distlab.concepts.memory.per_device`, which raises
    ``TypeError``/``ValueError`` naming the bad one."""
    rows = {stage: memory.per_device(parameters, model=model, dp=dp, tp=tp, pp=pp,
                                     zero_stage=stage, **options).parts()
            for stage in zero.STAGES}
    table = pd.DataFrame.from_dict(rows, orient="index").astype(float) / memory.GB
    table.index.name = "zero"
    return table


def memory_bars(table: pd.DataFrame, device_memory_gb: float = 80):
    """Stacked bars of a :func:`memory_by_stage` table, one per ZeRO stage, the total
    written above each, and a dashed line at ``device_memory_gb`` (one device's memory).
    ``TypeError`` for a table without the parts' columns."""
    parts = ("parameters", "gradients", "optimizer state", "activations")
    if not isinstance(table, pd.DataFrame) or not {*parts, "total"} <= set(table):
        raise TypeError("table must be what memory_by_stage returns")
    limit = checks.positive("device_memory_gb", device_memory_gb)
    fig = closed_figure(figsize=(6, 3.2), dpi=80, layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(table))
    bottom = np.zeros(len(table))
    for k, part in enumerate(parts):
        values = table[part].fillna(0).to_numpy()
        if values.any():
            ax.bar(x, values, bottom=bottom, width=0.6, color=f"C{k}", label=part)
            bottom += values
    for xi, total in zip(x, table["total"]):
        label = f"{total:.1f}" if total >= 1 else f"{total:.2g}"     # ZeRO's one decimal
        ax.text(xi, total, f"{label} GB", ha="center", va="bottom", fontsize=8)
    ax.axhline(limit, color="#d62728", linestyle="--", linewidth=1,
               label=f"one device: {limit:g} GB")
    ax.set_xticks(x, [f"stage {s}" for s in table.index])
    ax.set_xlabel("ZeRO stage")
    ax.set_ylabel("GB per device")
    ax.set_ylim(0, max(limit, table["total"].max()) * 1.15)
    ax.legend(fontsize=8)
    return fig
