"""``python -m distlab bench``: measure the book and the engine on this machine.

Everything is reported beside a reference — a documented figure, a lower bound, a model's
prediction, or another tool measured in the same run — so the numbers mean something on any
machine. Results go to a folder as ``results.md`` (the table), ``results.csv`` and
``results.png``. ``--quick`` is a smoke run of a few seconds (small sizes, no book).
Timings are reported here and nowhere else: the tests check only the shape of the output and
the correctness ratios (bytes ÷ bound, results equal).
"""
from __future__ import annotations

import os
import platform
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = ["section", "measure", "value", "unit", "reference", "ratio", "target", "meets"]


@dataclass
class Report:
    rows: list = field(default_factory=list)

    def add(self, section, measure, value, unit, reference=None, ratio=None, target=None,
            meets=None):
        self.rows.append(dict(section=section, measure=measure, value=value, unit=unit,
                              reference=reference, ratio=ratio, target=target, meets=meets))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=COLUMNS)


def best_of(func, repeats: int = 5) -> float:
    """The fastest of ``repeats`` runs of ``func()``, in seconds (the least disturbed one)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def machine() -> dict:
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
            "python": platform.python_version(), "system": f"{platform.system()} {platform.release()}",
            **versions}


# ---------------------------------------------------------------- the floor: numpy here

def numpy_floor(report: Report, n_bytes: int) -> None:
    n = n_bytes // 8
    a, out = np.ones(n), np.empty(n)
    copy = best_of(lambda: np.copyto(out, a))
    report.add("floor", f"np.copyto {n_bytes / 2**20:g} MiB", 2 * n_bytes / copy / 1e9, "GB/s")
    parts = np.ones((2, n))
    mean = best_of(lambda: parts.mean(axis=0))
    report.add("floor", f"numpy mean of 2 × {n_bytes / 2**20:g} MiB", mean * 1e3, "ms",
               reference="copy bandwidth", ratio=(3 * n_bytes / mean / 1e9) / (2 * n_bytes / copy / 1e9))


# ---------------------------------------------------------------- Dask's own overheads

def _noop(i):
    return i


def dask_overheads(report: Report, client, tasks: int) -> None:
    client.submit(_noop, -1, pure=False).result()          # warm up
    start = time.perf_counter()
    client.gather(client.map(_noop, range(tasks), pure=False))
    per_task = (time.perf_counter() - start) / tasks
    report.add("dask", f"per-task overhead ({tasks} no-op tasks)", per_task * 1e6, "µs",
               reference="Dask docs: 200 µs – 1 ms per task", ratio=per_task / 1e-3)
    trips = []
    for i in range(30):
        start = time.perf_counter()
        client.submit(_noop, i, pure=False).result()
        trips.append(time.perf_counter() - start)
    trip = statistics.median(trips)
    report.add("dask", "round trip submit().result(), median", trip * 1e3, "ms",
               reference="distributed#836: 10–20 ms", ratio=trip / 10e-3)


# ---------------------------------------------------------------- CPU-bound scaling

def cpu_speedup(report: Report, tasks: int, darts: int) -> None:
    """The same CPU-bound map on 1 and on 2 worker processes."""
    from .cluster import connect
    from .warmup import darts_in_circle
    seconds = {}
    for workers in (1, 2):
        with connect(n_workers=workers) as client:
            client.gather(client.map(darts_in_circle, range(workers), darts=1000, pure=False))
            start = time.perf_counter()
            client.gather(client.map(darts_in_circle, range(tasks), darts=darts, pure=False))
            seconds[workers] = time.perf_counter() - start
        report.add("scaling", f"{tasks} CPU-bound tasks on {workers} worker(s)",
                   seconds[workers], "s")
    speedup = seconds[1] / seconds[2]
    report.add("scaling", "speed-up on 2 workers over 1", speedup, "×", reference="ideal 2",
               ratio=speedup / 2, target="≥ 1.8", meets=speedup >= 1.8)


# ---------------------------------------------------------------- the naive all-reduce

def _mean_of(*parts):
    return np.mean(parts, axis=0)


def naive_allreduce(client, futures) -> list:
    """What a Dask user writes first: gather to the client, numpy.mean, scatter back."""
    parts = client.gather(futures)
    mean = np.mean(parts, axis=0)
    return client.scatter([mean], broadcast=True, hash=False)


# ---------------------------------------------------------------- the book

class PeakMemory:
    """Peak resident memory of this process and all its descendants (kernel and workers)."""

    def __init__(self, interval: float = 0.1):
        import psutil
        self._root = psutil.Process()
        self.interval, self.peak = interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        import psutil
        while not self._stop.is_set():
            total = 0
            for proc in [self._root, *self._root.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def book_times(report: Report) -> None:
    from . import book
    budget_total, budget_each, budget_memory = 180, 40, 1.5 * 2**30
    total = 0.0
    with tempfile.TemporaryDirectory() as scratch:
        for path in book.chapters():
            copy = Path(scratch) / path.name          # never touch the committed outputs
            shutil.copy(path, copy)
            with PeakMemory() as memory:
                seconds = book.execute(copy)
            total += seconds
            report.add("book", path.stem, seconds, "s", target=f"≤ {budget_each} s",
                       meets=seconds <= budget_each)
            report.add("book memory", path.stem, memory.peak / 2**30, "GiB",
                       target="≤ 1.5 GiB", meets=memory.peak <= budget_memory)
    report.add("book", "whole book", total, "s", target=f"≤ {budget_total} s",
               meets=total <= budget_total)


# ---------------------------------------------------------------- output

def write(report: Report, out: Path, about: dict) -> pd.DataFrame:
    out.mkdir(parents=True, exist_ok=True)
    frame = report.frame()
    frame.to_csv(out / "results.csv", index=False)
    shown = frame.copy()
    for column in ("value", "ratio"):
        shown[column] = shown[column].map(lambda v: "" if v is None or pd.isna(v) else f"{v:.3g}")
    shown["meets"] = shown["meets"].map({True: "yes", False: "**no**"}).fillna("")
    shown = shown.fillna("")
    machine_line = ", ".join(f"{k} {v}" for k, v in about.items())
    (out / "results.md").write_text(
        f"Measured {time.strftime('%Y-%m-%d')} on: {machine_line}\n\n"
        + markdown_table(shown) + "\n")
    _plot(frame, out / "results.png")
    return frame


def markdown_table(frame: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _plot(frame: pd.DataFrame, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sections = [s for s in ("allreduce", "book") if (frame.section == s).any()]
    fig, axes = plt.subplots(1, max(1, len(sections)), figsize=(6 * max(1, len(sections)), 4),
                             dpi=80, squeeze=False)
    for ax, section in zip(axes[0], sections):
        rows = frame[frame.section == section]
        ax.barh(rows.measure, rows.value)
        ax.set_xscale("log" if section == "allreduce" else "linear")
        ax.set_xlabel(rows.unit.iloc[0])
        ax.set_title(section)
    if not sections:
        axes[0][0].text(0.5, 0.5, "no timed sections in this run", ha="center")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run(quick: bool = False, out: Path = Path("bench-results"), with_book: bool | None = None):
    from .cluster import connect
    report = Report()
    with_book = (not quick) if with_book is None else with_book
    numpy_floor(report, 2**20 if quick else 64 * 2**20)
    with connect() as client:
        dask_overheads(report, client, tasks=200 if quick else 2000)
    cpu_speedup(report, tasks=4 if quick else 16, darts=200_000 if quick else 5_000_000)
    if with_book:
        book_times(report)
    return write(report, Path(out), machine())
