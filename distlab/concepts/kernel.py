"""The averaging kernel: the arithmetic of one round, the one every engine applies.

A node's buffer after a round is :func:`apply_incoming` of what it held and what it
received; :func:`run_plan` applies it to every node, round by round, which is the whole
in-process simulator. The task engine and the naive direct engine call these very
functions on the Dask workers. Same operations in the same order, so every engine agrees
with the simulator to the last bit, which the tests assert. Nothing here mutates its
inputs: a node's new buffer is always a fresh array (a Dask worker may still hold the old
one).

Faster variants are allowed only beside the plain function they replace, with a test that
they agree with it bit for bit (tests/test_kernel.py):

- :func:`mix_round`, here: a gossip round for every node at once, vectorised across nodes.
- ``distlab.engines.direct_fast_buffer.NodeBuffer``: the same arithmetic in place, copy
  on write, dividing early (the fast direct engine).
"""
from __future__ import annotations

import numpy as np

from distlab.concepts.plans import Plan


def block_bounds(n: int, blocks: int) -> np.ndarray:
    """Element offsets of ``blocks`` chunks of a length-``n`` vector, cut the way
    ``numpy.array_split`` cuts it: the first ``n % blocks`` chunks one element longer."""
    small, extra = divmod(n, blocks)
    sizes = [small + 1] * extra + [small] * (blocks - extra)
    return np.concatenate([[0], np.cumsum(sizes)]).astype(int)


def flat(value, dtype) -> np.ndarray:
    """A node's value as a 1-D array of ``dtype`` (a view when no conversion is needed)."""
    return np.asarray(value, dtype=dtype).reshape(-1)


def extract(buffer, lo: int, hi: int, blocks: int, dtype) -> np.ndarray:
    """The message: a copy of blocks ``lo..hi-1`` of the sender's buffer."""
    buffer = flat(buffer, dtype)
    bounds = block_bounds(len(buffer), blocks)
    return buffer[bounds[lo]:bounds[hi]].copy()


def apply_incoming(own, specs, messages, blocks: int, dtype, finish_with=None) -> np.ndarray:
    """A node's buffer after a round: ``specs`` are ``(op, lo, hi, weight)`` in source
    order and ``messages`` the chunks received, each either exactly the chunk or the
    sender's whole buffer (the engines skip the extraction when the chunk is everything).
    ``finish_with = (divide_by, shape)`` also does the final local step (:func:`finish`),
    which saves the task engine one task per node.

    Raises ``ValueError`` for a message of neither size (the nodes' values differ in
    size) and for an unknown op.
    """
    own = flat(own, dtype)
    bounds = block_bounds(len(own), blocks)
    new = own.copy()
    mixes: dict[tuple[int, int], list] = {}
    for (op, lo, hi, weight), message in zip(specs, messages):
        a, b = bounds[lo], bounds[hi]
        message = flat(message, dtype)
        if len(message) != b - a:          # the sender's whole buffer was passed
            if len(message) != len(own):
                raise ValueError(f"values must all have one size: a node of {len(own)} "
                                 f"elements received a buffer of {len(message)}")
            message = message[a:b]
        if op == "reduce":
            new[a:b] = new[a:b] + message
        elif op == "copy":
            new[a:b] = message
        elif op == "mix":
            mixes.setdefault((a, b), []).append((weight, message))
        else:
            raise ValueError(f"unknown op {op!r}")
    for (a, b), parts in mixes.items():
        keep = 1.0 - sum(w for w, _ in parts)
        acc = keep * own[a:b]
        for w, message in parts:
            acc = acc + w * message
        new[a:b] = acc
    if finish_with is not None:
        return finish(new, finish_with[0], finish_with[1], dtype)
    return new


def finish(buffer, divide_by: int | None, shape: tuple, dtype) -> np.ndarray:
    """The final local step: the sum divided by N (exact algorithms), in the node's shape."""
    buffer = flat(buffer, dtype)
    if divide_by is not None:
        buffer = buffer / np.asarray(divide_by, dtype=dtype)
    else:
        buffer = buffer.copy()
    return buffer.reshape(shape)


