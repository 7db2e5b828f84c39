"""Presentation: tables, plots and widgets over the collectives.

Thin by design: each widget's callback calls a pure function defined here (``cost_table``,
``step_view``, ``steps_table``, ``convergence``, ``projection``), which is what the tests
call; the widget only displays its result.
"""
from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

from distlab import checks
from distlab.concepts.cost import Network, closed_form, cost_summary, lower_bound_bytes
from distlab.concepts.gossip import GOSSIP_ALGORITHMS, predicted_rounds, rate
from distlab.concepts.plans import MAX_NODES
from distlab.engines.allreduce import (ALGORITHMS, EXACT_ALGORITHMS, AllreduceResult,
                                       allreduce, check_algorithm, make_plan)
from distlab.present.figures import closed_figure
from distlab.present.static_fallback import si, with_fallback

#: The most seeded runs :func:`gossip_table` averages per node count.
MAX_SEEDS = 100


def _algorithms(algorithms, known) -> list[str]:
    """A non-empty list of names from ``known``, each checked."""
    names = [checks.choice(f"algorithms[{i}]", a, known)
             for i, a in enumerate(checks.sequence("algorithms", algorithms))]
    if not names:
        raise ValueError("algorithms must hold at least one algorithm")
    return names


def _nodes(n_nodes) -> int:
    return checks.count("n_nodes", n_nodes, minimum=1, maximum=MAX_NODES)


def _network(network) -> Network:
    if not isinstance(network, Network):
        raise TypeError(f"network must be a Network, got {type(network).__name__}")
    return network


# --------------------------------------------------------------------------------------
# the worked example, round by round
# --------------------------------------------------------------------------------------

def _cell(row: pd.Series, columns: list[str], decimals: int) -> str | float:
    if columns == ["value"]:
        return round(float(row["value"]), decimals)
    return "[" + ", ".join(f"{row[c]:.{decimals}f}" for c in columns) + "]"


def steps_table(result: AllreduceResult, decimals: int = 4) -> pd.DataFrame:
    """The trace as rounds × nodes: one row per round (its label as the index), one column
    per node; scalars as numbers, vectors as short strings. ``TypeError`` for a result
    that is not what ``allreduce`` returns; ``decimals`` an int in [0, 17]."""
    if not isinstance(result, AllreduceResult):
        raise TypeError(f"result must be what allreduce returns, got {type(result).__name__}")
    decimals = checks.count("decimals", decimals, maximum=17)
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
    the table of every node's buffer up to and including that round. Arguments and errors
    as :func:`steps_table`, and ``k`` an int in [0, rounds]."""
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


def _round_lines(view: dict) -> list[str]:
    """A round's label and its transfers (the first 24), as lines of text."""
    lines = [f"round {view['round']}: {view['label']}"]
    lines += ["    " + t for t in view["transfers"][:24]]
    if len(view["transfers"]) > 24:
        lines.append(f"    … and {len(view['transfers']) - 24} more transfers")
    return lines


def _step_html(view: dict) -> str:
    """A step view as HTML: the round, its transfers, the table so far."""
    return (f"<pre>{html.escape(chr(10).join(_round_lines(view)))}</pre>"
            + view["table"].to_html(float_format=lambda x: f"{x:g}"))


def _walk_html(result: AllreduceResult, algorithm: str) -> str:
    """Every round at once, for a reader who cannot move the slider: each round's
    transfers, then every node's buffer after each round."""
    last = len(steps_table(result)) - 1
    lines = [line for k in range(1, last + 1) for line in _round_lines(step_view(result, k))]
    return (f"<p>algorithm: <b>{html.escape(algorithm)}</b>, every round "
            f"(the slider walks them one by one)</p>"
            f"<pre>{html.escape(chr(10).join(lines))}</pre>"
            + step_view(result, last)["table"].to_html(float_format=lambda x: f"{x:g}"))


def stepper(values=(10, 20, 30), algorithm: str = "ring"):
    """A widget to walk through an all-reduce round by round: pick an algorithm, move the
    slider, read who sent what to whom and every node's buffer. An ipywidgets ``VBox``;
    its output also holds every round at once as static HTML and text, for readers who
    do not run it. ``values`` one finite number per node (2 to 16), ``algorithm`` one of
    ``ALGORITHMS``; ``TypeError``/``ValueError`` naming the argument otherwise."""
    import ipywidgets as widgets

    values = [checks.number(f"values[{i}]", v)
              for i, v in enumerate(checks.sequence("values", values))]
    if not 2 <= len(values) <= 16:
        raise ValueError(f"values must hold 2 to 16 numbers, one per node, got {len(values)}")
    pick = widgets.Dropdown(options=list(ALGORITHMS), value=check_algorithm(algorithm),
                            description="algorithm")
    slider = widgets.IntSlider(value=0, min=0, max=1, description="round")
    view = widgets.HTML()
    state = {}

    def redraw(*_):
        view.value = _step_html(step_view(state["result"], slider.value))

    def rerun(*_):
        state["result"] = allreduce(values, pick.value)
        slider.value = 0
        slider.max = len(steps_table(state["result"])) - 1
        redraw()

    pick.observe(rerun, names="value")
    slider.observe(redraw, names="value")
    rerun()
    return with_fallback(widgets.VBox([widgets.HBox([pick, slider]), view]),
                         lambda: _walk_html(state["result"], pick.value))


