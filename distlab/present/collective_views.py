"""Presentation: tables, plots and widgets over the collectives.

Thin by design: each widget's callback calls a pure function defined here (``cost_table``,
``step_view``, ``steps_table``, ``convergence``, ``projection``), which is what the tests
call; the widget only displays its result.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from distlab.engines.allreduce import (ALGORITHMS, EXACT_ALGORITHMS, AllreduceResult,
    allreduce, check_algorithm, check_nodes, make_plan)
from distlab.concepts.cost import Network, closed_form, cost_summary, lower_bound_bytes
from distlab.concepts.gossip import predicted_rounds, rate


# --------------------------------------------------------------------------------------
# the worked example, round by round
# --------------------------------------------------------------------------------------

def _cell(row: pd.Series, columns: list[str], decimals: int) -> str | float:
    if columns == ["value"]:
        return round(float(row["value"]), decimals)
    return "[" + ", ".join(f"{row[c]:.{decimals}f}" for c in columns) + "]"


def steps_table(result: AllreduceResult, decimals: int = 4) -> pd.DataFrame:
    """The trace as rounds × nodes: one row per round (its label as the index), one column
    per node; scalars as numbers, vectors as short strings."""
    if not isinstance(result, AllreduceResult):
        raise TypeError(f"result must be what allreduce returns, got {type(result).__name__}")
    trace = result.trace
    columns = [c for c in trace.columns if c not in ("round", "step", "node")]
    table = {}
    for (k, step), group in trace.groupby(["round", "step"], sort=False):
        table[f"{k}: {step}"] = {f"node {int(row['node'])}": _cell(row, columns, decimals)
                                 for _, row in group.iterrows()}
    frame = pd.DataFrame.from_dict(table, orient="index")
    frame.index.name = "round: step"
    return frame


def step_view(result: AllreduceResult, k: int, decimals: int = 4) -> dict:
    """What happens in round ``k`` (0 = the start): its label, its transfers as text, and
    the table of every node's buffer up to and including that round."""
    table = steps_table(result, decimals)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    if not 0 <= k < len(table):
        raise ValueError(f"k must be between 0 and {len(table) - 1}, got {k}")
    if k == 0:
        label, transfers = "start: every node holds its own value", []
    elif k <= result.rounds:
        rnd = result.plan.rounds[k - 1]
        label = rnd.label
        transfers = [t.describe(result.plan.blocks) for t in rnd.transfers]
    else:
        label, transfers = table.index[k].split(": ", 1)[1], []
    return {"round": k, "label": label, "transfers": transfers, "table": table.iloc[:k + 1]}


def step_html(view: dict) -> str:
    """A step view as HTML: the round, its transfers, the table so far."""
    import html

    lines = [f"round {view['round']}: {view['label']}"]
    lines += ["    " + t for t in view["transfers"][:24]]
    if len(view["transfers"]) > 24:
        lines.append(f"    … and {len(view['transfers']) - 24} more transfers")
    return (f"<pre>{html.escape(chr(10).join(lines))}</pre>"
            + view["table"].to_html(float_format=lambda x: f"{x:g}"))


def stepper(values=(10, 20, 30), algorithm: str = "ring"):
    """A widget to walk through an all-reduce round by round: pick an algorithm, move the
    slider, read who sent what to whom and every node's buffer."""
    import ipywidgets as widgets

    values = list(values)
    pick = widgets.Dropdown(options=list(ALGORITHMS), value=check_algorithm(algorithm),
                            description="algorithm")
    slider = widgets.IntSlider(value=0, min=0, max=1, description="round")
    view = widgets.HTML()
    state = {}

    def redraw(*_):
        view.value = step_html(step_view(state["result"], slider.value))

    def rerun(*_):
        state["result"] = allreduce(values, pick.value)
        slider.value = 0
        slider.max = len(steps_table(state["result"])) - 1
        redraw()

    pick.observe(rerun, names="value")
    slider.observe(redraw, names="value")
    rerun()
    return widgets.VBox([widgets.HBox([pick, slider]), view])


# --------------------------------------------------------------------------------------
# cost model
# --------------------------------------------------------------------------------------

def cost_table(n_nodes: int, n_bytes: float, network: Network = Network(),
               algorithms=ALGORITHMS, tolerance: float = 1e-6) -> pd.DataFrame:
    """Closed-form rounds, busiest node's bytes (÷ the lower bound 2(p-1)/p·n) and α-β
    time per algorithm; the tests check these closed forms against the plans."""
    n_nodes = check_nodes(n_nodes)
    if not n_bytes > 0:
        raise ValueError(f"n_bytes must be positive, got {n_bytes!r}")
    bound = lower_bound_bytes(n_nodes, n_bytes)
    rows = []
    for algorithm in algorithms:
        cf = closed_form(check_algorithm(algorithm), n_nodes, n_bytes, network, tolerance)
        rows.append({"algorithm": algorithm, "rounds": cf["rounds"],
                     "max bytes sent": cf["max_bytes_sent"],
                     "÷ lower bound": cf["max_bytes_sent"] / bound if bound else float("nan"),
                     "time (s)": cf["time_s"]})
    return pd.DataFrame(rows).set_index("algorithm")


def _fmt_seconds(s: float) -> str:
    if not math.isfinite(s):
        return "—"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s * 1e9:.3g} ns"


