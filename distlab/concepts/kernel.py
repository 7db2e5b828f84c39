"""The arithmetic of one round, shared by both engines so they give identical results.

The simulator calls these functions in-process; the Dask engine calls the very same
functions as tasks on the workers. Same operations in the same order, so the two engines
agree to the last bit, which the tests assert. Nothing here mutates its inputs: a node's
new buffer is always a fresh array (a Dask worker may still hold the old one).
"""
from __future__ import annotations

import numpy as np


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
    which saves the Dask engine one task per node.
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
