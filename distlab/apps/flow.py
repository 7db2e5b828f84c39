"""The document's Mermaid flow (2.4), made executable on the cluster.

The document draws the key steps of a distributed architecture as a Mermaid graph:
initialise → choose a sync strategy → strong or eventual sync → parallelise → partition
and balance → compute → collect. Here each box is a stage that really runs on the Dask
cluster, ``mermaid()`` gives back the diagram's text (exactly the document's nodes and
edges), and ``run(client, strategy)`` walks the graph from A, executes each stage it
reaches, reports what the stage did, and draws the path it took, highlighted. (The
diagram as data and text is :mod:`distlab.apps.flow_diagram`; its names are importable
from here.)

Running it exposes something the picture hides: in the document's diagram the strong
branch ends at C — no edge leaves it, so a strong-consistency system would never compute
anything. ``run`` follows the diagram as drawn (and says where it stopped);
``COMPLETED_EDGES`` adds the missing edge C → E.

What the stages do (small, a second in total):

- A: three nodes hold the values 10, 20 and 30 (the document's chapter 4 example), placed
  on the workers.
- C (strong): one synchronous averaging round — every node waits for the mean (a barrier).
- D (eventual): seeded pairwise gossip — two nodes at a time average their values, as
  tasks, until all nodes agree to 1e-9; no node ever waits for all the others.
- E, F: the parallel job: Σ (x − m)² over twelve seeded chunks of uneven size, m being the
  synced value; chunks are assigned to workers longest-first (``distlab.concepts.partitioning``).
- G, H: the chunk tasks run where they were assigned; the partial sums are gathered and
  added, and compared with the same sum computed in one process.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# The diagram's data and text live in flow_diagram; chapter 02 reads them from here too.
from distlab.apps.flow_diagram import (COMPLETED_EDGES, DOCUMENT_EDGES, DOCUMENT_MERMAID,
                                       STAGES, STRATEGIES, Diagram, _check_edges, mermaid,
                                       parse_mermaid)
from distlab.checks import choice, count, number
from distlab.concepts import partitioning
from distlab.engines.workers import check_client, submit_on, worker_addresses

__all__ = ["STAGES", "DOCUMENT_MERMAID", "DOCUMENT_EDGES", "COMPLETED_EDGES", "STRATEGIES",
           "mermaid", "parse_mermaid", "Diagram", "run", "FlowRun"]

# -- the stages -------------------------------------------------------------------------------
def _mean(*values: float) -> float:
    return float(np.mean(values))


def _pair_mean(a: float, b: float) -> float:
    return (a + b) / 2


def _chunk_loss(seed: int, rows: int, m: float) -> float:
    """Σ (x − m)² over one seeded chunk, generated where the task runs (no data moves)."""
    x = np.random.default_rng(seed).normal(20.0, 5.0, rows)
    return float(np.sum((x - m) ** 2))


CHUNK_ROWS = tuple(int(r * 40_000) for r in partitioning.skewed_durations(12, seed=3, mean=1.0))


@dataclass
class FlowRun:
    """What ``run`` did: the path of stage ids, one report line per stage, the final
    result (None if the path never reached H)."""
    strategy: str
    edges: tuple
    path: list = field(default_factory=list)
    reports: list = field(default_factory=list)
    result: float | None = None

    def lines(self) -> list[str]:
        return [f"{sid} {STAGES[sid][0]} ({STAGES[sid][1]}): {text}" for sid, text in self.reports]

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def diagram(self) -> Diagram:
        """The flow with the path taken highlighted, labels in Chinese and English."""
        return Diagram(mermaid(self.edges, highlight=self.path, bilingual=True))


def run(client, strategy: str, edges=DOCUMENT_EDGES, *, values=(10.0, 20.0, 30.0),
        seed: int = 0) -> FlowRun:
    """Walk the flow from A with ``strategy`` (``"strong"`` or ``"eventual"``), running
    each stage on the cluster. At B the edge labelled with the strategy is taken; after
    that the single edge out of each stage, until a stage has none.

    Raises ``TypeError`` (client not a ``distributed.Client``, an edge not a triple, a
    value not a number) or ``ValueError`` (a closed client, an unknown strategy or stage,
    fewer than two values, a value not finite, a negative seed)."""
    check_client(client)
    choice("strategy", strategy, STRATEGIES)
    edges = _check_edges(edges)
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"values must be a list of numbers, got {type(values).__name__}")
    values = [number(f"values[{i}]", v) for i, v in enumerate(values)]
    if len(values) < 2:
        raise ValueError("values must hold at least two finite numbers, one per node")
    seed = count("seed", seed)

    flow = FlowRun(strategy, edges)
    ctx: dict = {"client": client, "values": values, "seed": seed}
    stage = "A"
    while True:
        flow.path.append(stage)
        flow.reports.append((stage, _STAGE_FUNCTIONS[stage](ctx, strategy)))
        outgoing = [(d, label) for s, d, label in edges if s == stage]
        if stage == "B":
            outgoing = [(d, label) for d, label in outgoing if label == STRATEGIES[strategy]]
        if not outgoing:
            if stage != "H":
                flow.reports.append((stage, "no edge leaves this stage in the diagram: the run "
                                            "stops here"))
            break
        if len(outgoing) > 1:
            raise ValueError(f"stage {stage} has {len(outgoing)} outgoing edges; "
                             "only B may branch")
        stage = outgoing[0][0]
    flow.result = ctx.get("result")
    return flow


def _stage_a(ctx, strategy):
    client = ctx["client"]
    ctx["workers"] = workers = worker_addresses(client)
    # hash=False: a run right after another scatters the same values; shared keys would be
    # released by the first run while the second still needs them (lost dependencies)
    ctx["nodes"] = [client.scatter(v, workers=[workers[i % len(workers)]], direct=True,
                                   hash=False)
                    for i, v in enumerate(ctx["values"])]
    shown = ", ".join(f"{v:g}" for v in ctx["values"])
    return (f"{len(ctx['nodes'])} nodes hold {shown}; node i lives on worker i mod "
            f"{len(workers)}")


def _stage_b(ctx, strategy):
    target = "C" if strategy == "strong" else "D"
    return f"strategy {strategy!r}: take the edge “{STRATEGIES[strategy]}” to {target}"


def _stage_c(ctx, strategy):
    client = ctx["client"]
    mean = client.submit(_mean, *ctx["nodes"], pure=False)
    ctx["nodes"] = [mean] * len(ctx["nodes"])       # every node waits for the same mean
    ctx["m"] = mean.result()
    return (f"1 synchronous round (1 task, a barrier): every node now holds {ctx['m']:g}")


def _stage_d(ctx, strategy):
    client = ctx["client"]
    nodes = list(ctx["nodes"])
    rng = np.random.default_rng(ctx["seed"])
    exchanges, spread = 0, np.inf
    while spread > 1e-9 and exchanges < 400:
        for _ in range(len(nodes)):                  # a batch of exchanges, then look
            i, j = (int(k) for k in rng.choice(len(nodes), size=2, replace=False))
            merged = client.submit(_pair_mean, nodes[i], nodes[j], pure=False)
            nodes[i] = nodes[j] = merged
            exchanges += 1
        current = client.gather(nodes)
        spread = max(current) - min(current)
    ctx["nodes"] = nodes
    ctx["m"] = float(np.mean(current))
    return (f"{exchanges} pairwise exchanges (tasks), no barrier; the nodes now agree to "
            f"{spread:.0e}, all ≈ {ctx['m']:.6g}")


def _stage_e(ctx, strategy):
    ctx["chunks"] = list(CHUNK_ROWS)
    rows = ctx["chunks"]
    return (f"the job Σ(x − m)² is split into {len(rows)} tasks, one per chunk, "
            f"{min(rows):,} to {max(rows):,} rows each ({sum(rows):,} rows in all)")


def _stage_f(ctx, strategy):
    rows, workers = ctx["chunks"], ctx["workers"]
    plan = partitioning.simulate_schedule(rows, len(workers), "longest_first")
    naive = partitioning.simulate_schedule(rows, len(workers), "round_robin")
    ctx["assignment"] = plan.worker
    share = ", ".join(f"{100 * b / sum(rows):.1f} %" for b in plan.busy)
    return (f"longest-first assignment: worker shares of the rows {share} (largest ÷ "
            f"ideal {plan.makespan / (sum(rows) / len(workers)):.3f}; round-robin would "
            f"give {naive.makespan / (sum(rows) / len(workers)):.3f})")


def _stage_g(ctx, strategy):
    client, workers = ctx["client"], ctx["workers"]
    ctx["partials"] = [submit_on(client, _chunk_loss, 100 + i, r, ctx["m"],
                                 worker=workers[ctx["assignment"][i]])
                       for i, r in enumerate(ctx["chunks"])]
    return f"{len(ctx['partials'])} tasks submitted, each to the worker the plan chose"


def _stage_h(ctx, strategy):
    partials = ctx["client"].gather(ctx["partials"])
    ctx["result"] = total = float(sum(partials))
    local = float(sum(_chunk_loss(100 + i, r, ctx["m"]) for i, r in enumerate(ctx["chunks"])))
    return (f"{len(partials)} partial sums gathered: Σ(x − m)² = {total:,.1f}; equals the "
            f"same sum computed in one process: {total == local}")


_STAGE_FUNCTIONS = {"A": _stage_a, "B": _stage_b, "C": _stage_c, "D": _stage_d, "E": _stage_e,
                    "F": _stage_f, "G": _stage_g, "H": _stage_h}
