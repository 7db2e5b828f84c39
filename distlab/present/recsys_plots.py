"""Chapter 06's recommendation plot: the rows pushed to each shard, hot shard and all.

The data come from :func:`distlab.apps.recsys.train_mf` (``attrs["load"]``) or
:func:`distlab.apps.recsys.shard_load`; the figure is closed in pyplot, so it shows once,
as the cell's result.
"""
from __future__ import annotations

import numpy as np

from distlab.present.figures import closed_figure


def _load(label, load) -> np.ndarray:
    array = np.asarray(load) if not isinstance(load, (str, bytes)) else np.asarray(None)
    if array.dtype.kind not in "iu" or array.ndim != 1:
        raise TypeError(f"loads[{label!r}] must be a list of row counts (ints), got {load!r}")
    if array.size == 0 or array.min() < 0 or not array.any():
        raise ValueError(f"loads[{label!r}] must hold counts ≥ 0, not all zero; got {load!r}")
    return array


def load_plot(loads: dict):
    """Rows pushed to each shard, one panel of bars per run (``{label: load array}``),
    with the mean drawn as a line: the hot shard stands out. Returns a small figure.
    ``TypeError``/``ValueError`` naming ``loads`` unless it is a non-empty dict of
    non-empty lists of counts ≥ 0 (not all zero)."""
    if not isinstance(loads, dict):
        raise TypeError(f"loads must be a dict {{label: rows per shard}}, got "
                        f"{type(loads).__name__}")
    if not loads:
        raise ValueError("loads must hold at least one run")
    loads = {label: _load(label, load) for label, load in loads.items()}
    fig = closed_figure(figsize=(3.2 * len(loads), 2.6), dpi=72)
    axes = fig.subplots(1, len(loads), sharey=True, squeeze=False)
    for ax, (label, load) in zip(axes[0], loads.items()):
        ax.bar(np.arange(len(load)), load / 1e3, color="tab:blue")
        ax.axhline(load.mean() / 1e3, color="grey", linestyle="--", linewidth=1)
        ax.set_title(f"{label}: max/mean {load.max() / load.mean():.2f}", fontsize=9)
        ax.set_xlabel("shard")
        ax.set_xticks(np.arange(len(load)))
    axes[0][0].set_ylabel("thousand rows pushed")
    fig.tight_layout()
    return fig
