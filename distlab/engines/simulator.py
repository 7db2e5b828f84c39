"""The in-process engine: run a plan on numpy arrays, round by round, on a virtual clock.

No event queue is needed: every round is synchronous, so the simulator reads all messages
from the buffers as they stood at the start of the round, applies them with the shared
kernel (the same functions the Dask workers run), and advances the virtual clock by the
round's α-β time (:mod:`distlab.concepts.cost`). Exact and reproducible for any node
count: this is what the notebooks print and nbval compares.
"""
from __future__ import annotations

import numpy as np

from distlab.concepts.kernel import (apply_incoming, extract, finish, incoming_by_node,
    specs_for)
from distlab.concepts.plans import Plan


def run(plan: Plan, buffers: list[np.ndarray], dtype, record: bool = False):
    """Run ``plan`` on flat node buffers (never modified).

    Returns the final flat buffers (after the divide-by-N step for exact algorithms) and,
    with ``record``, the list of node-by-element snapshots: the start, after each round,
    and after the final local step when there is one.
    """
    if len(buffers) != plan.n_nodes:
        raise ValueError(f"the plan is for {plan.n_nodes} nodes, got {len(buffers)} buffers")
    current = list(buffers)
    snapshots = [np.stack(current)] if record else None
    layouts = {}                  # gossip repeats one set of transfers: lay it out once
    whole = (0, plan.blocks)
    for rnd in plan.rounds:
        key = id(rnd.transfers)
        if key not in layouts:
            mix = rnd.transfers and all(t.op == "mix" and t.chunk == whole
                                        for t in rnd.transfers)
            layouts[key] = _mix_layout(rnd, dtype) if mix else None
        if layouts[key] is not None:
            current = _mix_round(layouts[key], current)
            if record:
                snapshots.append(np.stack(current))
            continue
        after = list(current)
        for dst, transfers in incoming_by_node(rnd).items():
            messages = [extract(current[t.src], t.chunk[0], t.chunk[1], plan.blocks, dtype)
                        for t in transfers]
            after[dst] = apply_incoming(current[dst], specs_for(transfers), messages,
                                        plan.blocks, dtype)
        current = after
        if record:
            snapshots.append(np.stack(current))
    final = [finish(b, plan.divide_by, (len(b),), dtype) for b in current]
    if record and plan.divide_by is not None:
        snapshots.append(np.stack(final))
    return final, snapshots


def _mix_layout(rnd, dtype):
    """Index arrays for :func:`_mix_round`: who receives, what each keeps, and for each
    incoming slot (in source order) which rows receive from which source with what weight."""
    groups = incoming_by_node(rnd)
    dsts = np.array(sorted(groups))
    keep = np.array([1.0 - sum(t.weight for t in groups[d]) for d in dsts]).astype(dtype)
    slots = []
    for s in range(max(len(g) for g in groups.values())):
        rows = np.array([k for k, d in enumerate(dsts) if len(groups[d]) > s])
        src = np.array([groups[dsts[k]][s].src for k in rows])
        w = np.array([groups[dsts[k]][s].weight for k in rows]).astype(dtype)
        slots.append((rows, src, w[:, None]))
    return dsts, keep[:, None], slots


def _mix_round(layout, current: list[np.ndarray]) -> list[np.ndarray]:
    """A gossip round for all nodes at once. The same float operations, in the same order,
    as :func:`~distlab.concepts.kernel.apply_incoming` does node by node (keep·own,
    then + w·message in source order, each rounded on its own), only vectorised across
    nodes; so the result is bit-for-bit the kernel's, and a long gossip on many nodes
    runs in a fraction of the time."""
    dsts, keep, slots = layout
    x = np.stack(current)
    acc = keep * x[dsts]
    for rows, src, w in slots:
        acc[rows] = acc[rows] + w * x[src]
    out = list(current)
    for k, d in enumerate(dsts):
        out[d] = acc[k]
    return out
