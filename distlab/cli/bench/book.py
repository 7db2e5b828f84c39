"""The book itself: each chapter's time in a fresh kernel and the peak memory of its whole
process tree, against the budgets (180 s in all, 40 s a chapter, 1.5 GiB)."""
from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

from distlab.cli.bench.report import Report

#: Internal to ``python -m distlab bench`` (:func:`distlab.cli.bench.run`).
__all__: list[str] = []

#: Seconds for the whole book, seconds for one chapter, bytes of memory at the peak.
BUDGET_TOTAL, BUDGET_EACH, BUDGET_MEMORY = 180, 40, 1.5 * 2**30


class PeakMemory:
    """Peak memory of this process and all its descendants (kernel, workers, spawned
    ranks), sampled every ``interval`` seconds: the sum of their PSS (proportional set
    size: a page shared by n processes counts 1/n in each, so shared libraries count once,
    as the memory limit of a container counts them) and, for reference, of their RSS."""

    def __init__(self, interval: float = 0.1):
        import psutil
        self._root = psutil.Process()
        self.interval, self.peak, self.peak_rss = interval, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        import psutil
        while not self._stop.is_set():
            total = total_rss = 0
            for proc in [self._root, *self._root.children(recursive=True)]:
                try:
                    info = proc.memory_full_info()
                    total += getattr(info, "pss", info.rss)     # PSS where the OS has it
                    total_rss += info.rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self.peak_rss = max(self.peak_rss, total_rss)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def book_times(report: Report) -> None:
    """Run every chapter on a copy (the committed outputs are never touched), timing it
    and sampling its memory."""
    from distlab.cli import notebooks
    total = 0.0
    with tempfile.TemporaryDirectory() as scratch:
        for path in notebooks.chapters():
            copy = Path(scratch) / path.name
            shutil.copy(path, copy)
            with PeakMemory() as memory:
                seconds = notebooks.execute(copy)
            total += seconds
            report.add("book", path.stem, seconds, "s", target=f"≤ {BUDGET_EACH} s",
                       meets=seconds <= BUDGET_EACH)
            report.add("book memory", path.stem, memory.peak / 2**30, "GiB",
                       reference=f"PSS of the process tree (RSS sum "
                                 f"{memory.peak_rss / 2**30:.2f} GiB)",
                       target="≤ 1.5 GiB", meets=memory.peak <= BUDGET_MEMORY)
    report.add("book", "whole book", total, "s", target=f"≤ {BUDGET_TOTAL} s",
               meets=total <= BUDGET_TOTAL)
