"""The all-reduce drawn: a vector cut into p coloured chunks, frame by frame.

Every one of p nodes holds a vector cut into p chunks. Input j (node j's own vector) has
its own colour; a chunk is drawn as p thin stripes, stripe j coloured when input j has
been summed into that chunk so far and left pale when not. One panel per round, the start
first: at the start node i's chunks show stripe i only; at the end every chunk of every
node shows all p stripes, the full sum. Chunks that a transfer of the round landed on are
outlined. Nothing is drawn by hand: the frames are the plan run by the kernel.

How a frame knows which inputs a chunk sums: node j's input is the vector whose every
element is 2^j. An exact all-reduce adds each input into a partial sum at most once, so
after any round an element holds Σ_{j ∈ S} 2^j for the set S of inputs it sums so far,
and the binary digits of the value are S. The values come from
:func:`distlab.concepts.kernel.run_plan`, the arithmetic every engine applies (the
simulator behind ``distlab.allreduce`` is that function); the tests replay the plan on
sets instead of numbers and find the same S. float64 holds these integers exactly far
beyond the ten nodes drawn here.

What the pictures show (Thakur, Rabenseifner & Gropp, "Optimization of Collective
Communication Operations in MPICH", IJHPCA 2005; Patarasuk & Yuan, "Bandwidth optimal
all-reduce algorithms for clusters of workstations", JPDC 2009):

- **ring**: p − 1 reduce-scatter rounds, each node passing one chunk to its right
  neighbour, who adds it; node i then holds chunk i + 1 complete. p − 1 all-gather rounds
  copy the finished chunks around. One chunk per node per round: (p − 1)/p of the vector
  per half.
- **tree** (binomial): the whole vector climbs to node 0 in ⌈lg p⌉ rounds, then comes
  back down in ⌈lg p⌉.
- **recursive doubling**: the whole vector swapped with the node at distance 1, 2, 4, …
  and added; lg p rounds.
"""
from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from distlab import checks
from distlab.concepts.kernel import block_bounds, run_plan
from distlab.concepts.plans import EXACT_BUILDERS, Plan
from distlab.present.figures import closed_figure

__all__ = ["MAX_NODES", "ALGORITHMS", "chunk_sources", "draw_frames"]

#: Ten inputs, ten colours (matplotlib's tab10); beyond that a panel is no longer readable.
MAX_NODES = 10
#: The exact algorithms, in the order the book introduces them.
ALGORITHMS = tuple(EXACT_BUILDERS)
PALE = "#ececec"


def _plan(algorithm, nodes) -> Plan:
    algorithm = checks.choice("algorithm", algorithm, ALGORITHMS)
    nodes = checks.count("nodes", nodes, minimum=1, maximum=MAX_NODES)
    return EXACT_BUILDERS[algorithm](nodes)


def _landed(plan: Plan, length: int) -> list[set[tuple[int, int]]]:
    """Per round (0 = the start, nothing landed), the (node, element) pairs a transfer of
    that round wrote to."""
    bounds = block_bounds(length, plan.blocks)
    landed = [set()]
    for rnd in plan.rounds:
        landed.append({(t.dst, e) for t in rnd.transfers
                       for e in range(bounds[t.chunk[0]], bounds[t.chunk[1]])})
    return landed


def _sources(value: float, nodes: int) -> tuple[int, ...]:
    """The inputs summed into an element whose value is Σ_{j ∈ S} 2^j: the bits of S."""
    whole = int(value)
    if whole != value or not 0 < whole < 1 << nodes:
        raise RuntimeError(f"an element holds {value!r}, not a sum of distinct inputs: "
                           "the plan added an input twice")
    return tuple(j for j in range(nodes) if whole >> j & 1)


