"""A progress bar for futures that draws under "Run All" as well as cell by cell.

``distributed.progress(futures)`` returns at once and updates its widget from the kernel's
event loop. When cells run back to back (JupyterLab's Run All, nbclient, CI) the next
cell's blocking calls keep that loop busy, so the bar stays empty, and closing the client
while it still listens logs a ``CommClosedError`` (seen with distributed 2026.8 and
ipykernel 7). This bar updates from the cell itself as each future completes, and returns
when all are done; its final state (counts, not times) is the same on every run.
"""
from __future__ import annotations

from distributed import Future, as_completed


def progress(futures, *, label: str | None = None) -> None:
    """Show a bar for ``futures`` (an iterable of ``distributed.Future``) until all finish.

    In a notebook the bar is an ipywidgets ``IntProgress``; elsewhere nothing is drawn.
    Failed futures turn the bar red; their errors surface when their results are read.
    """
    futures = list(futures)
    if not futures or not all(isinstance(f, Future) for f in futures):
        raise TypeError("futures must be a non-empty list of distributed.Future objects")
    if label is None:  # Dask names a task's key after its function: "darts_in_circle-3f2a…"
        key = futures[0].key
        label = key.split("-")[0] if isinstance(key, str) else "tasks"
    total = len(futures)
    bar = _widget(label, total)
    done = failed = 0
    for future in as_completed(futures):
        done += 1
        failed += future.status == "error"
        if bar is not None:
            bar.children[0].value = done
            bar.children[1].value = f"{done} / {total}"
    if bar is not None:
        bar.children[0].bar_style = "danger" if failed else "success"


def _widget(label: str, total: int):
    from distlab.engines.dask_private import in_kernel
    if not in_kernel():
        return None
    import ipywidgets as widgets
    from IPython.display import display
    box = widgets.HBox([widgets.IntProgress(value=0, min=0, max=total, description=label),
                        widgets.HTML(f"0 / {total}")])
    display(box)
    return box


class StepsBar:
    """A bar of steps the caller counts (rounds, sections, calls), drawn from the cell
    itself like :func:`progress`, so it fills under "Run All"; nothing is drawn outside a
    notebook."""

    def __init__(self, label: str, total: int):
        self.total = total
        self.box = _widget(label, total)

    def update(self, done: int) -> None:
        if self.box is not None:
            self.box.children[0].value = done
            self.box.children[1].value = f"{done} / {self.total}"
            if done >= self.total:
                self.box.children[0].bar_style = "success"