# --------------------------------------------------------------------------------------
# cost model
# --------------------------------------------------------------------------------------

def cost_table(n_nodes: int, n_bytes: float, network: Network = Network(),
               algorithms=ALGORITHMS, tolerance: float = 1e-6) -> pd.DataFrame:
    """Closed-form rounds, busiest node's bytes (÷ the lower bound 2(p-1)/p·n) and α-β
    time per algorithm; the tests check these closed forms against the plans. ``n_nodes``
    an int in [1, :data:`~distlab.concepts.plans.MAX_NODES`], ``n_bytes`` a finite number
    > 0, ``algorithms`` a non-empty list of ``ALGORITHMS``, ``tolerance`` in (0, 1);
    ``TypeError``/``ValueError`` naming the argument otherwise."""
    n_nodes = _nodes(n_nodes)
    n_bytes = checks.positive("n_bytes", n_bytes)
    algorithms = _algorithms(algorithms, ALGORITHMS)
    network = _network(network)
    bound = lower_bound_bytes(n_nodes, n_bytes)
    rows = []
    for algorithm in algorithms:
        cf = closed_form(algorithm, n_nodes, n_bytes, network, tolerance)
        rows.append({"algorithm": algorithm, "rounds": cf["rounds"],
                     "max bytes sent": cf["max_bytes_sent"],
                     "÷ lower bound": cf["max_bytes_sent"] / bound if bound else float("nan"),
                     "time (s)": cf["time_s"]})
    return pd.DataFrame(rows).set_index("algorithm")


