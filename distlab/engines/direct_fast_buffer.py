"""The fast direct engine's kernel: the plain kernel's arithmetic, in place, copy on write.

:func:`distlab.concepts.kernel.apply_incoming` returns a fresh copy of a node's whole
buffer every round (a Dask worker may still hold the old one). A :class:`NodeBuffer`
instead reads its input where it lies (a value in the worker's memory, never written to),
writes into one result buffer only the blocks it changes, and adds in place: ``np.add(a, m,
out=r)`` rounds exactly as ``r = a + m`` does, so the bits are the kernel's
(tests/test_direct_engine.py checks it with hypothesis against the simulator). Blocks whose
sum is complete are divided by N right where they complete (early division, planned by
:func:`~distlab.engines.direct_fast_plan.node_steps`), and, in a run scaled against
overflow, scaled back right after, as the kernel's ``finish`` does; sums are checked for
overflow as the kernel checks them (:func:`~distlab.concepts.kernel.checked_add`).
Gossip's "mix" rounds read every block's start value, so they go through the plain
kernel.

A node's input is checked here too (:func:`check_value`), on its worker, so the client
need not fetch or describe it first.
"""
from __future__ import annotations

import numpy as np

from distlab.concepts.kernel import (apply_incoming, block_bounds, checked_add, scale_down,
    scale_up)
from distlab.engines.direct_fast_plan import Step
from distlab.engines.inputs import working_dtype

#: Internal: a node's buffer on its worker, built once per call and node by the fast
#: engine (its arguments are checked where the call enters, not here).
__all__: list[str] = []


class NodeBuffer:
    """A node's values, copy on write: block b is read from the input until the node first
    changes it, then from the result buffer. The input is never written to. ``divided``
    marks the blocks already divided by N (see
    :func:`~distlab.engines.direct_fast_plan.node_steps`). ``scale``: a run scaled by
    2^-scale (then the input is a scaled copy)."""

    def __init__(self, value, dtype, blocks: int, divide_by, scale: int = 0):
        self.own = scale_down(value, scale, dtype)          # a view when already dtype
        self.scale = scale
        self.guard = divide_by is not None                  # sums checked for overflow
        self.result = np.empty_like(self.own)
        self.bounds = block_bounds(len(self.own), blocks)
        self.written = np.zeros(blocks, dtype=bool)
        self.divided = np.zeros(blocks, dtype=bool)
        self.n = None if divide_by is None else np.asarray(divide_by, dtype=self.own.dtype)

    def _span(self, lo, hi):
        return self.bounds[lo], self.bounds[hi]

    def _materialise(self, lo, hi):
        for b in np.flatnonzero(~self.written[lo:hi]) + lo:
            a, c = self._span(b, b + 1)
            self.result[a:c] = self.own[a:c]
        self.written[lo:hi] = True

    def read(self, lo, hi) -> np.ndarray:
        """Blocks lo..hi-1 as they stand (a view: do not keep it past the round)."""
        a, b = self._span(lo, hi)
        if not self.written[lo:hi].any():
            return self.own[a:b]
        self._materialise(lo, hi)
        return self.result[a:b]

    def target(self, lo, hi) -> np.ndarray:
        """Where a copy of blocks lo..hi-1 may be received directly."""
        a, b = self._span(lo, hi)
        return self.result[a:b]

    def apply(self, step: Step, messages, landed) -> None:
        """A round's incoming messages, in the kernel's order and arithmetic."""
        specs = step.specs
        if any(op == "mix" for op, *_ in specs):          # reads the round's start values
            self._materialise(0, len(self.written))
            self.result = apply_incoming(self.result, specs, messages, len(self.written),
                                         self.result.dtype, guard=self.guard)
            return
        for (op, lo, hi, _), message, done, quotient in zip(specs, messages, landed,
                                                            step.arrives_divided):
            a, b = self._span(lo, hi)
            if op == "copy":
                if not done:
                    self.result[a:b] = message
                self.written[lo:hi] = True
                self.divided[lo:hi] = False if quotient is None else quotient
            elif not self.written[lo:hi].any():            # new = own + m, straight in
                checked_add(self.own[a:b], message, self.result[a:b], self.guard)
                self.written[lo:hi] = True
            else:
                self._materialise(lo, hi)
                checked_add(self.result[a:b], message, self.result[a:b], self.guard)
                self.divided[lo:hi] = False
        for lo, hi in step.divide_after:
            a, b = self._span(lo, hi)
            np.true_divide(self.result[a:b], self.n, out=self.result[a:b])
            scale_up(self.result[a:b], self.scale)
            self.divided[lo:hi] = True

    def finish(self, shape) -> np.ndarray:
        """The final local step on the blocks not yet done: the sum divided by N (a block
        never written is divided straight from the input)."""
        for b in range(len(self.written)):
            a, c = self._span(b, b + 1)
            if self.n is None:
                if not self.written[b]:
                    self.result[a:c] = self.own[a:c]
            elif not self.divided[b]:
                source = self.result if self.written[b] else self.own
                np.true_divide(source[a:c], self.n, out=self.result[a:c])
                scale_up(self.result[a:c], self.scale)
        return self.result.reshape(shape)


def check_value(value, node: int, shape=None, dtype=None) -> tuple[str, str] | None:
    """``None`` if node ``node``'s input is a finite real array (of ``shape``, and of a
    dtype that ``dtype`` holds, when they are given); else ``(kind, message)``: "mismatch" (not the
    shape or dtype expected: the client checks and retries), "type" or "value" (a bad
    input, with the message :func:`~distlab.engines.inputs.as_node_array` gives)."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        return "type", f"values[{node}] must hold a real numeric array, got dtype {array.dtype}"
    if shape is not None and (array.shape != tuple(shape)
                              or working_dtype([array.dtype, dtype]) != np.dtype(dtype)):
        return "mismatch", f"values[{node}]: {array.shape} {array.dtype}"
    if array.dtype.kind == "f" and not _finite(array):
        return "value", f"values[{node}] must be finite, but contains NaN or infinity"
    return None


def _finite(array: np.ndarray) -> bool:
    """All finite? One summing pass and no temporary: a NaN or an infinity makes the sum
    non-finite; only then (or when finite values overflow the sum) look element by
    element."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.add.reduce(array, axis=None)):
            return True
    return bool(np.isfinite(array).all())
