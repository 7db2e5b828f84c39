"""Chapter 6's training plots; the training itself is ``distlab.apps.training``."""
from __future__ import annotations

from distlab import checks
from distlab.apps.training.history import _named_histories
from distlab.present.figures import closed_figure

#: The x axes of :func:`plot`: a history's column, its scale, and its label.
AXES = (("round", 1, "communication rounds"),
        ("samples", 1, "examples processed (all nodes)"),
        ("bytes", 1e-3, "kB sent between nodes"))


def _runs(histories, target) -> list:
    """(label, history) pairs from one history, a list, or a dict of named histories;
    ``target`` checked too (None or an accuracy in [0, 1])."""
    if target is not None:
        checks.fraction("target", target)
    return [(h["strategy"].iloc[0] if name is None else name, h)
            for name, h in _named_histories(histories)]


def plot(histories, target: float | None = None):
    """Training loss and test accuracy against communication rounds, against examples
    processed and against bytes sent between nodes, one line per run (``histories``:
    one history from ``train()``, a list of them, or a dict naming each run); ``target``
    draws the accuracy to reach. Per round, local SGD and gossip process H times the
    examples of a synchronous round: the middle column compares the work done. Returns
    a small matplotlib figure, already closed in pyplot. ``TypeError``/``ValueError``
    naming the argument for histories that are not from ``train()`` or a target outside
    [0, 1]."""
    fig = closed_figure(figsize=(11, 5), dpi=72)
    axes = fig.subplots(2, 3, sharex="col", sharey="row")
    any_sent = False
    for label, h in _runs(histories, target):
        sent = h["bytes"].iloc[-1] > 0                  # the single process sends nothing
        any_sent |= bool(sent)
        for row, column in enumerate(("loss", "accuracy")):
            for col, (x, scale, _) in enumerate(AXES):
                if x == "bytes" and not sent:
                    axes[row, col].plot([], [])          # keep the colours in step
                    continue
                first = 1 if x == "bytes" else 0         # log axis: no zero bytes
                axes[row, col].plot(h[x].iloc[first:] * scale, h[column].iloc[first:],
                                    marker=".", label=label)
    axes[0, 0].set_ylabel("training loss")
    axes[0, 0].set_yscale("log")
    axes[1, 0].set_ylabel("test accuracy")
    axes[1, 0].set_ylim(0.8, 1.0)
    for col, (_, _, xlabel) in enumerate(AXES):
        axes[1, col].set_xlabel(xlabel)
    if any_sent:
        axes[1, 2].set_xscale("log")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
        if target is not None and ax in axes[1]:
            ax.axhline(target, color="grey", linestyle="--", linewidth=1)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def time_plot(histories, target: float | None = None):
    """Virtual-time runs (:func:`distlab.apps.training.simulate`): test accuracy (left)
    and examples processed (right) against virtual seconds, one line per run. A steeper
    line on the right is a strategy whose nodes wait less. Returns a closed figure.
    Errors as :func:`plot`, and ``TypeError`` for histories without virtual time."""
    runs = _runs(histories, target)
    if any("time" not in h for _, h in runs):
        raise TypeError("histories must be virtual-time histories (from simulate())")
    fig = closed_figure(figsize=(9, 3.2), dpi=72)
    left, right = fig.subplots(1, 2, sharex=True)
    for label, h in runs:
        left.plot(h["time"], h["accuracy"], marker=".", label=label)
        right.plot(h["time"], h["samples"], marker=".", label=label)
    left.set_ylim(0.8, 1.0)
    left.set_ylabel("test accuracy")
    right.set_ylabel("examples processed (all nodes)")
    if target is not None:
        left.axhline(target, color="grey", linestyle="--", linewidth=1)
    for ax in (left, right):
        ax.set_xlabel("virtual seconds")
        ax.grid(alpha=0.3)
    left.legend(fontsize=8)
    fig.tight_layout()
    return fig