def cost_explorer(n_nodes: int = 8, n_bytes: float = 4e6, alpha: float = 5e-6,
                  bandwidth_gbit: float = 100.0):
    """A widget: node count, message size, latency and bandwidth in, the α-β cost of every
    algorithm out, fastest first."""
    import ipywidgets as widgets

    nodes = widgets.IntSlider(value=n_nodes, min=2, max=256, description="nodes N")
    size = widgets.FloatLogSlider(value=n_bytes, base=10, min=1, max=11, step=0.25,
                                  description="bytes/node", readout_format=".2e")
    lat = widgets.FloatLogSlider(value=alpha, base=10, min=-7, max=-1, step=0.25,
                                 description="α (s)", readout_format=".1e")
    bw = widgets.FloatLogSlider(value=bandwidth_gbit, base=10, min=-1, max=3, step=0.25,
                                description="Gb/s", readout_format=".3g")
    view = widgets.HTML()

    def redraw(*_):
        network = Network(alpha=lat.value, bandwidth=bw.value * 1e9 / 8)
        table = cost_table(nodes.value, size.value, network).sort_values("time (s)")
        table["time"] = table.pop("time (s)").map(_fmt_seconds)
        view.value = table.round(3).to_html()

    for w in (nodes, size, lat, bw):
        w.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([nodes, size]), widgets.HBox([lat, bw]), view])


def projection(n_params: float = 7e9, bytes_per_param: int = 4, n_nodes: int = 64,
               network: Network = Network(alpha=5e-6, bandwidth=100e9 / 8),
               algorithms=EXACT_ALGORITHMS) -> pd.DataFrame:
    """One all-reduce of a model's gradients: bytes, rounds and α-β time per algorithm,
    derived from the plans (the gradient is n_params × bytes_per_param bytes per node)."""
    n_nodes = check_nodes(n_nodes)
    n = int(n_params)
    rows = []
    for algorithm in algorithms:
        s = cost_summary(make_plan(algorithm, n_nodes), n, bytes_per_param, network)
        rows.append({"algorithm": algorithm, "rounds": s["rounds"],
                     "GB sent by busiest node": s["max_bytes_sent"] / 1e9,
                     "time (s)": s["time_s"]})
    return pd.DataFrame(rows).set_index("algorithm")


def plot_costs(n_nodes: int, sizes, network: Network, algorithms=EXACT_ALGORITHMS):
    """α-β time against message size, one line per algorithm (log-log)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=80)
    for algorithm in algorithms:
        ax.plot(sizes, [closed_form(algorithm, n_nodes, s, network)["time_s"] for s in sizes],
                label=algorithm, marker=".")
    ax.set(xscale="log", yscale="log", xlabel="bytes per node", ylabel="α-β time (s)",
           title=f"all-reduce on {n_nodes} nodes")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------
# gossip convergence
# --------------------------------------------------------------------------------------

def convergence(result: AllreduceResult) -> pd.DataFrame:
    """Relative disagreement ‖x(k) - x̄1‖ / ‖x(0) - x̄1‖ after each round of ``result``."""
    if not isinstance(result, AllreduceResult):
        raise TypeError(f"result must be what allreduce returns, got {type(result).__name__}")
    trace = result.trace
    columns = [c for c in trace.columns if c not in ("round", "step", "node")]
    values = trace[columns].to_numpy(dtype=float).reshape(-1, result.n_nodes, len(columns))
    mean = values[0].mean(axis=0)
    spread = np.linalg.norm(values[0] - mean)
    errors = [np.linalg.norm(v - mean) / spread if spread else 0.0 for v in values]
    return pd.DataFrame({"round": np.arange(len(values)), "error": errors})


def rounds_to(curve: pd.DataFrame, tolerance: float) -> int:
    """The first round at which the error is at most ``tolerance``."""
    hit = curve.loc[curve["error"] <= tolerance, "round"]
    if hit.empty:
        raise ValueError(f"the error never fell to {tolerance}")
    return int(hit.iloc[0])


def gossip_table(node_counts=(8, 16), tolerance: float = 1e-6, seed: int = 0,
                 seeds: int = 5) -> pd.DataFrame:
    """Rounds to ``tolerance``: measured on the simulator against the spectral-gap
    prediction ln(1/ε)/ln(1/r), for each gossip algorithm and node count (values 0..N-1
    scrambled; pairwise gossip averaged over ``seeds`` seeds, in ticks)."""
    rows = []
    for n in node_counts:
        values = list(np.random.default_rng(seed).permutation(n).astype(float))
        for algorithm in ("gossip_ring", "gossip_complete", "gossip_random"):
            runs = range(seeds) if algorithm == "gossip_random" else [seed]
            measured = [rounds_to(convergence(allreduce(values, algorithm, seed=s)),
                                  tolerance) for s in runs]
            predicted = predicted_rounds(algorithm, n, tolerance)
            rows.append({"algorithm": algorithm, "N": n, "r": round(rate(algorithm, n), 4),
                         "predicted": round(predicted, 1),
                         "measured": float(np.mean(measured)),
                         "measured / predicted": round(float(np.mean(measured)) / predicted, 2)})
    return pd.DataFrame(rows)


def plot_convergence(curves: dict, tolerance: float | None = None):
    """Error against round, one line per labelled curve (log scale)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=80)
    for label, curve in curves.items():
        ax.plot(curve["round"], np.maximum(curve["error"], 1e-17), label=label)
    if tolerance:
        ax.axhline(tolerance, color="grey", linestyle="--", linewidth=1, label="ε")
    ax.set(yscale="log", xlabel="round", ylabel="‖x − x̄‖ / ‖x(0) − x̄‖",
           title="gossip converges to the mean")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