def _cost_html(n_nodes: int, n_bytes: float, network: Network) -> str:
    """The cost explorer's answer: :func:`cost_table`, fastest first, in units people
    read (MB, µs). Randomised pairwise gossip has no busiest-node figure (which node
    is picked, and how often, changes with the seed): its row shows the mean per node,
    2·R·n/N, and says so."""
    table = cost_table(n_nodes, n_bytes, network).sort_values("time (s)", kind="stable")
    rows, mean_shown = [], False
    for algorithm, row in table.iterrows():
        sent, ratio = row["max bytes sent"], row["÷ lower bound"]
        if algorithm == "gossip_random" and not math.isfinite(sent):
            sent = 2 * row["rounds"] * n_bytes / n_nodes      # each tick: 2 of N nodes send
            ratio = sent / lower_bound_bytes(n_nodes, n_bytes)
            note, mean_shown = " (mean)", True
        else:
            note = ""
        ratio = f"{ratio:,.0f}" if ratio >= 100 else f"{ratio:.3g}"
        rows.append(f"<tr><th>{html.escape(algorithm)}</th><td>{int(row['rounds']):,}</td>"
                    f"<td>{si(sent, 'B')}{note}</td><td>{ratio}{note}</td>"
                    f"<td>{si(row['time (s)'], 's')}</td></tr>")
    caption = (f"{n_nodes} nodes, {si(n_bytes, 'B')} per node, α = {si(network.alpha, 's')}, "
               f"{si(network.bandwidth * 8, 'b/s')} links; fastest first")
    foot = ("<p>(mean) gossip_random: which pairs talk is random, so the busiest node's "
            "bytes change from seed to seed; shown is the mean per node, 2·R·n/N.</p>"
            if mean_shown else "")
    return (f"<p>{html.escape(caption)}</p><table><thead><tr><th>algorithm</th>"
            "<th>rounds</th><th>busiest node sends</th><th>÷ lower bound</th><th>α-β time</th>"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>{foot}")


def cost_explorer(n_nodes: int = 8, n_bytes: float = 4e6, alpha: float = 5e-6,
                  bandwidth_gbit: float = 100.0):
    """A widget: node count, message size, latency and bandwidth in, the α-β cost of every
    algorithm out, fastest first, in MB and µs. An ipywidgets ``VBox`` that opens at
    exactly these values; its output also holds the table as static HTML and text. The
    values must lie on the sliders: ``n_nodes`` an int in [2, 256], ``n_bytes`` in
    [10, 10¹¹], ``alpha`` in [10⁻⁷, 0.1] s, ``bandwidth_gbit`` in [0.1, 1000];
    ``TypeError``/``ValueError`` naming the argument otherwise."""
    import ipywidgets as widgets

    n_nodes = checks.count("n_nodes", n_nodes, minimum=2, maximum=256)
    n_bytes = checks.number("n_bytes", n_bytes, minimum=10, maximum=1e11)
    alpha = checks.number("alpha", alpha, minimum=1e-7, maximum=0.1)
    bandwidth_gbit = checks.number("bandwidth_gbit", bandwidth_gbit, minimum=0.1, maximum=1e3)

    # The browser's log slider snaps its start to its step grid and, while "continuous",
    # sends what it drew back (4e6 came back as 10^6.5 = 3.16e6; even with no grid as
    # 10^(ln 4e6 / ln 10) = 3999999.999999993). No step and no continuous update: it
    # opens at exactly the call's values, and sends a value when the learner lets go.
    # Readouts with SI prefixes: 4.00M bytes, 5.00µ s.
    log = dict(base=10, step=None, continuous_update=False)
    nodes = widgets.IntSlider(value=n_nodes, min=2, max=256, description="nodes N")
    size = widgets.FloatLogSlider(value=n_bytes, min=1, max=11, description="bytes/node",
                                  readout_format=".3s", **log)
    lat = widgets.FloatLogSlider(value=alpha, min=-7, max=-1, description="α (s)",
                                 readout_format=".3s", **log)
    bw = widgets.FloatLogSlider(value=bandwidth_gbit, min=-1, max=3, description="Gb/s",
                                readout_format=".3g", **log)
    view = widgets.HTML()

    def redraw(*_):
        view.value = _cost_html(nodes.value, size.value,
                                Network(alpha=lat.value, bandwidth=bw.value * 1e9 / 8))

    for w in (nodes, size, lat, bw):
        w.observe(redraw, names="value")
    redraw()
    return with_fallback(widgets.VBox([widgets.HBox([nodes, size]), widgets.HBox([lat, bw]),
                                       view]))


def projection(n_params: float = 7e9, bytes_per_param: int = 4, n_nodes: int = 64,
               network: Network = Network(alpha=5e-6, bandwidth=100e9 / 8),
               algorithms=EXACT_ALGORITHMS) -> pd.DataFrame:
    """One all-reduce of a model's gradients: bytes, rounds and α-β time per algorithm,
    derived from the plans (the gradient is n_params × bytes_per_param bytes per node).
    ``n_params`` a finite number ≥ 1 (at most 10¹⁵), ``bytes_per_param`` an int in [1,
    16], ``n_nodes`` as :func:`cost_table`, ``algorithms`` a non-empty list of
    ``EXACT_ALGORITHMS``; ``TypeError``/``ValueError`` naming the argument otherwise."""
    n_nodes = _nodes(n_nodes)
    n = int(checks.number("n_params", n_params, minimum=1, maximum=1e15))
    bytes_per_param = checks.count("bytes_per_param", bytes_per_param, minimum=1, maximum=16)
    network = _network(network)
    algorithms = _algorithms(algorithms, EXACT_ALGORITHMS)
    rows = []
    for algorithm in algorithms:
        s = cost_summary(make_plan(algorithm, n_nodes), n, bytes_per_param, network)
        rows.append({"algorithm": algorithm, "rounds": s["rounds"],
                     "GB sent by busiest node": s["max_bytes_sent"] / 1e9,
                     "time (s)": s["time_s"]})
    return pd.DataFrame(rows).set_index("algorithm")


def plot_costs(n_nodes: int, sizes, network: Network, algorithms=EXACT_ALGORITHMS):
    """α-β time against message size, one line per algorithm (log-log). ``sizes`` a
    non-empty list of finite numbers > 0 (bytes per node); the other arguments and errors
    as :func:`cost_table`. Returns a figure, already closed in pyplot."""
    n_nodes, network = _nodes(n_nodes), _network(network)
    sizes = [checks.positive(f"sizes[{i}]", s) for i, s in enumerate(checks.sequence("sizes",
                                                                                   sizes))]
    if not sizes:
        raise ValueError("sizes must hold at least one size in bytes")
    algorithms = _algorithms(algorithms, ALGORITHMS)
    fig = closed_figure(figsize=(6, 3.5), dpi=80)
    ax = fig.subplots()
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
    """Relative disagreement ‖x(k) - x̄1‖ / ‖x(0) - x̄1‖ after each round of ``result``:
    a DataFrame with columns ``round`` and ``error``. ``TypeError`` for a result that is
    not what ``allreduce`` returns."""
    if not isinstance(result, AllreduceResult):
        raise TypeError(f"result must be what allreduce returns, got {type(result).__name__}")
    trace = result.trace
    columns = [c for c in trace.columns if c not in ("round", "step", "node")]
    values = trace[columns].to_numpy(dtype=float).reshape(-1, result.n_nodes, len(columns))
    mean = values[0].mean(axis=0)
    spread = np.linalg.norm(values[0] - mean)
    errors = [np.linalg.norm(v - mean) / spread if spread else 0.0 for v in values]
    return pd.DataFrame({"round": np.arange(len(values)), "error": errors})


def _check_curve(name: str, curve) -> pd.DataFrame:
    if not isinstance(curve, pd.DataFrame) or not {"round", "error"} <= set(curve.columns):
        raise TypeError(f"{name} must be a DataFrame from convergence() (columns round and "
                        f"error), got {type(curve).__name__}")
    if curve.empty:
        raise ValueError(f"{name} must hold at least one round")
    return curve


def rounds_to(curve: pd.DataFrame, tolerance: float) -> int:
    """The first round at which the error is at most ``tolerance``. ``curve`` from
    :func:`convergence`, ``tolerance`` in (0, 1]; ``TypeError``/``ValueError`` naming the
    argument otherwise, and ``ValueError`` when the curve never reaches it."""
    curve = _check_curve("curve", curve)
    tolerance = checks.fraction("tolerance", tolerance, open_low=True)
    hit = curve.loc[curve["error"] <= tolerance, "round"]
    if hit.empty:
        raise ValueError(f"tolerance {tolerance:g} is never reached: the curve's error "
                         f"falls to {curve['error'].min():.3g} at best")
    return int(hit.iloc[0])


def gossip_table(node_counts=(8, 16), tolerance: float = 1e-6, seed: int = 0,
                 seeds: int = 5) -> pd.DataFrame:
    """Rounds to ``tolerance``: measured on the simulator against the spectral-gap
    prediction ln(1/ε)/ln(1/r), for each gossip algorithm and node count (values 0..N-1
    scrambled; pairwise gossip averaged over ``seeds`` seeds, in ticks). ``node_counts``
    a non-empty list of ints in [2, 64] (pairwise gossip needs ~40·N ticks), ``tolerance``
    in (0, 1), ``seed`` an int ≥ 0, ``seeds`` an int in [1, :data:`MAX_SEEDS`];
    ``TypeError``/``ValueError`` naming the argument otherwise."""
    node_counts = [checks.count(f"node_counts[{i}]", n, minimum=2, maximum=64)
                   for i, n in enumerate(checks.sequence("node_counts", node_counts))]
    if not node_counts:
        raise ValueError("node_counts must hold at least one node count")
    tolerance = checks.fraction("tolerance", tolerance, open_low=True, open_high=True)
    seed = checks.count("seed", seed)
    seeds = checks.count("seeds", seeds, minimum=1, maximum=MAX_SEEDS)
    rows = []
    for n in node_counts:
        values = list(np.random.default_rng(seed).permutation(n).astype(float))
        for algorithm in GOSSIP_ALGORITHMS:
            runs = range(seeds) if algorithm == "gossip_random" else [seed]
            # the plans run to 1e-6, or further for a smaller tolerance
            measured = [rounds_to(convergence(allreduce(values, algorithm, seed=s,
                                                        tolerance=min(tolerance, 1e-6))),
                                  tolerance) for s in runs]
            predicted = predicted_rounds(algorithm, n, tolerance)
            rows.append({"algorithm": algorithm, "N": n, "r": round(rate(algorithm, n), 4),
                         "predicted": round(predicted, 1),
                         "measured": float(np.mean(measured)),
                         "measured / predicted": round(float(np.mean(measured)) / predicted, 2)})
    return pd.DataFrame(rows)


def plot_convergence(curves: dict, tolerance: float | None = None):
    """Error against round, one line per labelled curve (log scale): ``curves`` a
    non-empty dict {label: :func:`convergence` DataFrame}, ``tolerance`` None or in
    (0, 1]. Returns a figure, already closed in pyplot; ``TypeError``/``ValueError``
    naming the argument otherwise."""
    if not isinstance(curves, dict):
        raise TypeError(f"curves must be a dict {{label: convergence DataFrame}}, got "
                        f"{type(curves).__name__}")
    if not curves:
        raise ValueError("curves must hold at least one curve")
    for label, curve in curves.items():
        _check_curve(f"curves[{label!r}]", curve)
    if tolerance is not None:
        tolerance = checks.fraction("tolerance", tolerance, open_low=True)
    fig = closed_figure(figsize=(6, 3.5), dpi=80)
    ax = fig.subplots()
    for label, curve in curves.items():
        ax.plot(curve["round"], np.maximum(curve["error"], 1e-17), label=label)
    if tolerance:
        ax.axhline(tolerance, color="grey", linestyle="--", linewidth=1, label="ε")
    ax.set(yscale="log", xlabel="round", ylabel="‖x − x̄‖ / ‖x(0) − x̄‖",
           title="gossip converges to the mean")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