def chunk_sources(algorithm: str = "ring", nodes: int = 4) -> pd.DataFrame:
    """Which inputs each chunk of each node sums after each round of ``algorithm``.

    ``algorithm``: one of :data:`ALGORITHMS`; ``nodes`` p in 1 … :data:`MAX_NODES`. The
    vector has p elements, chunk c being element c (for the tree and recursive doubling,
    whose plans move the vector whole, the chunks simply travel together). One row per
    (round, node, chunk): ``round`` (0 = the start, then 1 … R; the final divide by p is
    left out, it changes no sources), ``step`` (the round's label), ``node``, ``chunk``,
    ``sources`` (tuple of input indices, ascending), ``received`` (bool: a transfer of
    this round landed on it). ``TypeError``/``ValueError`` naming the argument.
    """
    plan = _plan(algorithm, nodes)
    inputs = [np.full(nodes, 2.0 ** j) for j in range(nodes)]
    _, snapshots = run_plan(plan, inputs, np.float64, record=True)
    labels = ["start"] + [r.label for r in plan.rounds]
    landed = _landed(plan, nodes)
    rows = [(k, labels[k], node, chunk, _sources(snapshot[node, chunk], nodes),
             (node, chunk) in landed[k])
            for k, snapshot in enumerate(snapshots[:plan.n_rounds + 1])
            for node in range(nodes) for chunk in range(nodes)]
    return pd.DataFrame(rows, columns=["round", "step", "node", "chunk", "sources",
                                       "received"])


def _draw_panel(ax, panel: pd.DataFrame, nodes: int, colours: list[str]) -> None:
    from matplotlib.patches import Rectangle

    stripe = 0.9 / nodes
    for row in panel.itertuples():
        for j in range(nodes):
            ax.add_patch(Rectangle((row.chunk + 0.05 + j * stripe, row.node + 0.05), stripe,
                                   0.9, facecolor=colours[j] if j in row.sources else PALE,
                                   linewidth=0))
        if row.received:
            ax.add_patch(Rectangle((row.chunk + 0.03, row.node + 0.03), 0.94, 0.94,
                                   fill=False, edgecolor="black", linewidth=1.5))
    ax.set_xlim(0, nodes)
    ax.set_ylim(nodes, 0)
    ax.set_aspect("equal")
    ax.set_xticks(np.arange(nodes) + 0.5, [f"c{c}" for c in range(nodes)], fontsize=7)
    ax.set_yticks(np.arange(nodes) + 0.5, [f"node {i}" for i in range(nodes)], fontsize=7)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)


def draw_frames(algorithm: str = "ring", nodes: int = 4, *, panel_inches: float = 1.35):
    """Small multiples of :func:`chunk_sources`: one panel per round, left to right, rows
    the nodes, columns the chunks, stripe j of a chunk in input j's colour when it sums
    input j; outlined: what landed this round. Returns a closed matplotlib ``Figure``
    (dpi 80, about ``panel_inches`` wide per panel). Errors as :func:`chunk_sources`."""
    frame = chunk_sources(algorithm, nodes)
    panel_inches = checks.positive("panel_inches", panel_inches)
    rounds = int(frame["round"].max()) + 1
    colours = [f"C{j}" for j in range(nodes)]
    fig = closed_figure(figsize=(0.5 + panel_inches * rounds, 0.9 + panel_inches), dpi=80,
                        layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, rounds, sharey=True))
    for ax, (k, panel) in zip(axes, frame.groupby("round", sort=True)):
        _draw_panel(ax, panel, nodes, colours)
        title = textwrap.fill(f"{k}: {panel['step'].iloc[0]}", 18, break_on_hyphens=False)
        ax.set_title(title, fontsize=8)
    from matplotlib.patches import Patch

    fig.legend(handles=[Patch(facecolor=c, label=f"input {j}") for j, c in enumerate(colours)],
               loc="outside lower center", ncol=min(nodes, 10), fontsize=7, frameon=False)
    fig.suptitle(f"{algorithm.replace('_', ' ')}, p = {nodes}: stripe j = input j summed so "
                 "far; outlined = landed this round", fontsize=9)
    return fig
