"""Chapter 8.2's tuning plot; the tuner itself is ``distlab.apps.tuning``."""
from __future__ import annotations

from distlab.apps.tuning import Tuning
from distlab.present.figures import closed_figure


def plot(tuning: Tuning):
    """Predicted against measured seconds for the configurations that ran (log-log, in
    ms), the default and the chosen one marked. Returns a small matplotlib figure, already
    closed in pyplot. Raises ``TypeError`` for anything but what ``tune()`` returned."""
    if not isinstance(tuning, Tuning):
        raise TypeError(f"tuning must be what tune() returned, got {type(tuning).__name__}")
    ran = tuning.table.dropna(subset=["measured_s"])
    fig = closed_figure(figsize=(5, 3.4), dpi=72)
    ax = fig.subplots()
    for w, group in ran.groupby("workers"):
        ax.scatter(group["predicted_s"] * 1e3, group["measured_s"] * 1e3,
                   label=f"{w} worker{'s' if w > 1 else ''}")
    for config, text in ((tuning.default, "default"), (tuning.chosen, "chosen")):
        ax.annotate(text, (tuning.predicted(config) * 1e3, tuning.measured(config) * 1e3),
                    textcoords="offset points", xytext=(6, 4), fontsize=9)
    low = min(ran["predicted_s"].min(), ran["measured_s"].min()) * 1e3 * 0.7
    high = max(ran["predicted_s"].max(), ran["measured_s"].max()) * 1e3 * 1.4
    ax.plot([low, high], [low, high], color="grey", linewidth=1, linestyle="--")
    ax.set(xscale="log", yscale="log", xlabel="predicted (ms)", ylabel="measured (ms)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
