"""The benchmark's report: rows of measurements, then ``results.md`` (headline table,
targets, every measurement), ``results.csv`` and ``results.png``."""
from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

#: The columns of every measurement: what was measured, its value and unit, what it is
#: set against (reference, ratio) and the target it must meet, if any.
COLUMNS = ["section", "measure", "value", "unit", "reference", "ratio", "target", "meets"]

#: What a reader of the results uses; the rest serves :func:`distlab.cli.bench.run`.
__all__ = ["COLUMNS", "Report", "headline", "markdown_table"]


def _frame(frame, columns=()) -> pd.DataFrame:
    """``frame`` if it is a DataFrame with ``columns``; errors name ``frame``."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"frame must have the columns {list(columns)} (the bench's "
                         f"measurements), missing {missing}")
    return frame


@dataclass
class Report:
    """The measurements so far, one dict per row (:data:`COLUMNS`); and gloo's seconds
    per call by steady section, for the sections measured later in the run."""
    rows: list = field(default_factory=list)
    gloo_calls: dict = field(default_factory=dict)

    def add(self, section, measure, value, unit, reference=None, ratio=None, target=None,
            meets=None):
        self.rows.append(dict(section=section, measure=measure, value=value, unit=unit,
                              reference=reference, ratio=ratio, target=target, meets=meets))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=COLUMNS)


def machine() -> dict:
    """The machine and the versions the numbers were measured with."""
    import psutil
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {name: metadata.version(name) for name in ("dask", "distributed", "numpy")}
    try:
        versions["torch"] = metadata.version("torch")
    except metadata.PackageNotFoundError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}",
            **versions}


def write(report: Report, out: Path, about: dict) -> pd.DataFrame:
    """Write ``results.csv``, ``results.md`` and ``results.png`` into ``out``; return the
    measurements as a DataFrame."""
    out.mkdir(parents=True, exist_ok=True)
    frame = report.frame()
    frame.to_csv(out / "results.csv", index=False)
    shown = frame.copy()
    for column in ("value", "ratio"):
        shown[column] = shown[column].map(
            lambda v: "" if v is None or pd.isna(v) else f"{v:.3g}")
    shown["meets"] = shown["meets"].map({True: "yes", False: "**no**"}).fillna("")
    shown = shown.fillna("")
    machine_line = ", ".join(f"{k} {v}" for k, v in about.items())
    targets = shown[frame.target.notna()]
    summary, steady = headline(frame), steady_table(frame)
    (out / "results.md").write_text(
        f"Measured {time.strftime('%Y-%m-%d')} on: {machine_line}\n\n"
        + ("## All-reduce, milliseconds (median)\n\n" + markdown_table(summary) + "\n\n"
           + HEADLINE_NOTE + "\n\n" if len(summary) else "")
        + ("## Steady speed, milliseconds (median and 90th percentile)\n\n"
           + markdown_table(_formatted(steady)) + "\n\n" + STEADY_NOTE + "\n\n"
           if len(steady) else "")
        + "## Targets\n\n" + markdown_table(targets) + "\n\n"
        + "## All measurements\n\n" + markdown_table(shown) + "\n")
    _plot(frame, out / "results.png")
    return frame


HEADLINE_NOTE = (
    "Inputs already on the workers, one worker process per node. *call*: `allreduce(...)` "
    "as a user calls it, from the client until the results are futures; *on workers*: the "
    "slowest node, from reading its input to holding its result; *ranks (SPMD)*: "
    "`Group.allreduce` called by a function running on every worker "
    "(`distlab.engines.spmd.run_ranks`), the slowest rank, timed as gloo's ranks "
    "are (any algorithm). *gain*: the task engine's best ÷ the direct engine's best call.")


STEADY_NOTE = (
    "Every algorithm of the direct engine at the largest size, each row from ≥ 20 calls "
    "(a quick run: 5). *bench workers*: the all-reduce section's cluster; *512 MiB "
    "workers*: two clusters of `connect()`'s default workers alive together, one with "
    "torch imported as each worker starts, calls alternating between them (the best "
    "algorithm only). *inputs on the workers*: as above; *fresh inputs from the client*: "
    "new inputs scattered from the client before every call (included in the time). "
    "gloo: the same run's gloo all-reduce on as many processes; floor: numpy's mean of "
    "the same arrays in one process.")

#: The columns of the steady table.
STEADY_COLUMNS = ["p", "size", "workers", "pattern", "algorithm", "median", "p90",
                  "gloo median", "gloo p90", "median ÷ gloo", "p90 ÷ gloo p90",
                  "median ÷ floor"]


def steady_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per p, size, workers, pattern and algorithm of the steady sections
    (:mod:`.steady`), numbers as floats (:data:`STEADY_COLUMNS`; NaN where gloo was not
    measured)."""
    rows = []
    for section in dict.fromkeys(frame.section):
        if not str(section).startswith("steady p="):
            continue
        part = frame[frame.section == section].set_index("measure").value.astype(float)
        _, p, size = section.split(" ", 2)
        floor = part.get("numpy mean in one process (floor)", np.nan)
        gloo_median, gloo_p90 = part.get("gloo · median", np.nan), part.get("gloo · p90", np.nan)
        for measure in part.index:
            fields = measure.split(" · ")
            if len(fields) != 4 or fields[3] != "median":
                continue
            workers, pattern, algorithm, _ = fields
            median = part[measure]
            tail = part.get(" · ".join(fields[:3] + ["p90"]), np.nan)
            rows.append({"p": int(p.split("=")[1]), "size": size, "workers": workers,
                         "pattern": pattern, "algorithm": algorithm, "median": median,
                         "p90": tail, "gloo median": gloo_median, "gloo p90": gloo_p90,
                         "median ÷ gloo": median / gloo_median, "p90 ÷ gloo p90":
                         tail / gloo_p90, "median ÷ floor": median / floor})
    return pd.DataFrame(rows, columns=STEADY_COLUMNS)


