"""A progress bar for futures that draws under "Run All" as well as cell by cell.

``distributed.progress(futures)`` returns at once and updates its widget from the kernel's
event loop. When cells run back to back (JupyterLab's Run All, nbclient, CI) the next
cell's blocking calls keep that loop busy, so the bar stays empty, and closing the client
while it still listens logs a ``CommClosedError`` (seen with distributed 2026.8 and
ipykernel 7). This bar updates from the cell itself as each future completes, and returns
when all are done; its final state (counts, not times) is the same on every run.

What a committed notebook keeps of the bar. In a kernel the bar is an ipywidgets widget;
its output is one mime bundle: the widget view (drawn from the live kernel, or from the
widget state saved with the notebook) and a static fallback for every other reader
(GitHub, nbconvert, a text diff): ``text/html`` and ``text/plain`` saying
``label ▕████▏ done / total``. The fallback is written when the bar appears, as the bar
will end when every step completes, because strict nbval compares a fresh run's outputs
with the saved ones but does not apply ``update_display_data`` (nbval 0.11), while
nbclient, which writes the saved outputs, does. A bar that ends otherwise (a failed
future, an interrupted cell, a run that stops counting) replaces its fallback with the
state it ended in, so the saved output never claims more than happened. In a terminal the
bar is tqdm's on standard error (``leave=False``: nothing stays behind).
"""
from __future__ import annotations

import html
import weakref

from distributed import Future, as_completed

from distlab import checks

#: The most steps a bar counts: a bound on what a caller may ask for by mistake.
MAX_STEPS = 10**9


def progress(futures, *, label: str | None = None) -> None:
    """Show a bar for ``futures`` (an iterable of ``distributed.Future``) until all finish.

    In a notebook the bar is an ipywidgets ``IntProgress`` with a static fallback of its
    final state (see the module docstring); in a terminal a tqdm bar on standard error.
    Failed futures turn the notebook's bar red; their errors surface when their results
    are read. Raises ``TypeError`` unless ``futures`` is a non-empty list of futures and
    ``label`` ``None`` or a string.
    """
    futures = checks.sequence("futures", futures)
    if not futures or not all(isinstance(f, Future) for f in futures):
        raise TypeError("futures must be a non-empty list of distributed.Future objects")
    _check_label(label)
    if label is None:  # Dask names a task's key after its function: "darts_in_circle-3f2a…"
        key = futures[0].key
        label = key.split("-")[0] if isinstance(key, str) else "tasks"
    bar = _Bar(label, len(futures))
    done = failed = 0
    try:
        for future in as_completed(futures):
            done += 1
            failed += future.status == "error"
            bar.show(done)
    finally:                                    # an interrupted cell ends the bar too
        bar.finish(failed=failed)


def _check_label(label, optional: bool = True) -> None:
    if not (isinstance(label, str) or optional and label is None):
        raise TypeError(f"label must be a string, got {type(label).__name__} {label!r}")


def _fallback(label: str, done: int, total: int, failed: int = 0) -> dict[str, str]:
    """The static face of a bar: {"text/html": …, "text/plain": …} saying ``label``,
    ``done`` of ``total`` (a bar of 20 cells in the text) and, when the bar stopped short
    or ``failed`` steps failed, so. Deterministic: counts only."""
    note = (f", {failed} failed" if failed else "") + (", stopped" if done < total else "")
    full = 20 * done // total if total else 20
    bar = "▕" + "█" * full + "░" * (20 - full) + "▏"
    return {"text/html": (f"<div>{html.escape(label)} <progress value='{done}' "
                          f"max='{total}'></progress> {done} / {total}{note}</div>"),
            "text/plain": f"{label} {bar} {done} / {total}{note}"}


class _Bar:
    """A widget in a Jupyter kernel (ipywidgets comes with the `lab` extra, which every
    kernel running the book has), tqdm elsewhere (a script, ``python -m distlab bench``)."""

    def __init__(self, label: str, total: int):
        from distlab.engines.dask_private import in_kernel
        self.label, self.total, self.done = label, total, 0
        self.box = self.tqdm = self.handle = None
        self.ended = False
        if in_kernel():
            import ipywidgets as widgets
            from IPython.display import display
            self.box = widgets.HBox([
                widgets.IntProgress(value=0, min=0, max=total, description=label),
                widgets.HTML(f"0 / {total}")])
            self.shown = self._bundle(_fallback(label, total, total))
            self.handle = display(self.shown, raw=True, display_id=True)
        else:
            from tqdm import tqdm
            self.tqdm = tqdm(total=total, desc=label, leave=False)

    def _bundle(self, static: dict) -> dict:
        return {**self.box._repr_mimebundle_(), **static}

    def show(self, done: int) -> None:
        self.done = done
        if self.box is not None:
            self.box.children[0].value = done
            self.box.children[1].value = f"{done} / {self.total}"
        else:
            self.tqdm.update(done - self.tqdm.n)

    def finish(self, failed: int = 0) -> None:
        """End the bar: colour it, and make its saved fallback the state it ended in."""
        if self.ended:
            return
        self.ended = True
        if self.box is None:
            self.tqdm.close()
            return
        stopped = self.done < self.total
        self.box.children[0].bar_style = ("danger" if failed else
                                          "warning" if stopped else "success")
        final = self._bundle(_fallback(self.label, self.done, self.total, failed))
        if final != self.shown:                 # only then: nbval sees the first bundle
            self.handle.update(final, raw=True)
            self.shown = final


class StepsBar:
    """A bar of steps the caller counts (rounds, sections, calls), drawn from the cell
    itself like :func:`progress`, so it fills under "Run All"; tqdm in a terminal. A
    caller that stops counting short of ``total`` (a lost run) leaves a bar whose saved
    fallback says where it stopped, once the caller lets go of it.

    ``label`` a string, ``total`` an int in [0, :data:`MAX_STEPS`]; raises ``TypeError``/
    ``ValueError`` naming the argument otherwise."""

    def __init__(self, label: str, total: int):
        _check_label(label, optional=False)
        self.total = total = checks.count("total", total, maximum=MAX_STEPS)
        self.bar = _Bar(label, total)
        if self.bar.box is not None:            # the terminal bar stays as tqdm leaves it
            weakref.finalize(self, self.bar.finish).atexit = False

    def update(self, done: int) -> None:
        self.bar.show(done)
        if done >= self.total:
            self.bar.finish()
