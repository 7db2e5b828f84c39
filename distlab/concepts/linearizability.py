"""Is a history of reads and writes on one register linearizable? If not, which operations prove it?

Linearizability (Herlihy & Wing, "Linearizability: A Correctness Condition for Concurrent
Objects", TOPLAS 1990) is what "strong consistency" means for a register: every operation
appears to take effect at one instant between its invocation and its completion, and the
reads then see a single sequence of writes. So a history is linearizable when its
operations can be put in one order that

1. respects real time: if ``a`` completed before ``b`` was invoked, ``a`` comes first, and
2. is a legal run of a register: each read returns the value of the latest write before
   it (or the initial value).

``check_linearizable`` searches for such an order with the Wing & Gong algorithm and the
state cache of Lowe ("Testing for linearizability", CCPE 2017) — the algorithm of the
Knossos and Porcupine checkers used by Jepsen. When there is none, it shrinks the history
to a smallest set of operations that still has none (removing any one of them makes the
rest linearizable), and names those operations: that set is the proof.

A history is a list of operations; each has a ``process``, a ``kind`` (``"read"`` or
``"write"``), a ``value`` (written, or returned by the read), an ``invoke`` time and a
``complete`` time. A write whose outcome is unknown (the client gave up waiting) has
``complete=None``: it may have taken effect at any time after its invocation, or never.
A read with ``complete=None`` returned nothing and constrains nothing, so it is ignored.
Operations that touch at the same instant (``a.complete == b.invoke``) count as
concurrent.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Hashable, Iterable, Mapping

from distlab.checks import choice, number

__all__ = ["Op", "Verdict", "check_linearizable", "as_history", "TEXTBOOK"]

KINDS = ("read", "write")
FIELDS = ("process", "kind", "value", "invoke", "complete")


@dataclass(frozen=True)
class Op:
    """One operation of a history: ``process`` did ``kind`` with ``value`` over
    [``invoke``, ``complete``] (floats, seconds ≥ 0); ``complete=None`` means it never
    returned. Raises ``ValueError`` (kind not in :data:`KINDS`, a time not finite or
    negative, completed before invoked) or ``TypeError`` (process or value unhashable, a time not a number)."""
    process: Hashable
    kind: str
    value: Any
    invoke: float
    complete: float | None

    def __post_init__(self):
        choice("kind", self.kind, KINDS)
        try:
            hash((self.value, self.process))
        except TypeError:
            raise TypeError(f"process and value must be hashable (numbers, strings, None), "
                            f"got {self.process!r} and {self.value!r}") from None
        object.__setattr__(self, "invoke", number("invoke", self.invoke, minimum=0))
        if self.complete is not None:
            object.__setattr__(self, "complete", number("complete", self.complete))
            if self.complete < self.invoke:
                raise ValueError(f"complete must not come before invoke: the operation "
                                 f"completes ({self.complete:g}) before it is invoked "
                                 f"({self.invoke:g})")

    def __str__(self) -> str:
        end = "…" if self.complete is None else f"{self.complete:g}"
        shown = "initial" if self.value is None else repr(self.value)
        return f"{self.process}:{self.kind}({shown}) [{self.invoke:g}, {end}]"

    def precedes(self, other: "Op") -> bool:
        """Real-time order: self completed strictly before other was invoked."""
        return self.complete is not None and self.complete < other.invoke


@dataclass(frozen=True)
class Verdict:
    """``ok``: linearizable. ``order``: one valid order when ok. ``witness``: a smallest
    set of operations with no valid order when not ok. ``reason``: a sentence naming them."""
    ok: bool
    order: tuple[Op, ...] = ()
    witness: tuple[Op, ...] = ()
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        if self.ok:
            return f"linearizable ({len(self.order)} operations in one valid order)"
        return "NOT linearizable: " + self.reason


def _as_op(item, i: int) -> Op:
    if isinstance(item, Op):
        fields = tuple(getattr(item, k) for k in FIELDS)
    elif isinstance(item, Mapping):
        if missing := [k for k in FIELDS if k not in item]:
            raise ValueError(f"history[{i}] is missing {', '.join(missing)}; an operation has "
                             "process, kind, value, invoke and complete")
        fields = tuple(item[k] for k in FIELDS)
    elif isinstance(item, (tuple, list)) and len(item) == 5:
        fields = tuple(item)
    else:
        raise TypeError(f"history[{i}] must be an Op, a dict or a 5-tuple (process, kind, "
                        f"value, invoke, complete); got {type(item).__name__}")
    try:
        return Op(*fields)
    except (TypeError, ValueError) as exc:            # say which operation is wrong
        raise type(exc)(f"history[{i}]: {exc}") from None


def as_history(history: Iterable) -> list[Op]:
    """Validate a history and return it as a new list of ``Op`` (the input is not changed).

    Each process must be sequential: its operations may not overlap in time. Raises
    ``TypeError`` (not a list of operations) or ``ValueError`` (a malformed operation,
    named by its index, or a process running two at once).
    """
    if isinstance(history, (str, bytes, Mapping)) or not isinstance(history, Iterable):
        raise TypeError(f"history must be a list of operations, got {type(history).__name__}")
    ops = [_as_op(item, i) for i, item in enumerate(history)]
    by_process: dict = {}
    for op in ops:
        by_process.setdefault(op.process, []).append(op)
    for process, own in by_process.items():
        own = sorted(own, key=lambda o: o.invoke)
        for a, b in zip(own, own[1:]):
            if a.complete is None or a.complete > b.invoke:
                raise ValueError(f"history is not well formed: process {process!r} starts "
                                 f"{b} before {a} has completed (a process runs one "
                                 "operation at a time)")
    return ops


def _search(ops: list[Op], initial) -> list[Op] | None:
    """Wing & Gong's search with Lowe's cache: a valid order of ``ops``, or None."""
    ops = [op for op in ops if not (op.kind == "read" and op.complete is None)]
    # A pending write whose value no read returned can always be placed last (or never):
    # dropping it changes no verdict and keeps the search small.
    read_values = {op.value for op in ops if op.kind == "read"}
    ops = [op for op in ops if op.complete is not None or op.value in read_values]
    if not ops:
        return []
    # Entries in time order: calls and returns; at equal times calls come first, so
    # touching operations are concurrent. A pending write returns at +inf.
    entries = []
    for i, op in enumerate(ops):
        entries.append((op.invoke, 0, i))
        entries.append((math.inf if op.complete is None else op.complete, 1, i))
    entries.sort()
    n = len(entries)
    # A doubly linked list over entries (index n is the head sentinel).
    nxt = list(range(1, n + 1)) + [0]
    prv = [n] + list(range(0, n))
    nxt[n], prv[n] = 0, n - 1
    nxt[n - 1] = n
    call_of = {i: k for k, (_, is_ret, i) in enumerate(entries) if not is_ret}
    ret_of = {i: k for k, (_, is_ret, i) in enumerate(entries) if is_ret}

    def lift(k):
        for e in (k, ret_of[entries[k][2]]):
            nxt[prv[e]] = nxt[e]
            prv[nxt[e]] = prv[e]

    def unlift(k):
        for e in (ret_of[entries[k][2]], k):
            nxt[prv[e]] = e
            prv[nxt[e]] = e

    state, linearized = initial, 0
    cache = {(0, initial)}
    stack: list[tuple[int, Any]] = []
    k = nxt[n]
    while nxt[n] != n:
        _, is_ret, i = entries[k]
        if not is_ret:
            op = ops[i]
            if op.kind == "write":
                legal, new_state = True, op.value
            else:
                legal, new_state = op.value == state, state
            key = (linearized | (1 << i), new_state)
            if legal and key not in cache:
                cache.add(key)
                stack.append((k, state))
                state, linearized = new_state, key[0]
                lift(k)
                k = nxt[n]
            else:
                k = nxt[k]
        else:
            # An operation returned before we found a place for it: undo the last choice.
            if not stack:
                return None
            k, state = stack.pop()
            linearized &= ~(1 << entries[k][2])
            unlift(k)
            k = nxt[k]
    return [ops[entries[k][2]] for k, _ in stack]


def _shrink(ops: list[Op], initial) -> list[Op]:
    """A 1-minimal non-linearizable subset: dropping any one op makes it linearizable.

    A write is only dropped if no remaining read returns its value (else the read would
    become "returns a value nobody wrote" — true, but not the interesting proof).
    """
    kept = list(ops)
    # Try reads first, then writes, latest first: the proof tends to be early and small.
    for op in sorted(ops, key=lambda o: (o.kind == "write", -o.invoke)):
        rest = [o for o in kept if o is not op]
        if op.kind == "write":
            still_read = any(o.kind == "read" and o.value == op.value for o in rest)
            other_writer = any(o.kind == "write" and o.value == op.value for o in rest)
            if still_read and not other_writer:
                continue
        if _search(rest, initial) is None:
            kept = rest
    return sorted(kept, key=lambda o: (o.invoke, repr(o.process)))


def _reason(witness: list[Op], initial) -> str:
    written = {o.value for o in witness if o.kind == "write"}
    for op in witness:
        if op.kind == "read" and op.value not in written and op.value != initial:
            return f"{op} returned a value that no write wrote"
    reads = [o for o in witness if o.kind == "read"]
    writes = [o for o in witness if o.kind == "write"]
    if len(reads) == 1:
        read = reads[0]
        newer = [w for w in writes if w.value != read.value and w.precedes(read)]
        older = [w for w in writes if w.value == read.value]
        if newer and (not older or older[0].precedes(newer[0])):
            what = f"the value of {older[0]}" if older else "the initial value"
            return (f"stale read: {read} returned {what}, but {newer[0]} had completed "
                    f"before the read began")
    if len(reads) >= 2:
        first, later = reads[0], reads[-1]
        if first.precedes(later) and first.value != later.value:
            return (f"{first} and the later {later} cannot both be right: once a read has "
                    "seen a value, a later read may only see it or a newer one "
                    f"(writes: {', '.join(map(str, writes))})")
    return (f"no order of these {len(witness)} operations respects both real time and "
            f"register semantics: {'; '.join(map(str, witness))}")


def check_linearizable(history: Iterable, initial: Any = None) -> Verdict:
    """Decide whether ``history`` (operations on one register) is linearizable.

    ``initial`` is the register's value before any write (None by default). Returns a
    ``Verdict``: truthy when linearizable, with ``order`` one valid order; otherwise with
    ``witness``, a smallest set of the history's operations that has no valid order, and
    ``reason`` naming them, e.g. "stale read: 1:read(1) [5, 6] returned the value of
    0:write(1) [0, 1], but 2:write(2) [2, 3] had completed before the read began".
    Raises ``TypeError`` / ``ValueError`` as :func:`as_history`, and ``TypeError`` for an
    unhashable ``initial``.
    """
    try:
        hash(initial)
    except TypeError:
        raise TypeError(f"initial must be hashable, got {type(initial).__name__}") from None
    ops = as_history(history)
    order = _search(ops, initial)
    if order is not None:
        return Verdict(True, order=tuple(order))
    witness = _shrink(ops, initial)
    return Verdict(False, witness=tuple(witness), reason=_reason(witness, initial))


def _ops(*rows) -> tuple[Op, ...]:
    return tuple(Op(*row) for row in rows)


#: Textbook single-register histories, with whether each is linearizable. Initial value None.
#: After Herlihy & Wing 1990 (§2) and Kleppmann, *Designing Data-Intensive Applications*,
#: 2017, ch. 9, figures 9-2 to 9-4.
TEXTBOOK: dict[str, tuple[tuple[Op, ...], bool]] = {
    "sequential": (_ops(("A", "write", 1, 0, 1), ("B", "read", 1, 2, 3),
                        ("A", "write", 2, 4, 5), ("B", "read", 2, 6, 7)), True),
    "read during a write sees old or new": (
        _ops(("A", "write", 1, 0, 10), ("B", "read", None, 1, 2), ("C", "read", 1, 3, 4),
             ("B", "read", 1, 5, 6)), True),
    "concurrent writes, either order": (
        _ops(("A", "write", 1, 0, 5), ("B", "write", 2, 1, 6), ("C", "read", 1, 7, 8),
             ("C", "read", 1, 9, 10)), True),
    "stale read": (_ops(("A", "write", 1, 0, 1), ("A", "write", 2, 2, 3),
                        ("B", "read", 1, 4, 5)), False),
    "read of the initial value after a write": (
        _ops(("A", "write", 1, 0, 1), ("B", "read", None, 2, 3)), False),
    "new then old (DDIA fig. 9-3)": (
        _ops(("A", "write", 1, 0, 10), ("B", "read", 1, 1, 2), ("C", "read", None, 3, 4)),
        False),
    "reads disagree on the write order": (
        _ops(("A", "write", 1, 0, 5), ("B", "write", 2, 0, 5), ("C", "read", 1, 6, 7),
             ("D", "read", 2, 8, 9), ("C", "read", 1, 10, 11)), False),
    "value nobody wrote": (_ops(("A", "write", 1, 0, 1), ("B", "read", 7, 2, 3)), False),
}