def _formatted(table: pd.DataFrame) -> pd.DataFrame:
    """Floats to three significant digits, NaN as blank, for the Markdown tables."""
    table = table.copy()
    for column in table.columns:
        if table[column].dtype.kind == "f":
            table[column] = table[column].map(lambda v: "" if pd.isna(v) else f"{v:.3g}")
    return table


def headline(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per p and size: numpy in one process, gloo, distlab's best on the direct
    engine (call, on the workers), the task engine's best, the naive Dask code.
    ``frame``: the measurements (:data:`COLUMNS`); ``TypeError``/``ValueError`` naming
    ``frame`` for anything else."""
    frame = _frame(frame, ("section", "measure", "value"))
    rows = []
    for section in dict.fromkeys(frame.section):
        if not str(section).startswith("allreduce p=") or section.count(" ") < 2:
            continue
        part = frame[frame.section == section].set_index("measure")
        _, p, size = section.split(" ", 2)

        def ms(measure):
            return float(part.value[measure]) if measure in part.index else np.nan
        calls = {m.split(" · ")[1]: part.value[m] for m in part.index
                 if m.startswith("direct · ") and m.endswith("call from the client")}
        tasks = [part.value[m] for m in part.index if m.startswith("tasks · ")]
        ranks = [part.value[m] for m in part.index if m.endswith(" · ranks (SPMD)")]
        if not calls:
            continue
        best = min(calls, key=calls.get)
        gloo = [m for m in part.index if m.startswith("gloo all-reduce")]
        rows.append({"p": p.split("=")[1], "size": size,
                     "numpy, 1 process": ms("numpy mean in one process (floor)"),
                     "gloo": ms(gloo[0]) if gloo else np.nan,
                     "distlab best": best,
                     "call": calls[best],
                     "on workers": ms(f"direct · {best} · on the workers"),
                     "ranks (SPMD) best": min(ranks) if ranks else np.nan,
                     "tasks engine best": min(tasks) if tasks else np.nan,
                     "gain": (min(tasks) / calls[best]) if tasks else np.nan,
                     "naive Dask": ms("naive Dask: gather → numpy.mean → scatter")})
    return _formatted(pd.DataFrame(rows))


def markdown_table(frame: pd.DataFrame) -> str:
    """``frame`` as a Markdown table, every value as ``str`` shows it. ``TypeError``
    naming ``frame`` when it is not a DataFrame."""
    frame = _frame(frame)
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |"
              for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _plot(frame: pd.DataFrame, path: Path) -> None:
    """Seconds per all-reduce at each size for p = 2 (log scale), one bar per contender;
    and the book's times, when measured."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    p2 = frame[frame.section.str.startswith("allreduce p=2 ") & (frame.unit == "ms")
               & frame.value.notna()]
    p2 = p2[~p2.measure.str.contains("on the workers")]
    book = frame[(frame.section == "book") & (frame.measure != "whole book")]
    panels = [x for x in (("all-reduce, p = 2", p2), ("book", book)) if len(x[1])]
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(7 * max(1, len(panels)), 6),
                             dpi=80, squeeze=False)
    for ax, (title, rows) in zip(axes[0], panels):
        labels = (rows.section.str.replace("allreduce p=2 ", "") + " · " + rows.measure
                  if title.startswith("all") else rows.measure)
        ax.barh(labels, rows.value)
        ax.invert_yaxis()
        ax.tick_params(axis="y", labelsize=6)
        ax.set_xscale("log" if title.startswith("all") else "linear")
        ax.set_xlabel(rows.unit.iloc[0])
        ax.set_title(title)
    if not panels:
        axes[0][0].text(0.5, 0.5, "no timed sections in this run", ha="center")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
