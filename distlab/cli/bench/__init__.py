"""``python -m distlab bench``: measure the book and the engine on this machine.

Everything is reported beside a reference — a documented figure, a lower bound, a model's
prediction, or another tool measured in the same run — so the numbers mean something on any
machine. Results go to a folder as ``results.md`` (the targets, then every measurement),
``results.csv`` and ``results.png``. ``--quick`` is a smoke run of seconds (small sizes,
p = 2, no book and no training). Timings are reported here and nowhere else: the tests
check only the shape of the output and the correctness ratios (bytes ÷ bound, results
equal).

The sections, one module each, in the order :func:`run` runs them (numpy first, then
Dask, so that nothing else competes for the cores):

- :mod:`.overheads`: ``floor``, copy bandwidth and the numpy mean in one process; ``dask``,
  Dask's per-task overhead and round trip beside the documented figures; ``scaling``, a
  CPU-bound map on 1 and 2 workers (run after the all-reduce).
- :mod:`.allreduce`: ``allreduce p=… …``, at 8 KiB, 1 MiB and 64 MiB per node with p = 2
  and 4 worker processes, every distlab algorithm on both engines beside PyTorch's gloo,
  the naive Dask code and numpy; ``correctness``, bytes sent ÷ the lower bound and the
  results against the numpy mean; ``targets``.
- :mod:`.steady`: ``steady p=… 64 MiB``, median and p90 over ≥ 20 calls per algorithm,
  inputs on the workers and fresh from the client, beside gloo's and the one-process
  floor; at p = 2 also on default workers with and without torch loaded; issue 15's
  targets.
- :mod:`.training`: chapter 06's accuracy against scikit-learn's, and the communication
  rounds local SGD needs against synchronous SGD.
- :mod:`.book`: each notebook's time and the peak memory of its whole process tree.

Around them: :mod:`.report` (the rows, the tables, the plot, the files) and
:mod:`.timing` (best of a few runs; every run after a warm-up, for medians and p90s).
Each section's seconds are reported too (``bench``): the full run takes about five
minutes on 2 cores, half of it the book.

May import every layer (it is part of ``distlab.cli``); nothing but ``distlab.cli``
and the chapter that runs the quick benchmark imports it.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from distlab.checks import flag
from distlab.cli.bench.allreduce import QUICK_SIZES, SIZES, allreduce_section
from distlab.cli.bench.book import book_times
from distlab.cli.bench.overheads import cpu_speedup, dask_overheads, numpy_floor
from distlab.cli.bench.report import COLUMNS, Report, headline, machine, markdown_table, write
from distlab.cli.bench.training import training_section

__all__ = ["run", "COLUMNS", "Report", "SIZES", "QUICK_SIZES", "headline", "markdown_table"]


def run(quick: bool = False, out: Path = Path("bench-results"), with_book: bool | None = None,
        progress: bool = False):
    """Every section, then the results written into ``out``; returns the measurements (a
    DataFrame, :data:`COLUMNS`). ``quick``: small sizes, p = 2, no gloo, no training.
    ``with_book`` (default: not quick) times every chapter. ``progress`` draws a bar of
    the sections in a notebook.

    Raises ``TypeError`` when a flag is not a bool (``with_book`` may be None) or ``out``
    is not a path."""
    from distlab.engines.cluster import connect
    from distlab.engines.progress import StepsBar

    quick, progress = flag("quick", quick), flag("progress", progress)
    with_book = (not quick) if with_book is None else flag("with_book", with_book)
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a folder path, got {type(out).__name__}")
    report = Report()
    sections = [lambda: numpy_floor(report, 2**20 if quick else 64 * 2**20)]
    names = ["floor"]

    def overheads():
        with connect() as client:
            dask_overheads(report, client, tasks=200 if quick else 2000)
    sections.append(overheads)
    names += ["dask", "allreduce p=2"] + ([] if quick else ["allreduce p=4"])
    sections += [lambda p=p: allreduce_section(
        report, QUICK_SIZES if quick else SIZES, nodes=(p,), repeats=2 if quick else 5,
        with_gloo=not quick, quick=quick) for p in ((2,) if quick else (2, 4))]
    sections.append(lambda: cpu_speedup(report, tasks=4 if quick else 16,
                                        darts=1_000_000 if quick else 30_000_000))
    names.append("scaling")
    if not quick:
        sections.append(lambda: training_section(report))
        names.append("training")
    if with_book:
        sections.append(lambda: book_times(report))
        names.append("book")
    bar = StepsBar("benchmark", len(sections)) if progress else None
    began = time.perf_counter()
    for done, (name, section) in enumerate(zip(names, sections), 1):
        start = time.perf_counter()
        section()
        report.add("bench", f"section {name}", time.perf_counter() - start, "s")
        if bar:
            bar.update(done)
    report.add("bench", "whole benchmark", time.perf_counter() - began, "s")
    return write(report, Path(out), machine())