def specs_for(transfers) -> list[tuple[str, int, int, float]]:
    """The part of each transfer the destination needs, in a picklable form."""
    return [(t.op, t.chunk[0], t.chunk[1], t.weight) for t in transfers]


def incoming_by_node(round_) -> dict[int, list]:
    """A round's transfers grouped by destination, each group in source order."""
    groups: dict[int, list] = {}
    for t in sorted(round_.transfers, key=lambda t: (t.dst, t.src)):
        groups.setdefault(t.dst, []).append(t)
    return groups


def run_plan(plan: Plan, buffers: list[np.ndarray], dtype, record: bool = False):
    """Run ``plan`` on flat node buffers (never modified), every node in this process.

    Every round reads all messages from the buffers as they stood at the start of the
    round, then applies them with :func:`apply_incoming` (a round in which every node
    mixes whole vectors, gossip's, with :func:`mix_round`, which gives the same bits).
    Returns the final flat buffers (after the divide-by-N step for exact algorithms) and,
    with ``record``, the list of node-by-element snapshots: the start, after each round,
    and after the final local step when there is one (else ``None``). Raises
    ``ValueError`` when the plan is for another number of nodes.
    """
    if len(buffers) != plan.n_nodes:
        raise ValueError(f"the plan is for {plan.n_nodes} nodes, got {len(buffers)} buffers")
    current = list(buffers)
    snapshots = [np.stack(current)] if record else None
    layouts = {}                  # gossip repeats one set of transfers: lay it out once
    for rnd in plan.rounds:
        key = id(rnd.transfers)
        if key not in layouts:
            layouts[key] = mix_layout(rnd, plan.blocks, dtype)
        if layouts[key] is not None:
            current = mix_round(layouts[key], current)
        else:
            after = list(current)
            for dst, transfers in incoming_by_node(rnd).items():
                messages = [extract(current[t.src], *t.chunk, plan.blocks, dtype)
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


# --------------------------------------------------------------------------------------
# the faster variant of a gossip round, beside the plain one
# --------------------------------------------------------------------------------------

def mix_layout(round_, blocks: int, dtype):
    """What :func:`mix_round` needs for ``round_`` (who receives, what each keeps, and for
    each incoming slot in source order which rows receive from which source with what
    weight), or ``None`` when the round is not every transfer mixing a whole vector."""
    whole = (0, blocks)
    if not round_.transfers or any(t.op != "mix" or t.chunk != whole
                                   for t in round_.transfers):
        return None
    groups = incoming_by_node(round_)
    dsts = np.array(sorted(groups))
    keep = np.array([1.0 - sum(t.weight for t in groups[d]) for d in dsts]).astype(dtype)
    slots = []
    for s in range(max(len(g) for g in groups.values())):
        rows = np.array([k for k, d in enumerate(dsts) if len(groups[d]) > s])
        src = np.array([groups[dsts[k]][s].src for k in rows])
        w = np.array([groups[dsts[k]][s].weight for k in rows]).astype(dtype)
        slots.append((rows, src, w[:, None]))
    return dsts, keep[:, None], slots


def mix_round(layout, current: list[np.ndarray]) -> list[np.ndarray]:
    """A gossip round for all nodes at once: the same float operations, in the same order,
    as :func:`apply_incoming` does node by node (keep·own, then + w·message in source
    order, each rounded on its own), only vectorised across nodes; so the result is the
    kernel's bit for bit, and a long gossip on many nodes runs in a fraction of the time
    (ring gossip on 64 nodes, 4297 rounds: 0.3 s instead of 7 s on one core)."""
    dsts, keep, slots = layout
    x = np.stack(current)
    acc = keep * x[dsts]
    for rows, src, w in slots:
        acc[rows] = acc[rows] + w * x[src]
    out = list(current)
    for k, d in enumerate(dsts):
        out[d] = acc[k]
    return out
