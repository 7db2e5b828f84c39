"""Chapter 6's training plot; the training itself is ``distlab.apps.training``."""
from __future__ import annotations

import pandas as pd

from distlab.apps.training.history import check_history
from distlab.present.figures import closed_figure


def plot(histories, target: float | None = None):
    """Training loss and test accuracy against communication rounds and against bytes sent
    between nodes, one line per run (``histories``: one history from ``train()`` or a
    list of them); ``target`` draws the accuracy to reach. Returns a small matplotlib
    figure, already closed in pyplot."""
    if isinstance(histories, pd.DataFrame):
        histories = [histories]
    fig = closed_figure(figsize=(9, 5), dpi=72)
    axes = fig.subplots(2, 2, sharex="col", sharey="row")
    any_sent = False
    for h in histories:
        check_history(h)
        label = h["strategy"].iloc[0]
        sent = h["bytes"].iloc[-1] > 0                  # the single process sends nothing
        any_sent |= bool(sent)
        for row, column in enumerate(("loss", "accuracy")):
            axes[row, 0].plot(h["round"], h[column], marker=".", label=label)
            if sent:
                axes[row, 1].plot(h["bytes"].iloc[1:] / 1e3, h[column].iloc[1:], marker=".",
                                  label=label)
            else:
                axes[row, 1].plot([], [])               # keep the colours in step
    axes[0, 0].set_ylabel("training loss")
    axes[0, 0].set_yscale("log")
    axes[1, 0].set_ylabel("test accuracy")
    axes[1, 0].set_ylim(0.8, 1.0)
    axes[1, 0].set_xlabel("communication rounds")
    axes[1, 1].set_xlabel("kB sent between nodes")
    if any_sent:
        axes[1, 1].set_xscale("log")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
        if target is not None and ax in axes[1]:
            ax.axhline(target, color="grey", linestyle="--", linewidth=1)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig
