"""Chapter 2.2's plots and widget; the store and the checker are ``distlab.apps.stores``."""
from __future__ import annotations

import html

from distlab import checks
from distlab.apps import stores
from distlab.present.figures import closed_figure
from distlab.present.static_fallback import with_fallback
from distlab.concepts.events import Latency

METRICS = ("write latency (ms)", "read latency (ms)", "stale reads (%)", "timed out (%)",
           "convergence (ms)")


def tradeoff_plot(table):
    """One small bar chart per metric of a ``stores.tradeoff`` table; ``TypeError`` for
    anything else, ``ValueError`` for one without rows."""
    import pandas as pd

    if not isinstance(table, pd.DataFrame) or not set(METRICS) <= set(table.columns):
        raise TypeError("table must be what stores.tradeoff returned")
    if table.empty:
        raise ValueError("table must hold at least one setting")
    fig = closed_figure(figsize=(10, 2.4), dpi=80, layout="constrained")
    axes = fig.subplots(1, len(METRICS))
    colours = ["#4c72b0", "#dd8452", "#55a868", "#c44e52"]
    for ax, metric in zip(axes, METRICS):
        ax.bar(table.index, table[metric], color=colours[:len(table)])
        ax.set_title(metric, fontsize=9)
        ax.tick_params(labelsize=8)
    return fig


def timeline_plot(run: "stores.Run", start_ms: float = 0, end_ms: float | None = None,
                  mark=()):
    """Each process's operations over virtual time, from ``start_ms`` to ``end_ms``: an
    operation that takes time is a bar, an instantaneous one a tick; writes blue, reads
    green, the operations in ``mark`` red, operations that timed out hatched grey; faults
    in the window as dotted lines. (A client whose operation timed out carries on as a new
    process, c0 → c0'.) ``run`` what ``stores.run`` returned, ``start_ms`` <
    ``end_ms`` (finite; a window may open before time 0; default end: the last completion), ``mark`` a list of the run's
    operations; ``TypeError``/``ValueError`` naming the argument otherwise."""
    if not isinstance(run, stores.Run):
        raise TypeError(f"run must be what stores.run returned, got {type(run).__name__}")
    timeout = run.config.timeout * 1000
    done = [o for o in run.history if o.complete is not None]
    start_ms = checks.number("start_ms", start_ms)
    if end_ms is None:
        end_ms = max((o.complete for o in done), default=start_ms + 1)
    end_ms = checks.number("end_ms", end_ms, minimum=start_ms, strict=True)
    mark = checks.sequence("mark", mark)
    strangers = [o for o in mark if o not in run.history]
    if strangers:
        raise ValueError(f"mark must hold operations of the run's history, got {strangers[0]!r}")
    # An operation that timed out is drawn up to the client's timeout, hatched.
    ops = [(o, o.complete if o.complete is not None else o.invoke + timeout)
           for o in run.history]
    ops = [(o, end) for o, end in ops if end >= start_ms and o.invoke <= end_ms]
    processes = sorted({o.process for o, _ in ops})
    marked = set(mark)
    span = end_ms - start_ms
    fig = closed_figure(figsize=(9, 1.3 + 0.45 * len(processes)), dpi=80, layout="constrained")
    ax = fig.subplots()
    for o, end in ops:
        y = processes.index(o.process)
        colour = "#d62728" if o in marked else ("#4c72b0" if o.kind == "write" else "#55a868")
        label = ("w" if o.kind == "write" else "r") + ("∅" if o.value is None else str(o.value))
        if o.complete is None:
            ax.barh(y, end - o.invoke, left=o.invoke, height=0.5, color="white",
                    edgecolor="#999", hatch="//")
            label = ("w" + str(o.value) if o.kind == "write" else "r") + " timed out"
            colour = "#666"
        elif end - o.invoke > span / 200:
            ax.barh(y, end - o.invoke, left=o.invoke, height=0.5, color=colour)
        else:
            ax.plot([o.invoke], [y], marker="|", markersize=14, markeredgewidth=2, color=colour)
        ax.text(max(o.invoke, start_ms), y + 0.3, label, fontsize=8, color=colour, clip_on=True)
    for f in run.faults:
        if f.action in ("crash", "recover", "partition", "heal") and \
                start_ms <= f.time * 1000 <= end_ms:
            ax.axvline(f.time * 1000, color="#999", linestyle=":")
            ax.text(f.time * 1000, len(processes) - 0.45, f" {f.action}", fontsize=7,
                    color="#666", clip_on=True)
    ax.set_yticks(range(len(processes)), processes)
    ax.set_ylim(-0.6, len(processes) - 0.2)
    ax.set_xlim(start_ms, end_ms)
    ax.set_xlabel("virtual time (ms): writes blue, reads green, marked red, timed out hatched")
    return fig


def render(n: int, r: int, w: int, delay_ms: float, replication: str, seeds: int = 5) -> str:
    """The explorer's answer as HTML: the measured metrics over ``seeds`` seeds (1 to 100),
    or why the setting is impossible (what the widget shows; tests call this). Never
    raises for bad input: the error, which names the argument, is the answer."""
    try:
        checks.count("seeds", seeds, minimum=1, maximum=100)
        config = stores.StoreConfig(n=n, r=r, w=w, replication=replication,
                                         latency=Latency(base=delay_ms / 2000,
                                                         jitter=delay_ms / 1000))
        table = stores.tradeoff({config.label: config}, seeds=range(seeds))
    except (TypeError, ValueError) as exc:
        return f"<p style='color:#b00'>{html.escape(str(exc))}</p>"
    row = table.iloc[0]
    cells = [(k, row[k]) for k in METRICS] + [
        ("linearizable seeds", row["linearizable"]), ("seeds with a stale read", row["had a stale read"]),
        ("converged seeds", row["converged"])]
    body = "".join(f"<tr><td style='text-align:left'>{html.escape(str(k))}</td>"
                   f"<td style='text-align:right'><b>{html.escape(str(v))}</b></td></tr>"
                   for k, v in cells)
    return (f"<p>{html.escape(config.label)}, mean one-way delay {delay_ms:g} ms, "
            f"standard faults, {seeds} seeds</p><table>{body}</table>")


def explorer():
    """Sliders for N, R, W, the network delay and the replication mode; every change
    re-runs the simulator (milliseconds) and shows what it measured. An ipywidgets
    ``VBox``; its output also holds the settings and the measurements as static HTML and
    text, for readers who do not run it. Raises nothing."""
    import ipywidgets as wd

    style = {"description_width": "120px"}
    n = wd.IntSlider(value=3, min=1, max=7, description="N replicas", style=style)
    r = wd.IntSlider(value=2, min=1, max=7, description="R read quorum", style=style)
    w = wd.IntSlider(value=2, min=1, max=7, description="W write quorum", style=style)
    delay = wd.FloatSlider(value=10, min=1, max=50, step=1, description="delay (ms)", style=style)
    mode = wd.ToggleButtons(options=[("sync (strong)", "sync"), ("async (eventual)", "async")],
                            value="sync", description="replication", style=style)
    out = wd.HTML()

    def update(_=None):
        out.value = render(n.value, r.value, w.value, delay.value, mode.value)

    for control in (n, r, w, delay, mode):
        control.observe(update, names="value")
    update()
    return with_fallback(wd.VBox([
        wd.HTML("<b>Replicated store explorer</b>: N, R, W, delay, replication"),
        n, r, w, delay, mode, out]))
