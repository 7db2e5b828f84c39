"""The fast direct engine's plan, node by node: each node's steps worked out once.

A :class:`Step` is one round of one node: the transfers it sends and receives (each with
its mailbox slot), the kernel's specs for what it receives, which copies may land straight
in its result, and the early division that follows (see :func:`node_steps`). Workers
rebuild a plan from its name and options (:func:`plan_from`) and keep the last 128
built, so a training loop's calls neither send nor rebuild one.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from distlab.concepts.kernel import specs_for
from distlab.concepts.plans import Plan
from distlab.engines.algorithms import make_plan

#: Internal: the plan as the fast engine's workers hold it (built from a checked plan).
__all__: list[str] = []


class Step:
    """One round of one node: what it sends and receives, and its local work after.
    Transfers come with their pair index: ``(src, dst, j)``, the j-th message of the round
    from src to dst; with the round it makes the message's mailbox slot."""

    def __init__(self, round_: int, outgoing, incoming, specs, land):
        self.round = round_
        self.outgoing = outgoing                  # [(transfer, pair)]
        self.incoming = incoming                  # [(transfer, pair)], the kernel's order
        self.specs = specs
        self.land = land                          # received straight into the result?
        self.arrives_divided = [None] * len(incoming)   # per block, see node_steps
        self.divide_after: list[tuple[int, int]] = []

    def slot(self, pair) -> tuple:
        return (self.round, *pair)


def _overlap(a, b) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _layout(transfers, p: int) -> dict[int, tuple]:
    """Per node: its outgoing and incoming transfers of a round (incoming in source
    order, the kernel's), their specs, and which copies may land straight in the result:
    those whose blocks nothing else the node sends or receives that round touches."""
    seen: dict[tuple, int] = {}
    pairs = []
    for t in transfers:
        j = seen.get((t.src, t.dst), 0)
        seen[(t.src, t.dst)] = j + 1
        pairs.append((t, (t.src, t.dst, j)))
    out: dict[int, tuple] = {}
    for i in sorted({t.src for t in transfers} | {t.dst for t in transfers}):
        outgoing = [(t, x) for t, x in pairs if t.src == i]
        incoming = sorted([(t, x) for t, x in pairs if t.dst == i], key=lambda tx: tx[0].src)
        land = []
        for n, (t, _) in enumerate(incoming):
            others = [u.chunk for u, _ in outgoing] + [
                u.chunk for m, (u, _) in enumerate(incoming) if m != n]
            land.append(t.op == "copy" and not any(_overlap(t.chunk, c) for c in others))
        out[i] = (outgoing, incoming, specs_for([t for t, _ in incoming]), land)
    return out


def node_steps(plan: Plan) -> dict[int, list[Step]]:
    """Every node's steps, worked out once per plan (a round's layout once per distinct
    set of transfers: gossip repeats one).

    Early division: the final step divides every sum by N. A block whose sum is complete
    at a node (it holds every node's contribution) after a "reduce" is divided right there
    by that node, and the copies it sends later carry the quotient, which is what each
    receiver would have computed from the sum: the same bits, one pass less over the
    vector. Used only when every later transfer of a complete block is a "copy" (true of
    every exact plan here); otherwise every node divides at the end, as the kernel does.
    """
    p, blocks = plan.n_nodes, plan.blocks
    steps: dict[int, list[Step]] = {i: [] for i in range(p)}
    layouts: dict[int, dict] = {}
    early = plan.divide_by is not None
    everyone = (1 << p) - 1
    has = [[1 << i] * blocks for i in range(p)] if early else None   # whose contributions
    divided = [[False] * blocks for _ in range(p)] if early else None
    for k, rnd in enumerate(plan.rounds):
        if id(rnd.transfers) not in layouts:
            layouts[id(rnd.transfers)] = _layout(rnd.transfers, p)
        by_node = {i: Step(k, *layout) for i, layout in layouts[id(rnd.transfers)].items()}
        for i, step in by_node.items():
            steps[i].append(step)
        if not early:
            continue
        # a complete block sent on by anything but a copy rules early division out
        if any(t.op != "copy" and any(everyone in (has[t.src][b], has[t.dst][b])
                                      for b in range(*t.chunk)) for t in rnd.transfers):
            early = False
            continue
        before = [list(h) for h in has]
        was_divided = [list(d) for d in divided]
        for i, step in by_node.items():
            for n, (t, _) in enumerate(step.incoming):
                for b in range(*t.chunk):
                    if t.op == "copy":
                        has[i][b] = before[t.src][b]
                        divided[i][b] = was_divided[t.src][b]
                    else:
                        has[i][b] |= before[t.src][b]
                        divided[i][b] = False
                step.arrives_divided[n] = np.array(
                    [t.op == "copy" and was_divided[t.src][b] for b in range(*t.chunk)],
                    dtype=bool)
            fresh = [b for t, _ in step.incoming if t.op == "reduce"
                     for b in range(*t.chunk) if has[i][b] == everyone and not divided[i][b]]
            for b in sorted(set(fresh)):
                divided[i][b] = True
                if step.divide_after and step.divide_after[-1][1] == b:
                    step.divide_after[-1] = (step.divide_after[-1][0], b + 1)
                else:
                    step.divide_after.append((b, b + 1))
    if not early and plan.divide_by is not None:     # undo: every node divides at the end
        for steps_of_node in steps.values():
            for step in steps_of_node:
                step.divide_after = []
                step.arrives_divided = [None] * len(step.incoming)
    return steps


def plan_tag(plan: Plan) -> str:
    """How a message names the plan it belongs to, so that a node can tell a message of
    another collective (a rank that called another one) from one it can add: the
    algorithm, with its options and whether it divides at the end, e.g. ``'ring'``,
    ``'ring (no division)'``, ``'gossip_random (seed=3, tolerance=1e-06)'``."""
    options = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
               for k, v in sorted((plan.notes or {}).items())
               if k != "rate" and isinstance(v, (int, float, str))]
    if plan.divide_by is None and any(t.op == "reduce" for r in plan.rounds
                                      for t in r.transfers):
        options.insert(0, "no division")
    return f"{plan.algorithm} ({', '.join(options)})" if options else plan.algorithm


class PlanOnWorker:
    """A plan with each node's steps worked out once (and cached for built plans), and
    its :func:`plan_tag`."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.tag = plan_tag(plan)
        self._steps = None

    def node(self, i: int) -> list[Step]:
        if self._steps is None:
            self._steps = node_steps(self.plan)
        return self._steps[i]


@lru_cache(maxsize=128)
def _built_plan(algorithm: str, n_nodes: int, tolerance: float, seed: int,
                self_weight: float) -> PlanOnWorker:
    return PlanOnWorker(make_plan(algorithm, n_nodes, tolerance=tolerance, seed=seed,
                                  self_weight=self_weight))


def plan_spec(algorithm: str, n_nodes: int, tolerance: float, seed: int,
              self_weight: float) -> tuple:
    """What a worker needs to rebuild a plan that
    :func:`~distlab.engines.algorithms.make_plan` built (tens of bytes, where a pickled
    plan on 64 nodes is hundreds of kilobytes)."""
    return ("make_plan", algorithm, int(n_nodes), float(tolerance), int(seed),
            float(self_weight))


def plan_from(spec) -> PlanOnWorker:
    """A plan from what the client sent: ``("make_plan", algorithm, n, tolerance, seed,
    self_weight)``, built once per worker and cached, or a :class:`Plan` itself."""
    if isinstance(spec, Plan):
        return PlanOnWorker(spec)
    return _built_plan(*spec[1:])

