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

    In a notebook the bar is an ipywidgets ``IntProgress``; in a terminal a tqdm bar on
    standard error. Failed futures turn the notebook's bar red; their errors surface when
    their results are read. Raises ``TypeError`` unless ``futures`` is a non-empty list
    of futures.
    """
    futures = list(futures)
    if not futures or not all(isinstance(f, Future) for f in futures):
        raise TypeError("futures must be a non-empty list of distributed.Future objects")
    if label is None:  # Dask names a task's key after its function: "darts_in_circle-3f2a…"
        key = futures[0].key
        label = key.split("-")[0] if isinstance(key, str) else "tasks"
    bar = _Bar(label, len(futures))
    done = failed = 0
    for future in as_completed(futures):
        done += 1
        failed += future.status == "error"
        bar.show(done)
    bar.finish(failed=bool(failed))


class _Bar:
    """A widget in a Jupyter kernel (ipywidgets comes with the `lab` extra, which every
    kernel running the book has), tqdm elsewhere (a script, ``python -m distlab bench``)."""

    def __init__(self, label: str, total: int):
        from distlab.engines.dask_private import in_kernel
        self.total, self.box, self.tqdm = total, None, None
        if in_kernel():
            import ipywidgets as widgets
            from IPython.display import display
            self.box = widgets.HBox([
                widgets.IntProgress(value=0, min=0, max=total, description=label),
                widgets.HTML(f"0 / {total}")])
            display(self.box)
        else:
            from tqdm import tqdm
            self.tqdm = tqdm(total=total, desc=label, leave=False)

    def show(self, done: int) -> None:
        if self.box is not None:
            self.box.children[0].value = done
            self.box.children[1].value = f"{done} / {self.total}"
        else:
            self.tqdm.update(done - self.tqdm.n)

    def finish(self, failed: bool = False) -> None:
        if self.box is not None:
            self.box.children[0].bar_style = "danger" if failed else "success"
        else:
            self.tqdm.close()


class StepsBar:
    """A bar of steps the caller counts (rounds, sections, calls), drawn from the cell
    itself like :func:`progress`, so it fills under "Run All"; tqdm in a terminal."""

    def __init__(self, label: str, total: int):
        self.total = total
        self.bar = _Bar(label, total)

    def update(self, done: int) -> None:
        self.bar.show(done)
        if done >= self.total:
            self.bar.finish()
