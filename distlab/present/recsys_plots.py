"""Chapter 06's recommendation plot: the rows pushed to each shard, hot shard and all.

The data come from :func:`distlab.apps.recsys.train_mf` (``attrs["load"]``) or
:func:`distlab.apps.recsys.shard_load`; the figure is closed in pyplot, so it shows once,
as the cell's result.
"""
from __future__ import annotations

import numpy as np

from distlab.present.figures import closed_figure


def load_plot(loads: dict):
    """Rows pushed to each shard, one panel of bars per run (``{label: load array}``),
    with the mean drawn as a line: the hot shard stands out. Returns a small figure."""
    fig = closed_figure(figsize=(3.2 * len(loads), 2.6), dpi=72)
    axes = fig.subplots(1, len(loads), sharey=True, squeeze=False)
    for ax, (label, load) in zip(axes[0], loads.items()):
        load = np.asarray(load)
        ax.bar(np.arange(len(load)), load / 1e3, color="tab:blue")
        ax.axhline(load.mean() / 1e3, color="grey", linestyle="--", linewidth=1)
        ax.set_title(f"{label}: max/mean {load.max() / load.mean():.2f}", fontsize=9)
        ax.set_xlabel("shard")
        ax.set_xticks(np.arange(len(load)))
    axes[0][0].set_ylabel("thousand rows pushed")
    fig.tight_layout()
    return fig
