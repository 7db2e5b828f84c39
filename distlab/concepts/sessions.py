"""Session guarantees: what one client may expect from a weakly consistent replicated store.

Linearizability (:mod:`distlab.concepts.linearizability`) is a promise about all clients
together. An eventually consistent store makes none; it can still make promises to each
client about its own operations — its *session*. Terry, Demers, Petersen, Spreitzer,
Theimer and Welch named them ("Session Guarantees for Weakly Consistent Replicated
Data", PDIS 1994); two of them are checked here, on one register:

- **read your writes**: a read reflects every write the same session completed before it
  (returns that write's value or a newer one);
- **monotonic reads**: a read returns a value at least as new as every value the same
  session read before it (the session never sees time go backwards).

"Newer" is the store's own order of writes — the versions it resolves conflicts with
(last-writer-wins in :mod:`distlab.apps.stores`). So the checker takes the history and
that order, ``versions``: each written value's version (anything comparable, e.g. a
tuple). A write whose outcome is unknown (``complete=None``) is not promised to anyone;
a read that never returned promises nothing. A session's operations count in invocation
order; by default a session is a process, and ``session=`` maps processes to sessions (a
client that carries on as a new process after a timeout keeps its session).

Both guarantees hold in every linearizable history whose version order is the
linearization's order of writes; the converse fails (a history can keep both and still
have stale reads across sessions). Kleppmann, *Designing Data-Intensive Applications*,
2017, ch. 5 ("Reading Your Own Writes", "Monotonic Reads"), tells the same story.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable, Mapping

from distlab.concepts.linearizability import Op, as_history

__all__ = ["GUARANTEES", "SessionViolation", "SessionVerdict", "check_sessions",
           "SESSION_EXAMPLES"]

GUARANTEES = ("read your writes", "monotonic reads")


@dataclass(frozen=True)
class SessionViolation:
    """``read`` (of ``session``) broke ``guarantee``: it returned an older value than
    ``earlier`` — the session's own completed write, or a value it had read already."""
    guarantee: str
    session: Hashable
    earlier: Op
    read: Op

    def __str__(self) -> str:
        what = "its own write" if self.guarantee == GUARANTEES[0] else "its earlier read"
        return (f"{self.guarantee}: session {self.session!r} read {self.read}, older than "
                f"{what} {self.earlier}")


@dataclass(frozen=True)
class SessionVerdict:
    """``violations`` in the history's order of reads; truthy when there are none.
    ``count(guarantee)`` says how many broke one guarantee."""
    violations: tuple[SessionViolation, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.violations

    def __bool__(self) -> bool:
        return self.ok

    def count(self, guarantee: str) -> int:
        if guarantee not in GUARANTEES:
            raise ValueError(f"guarantee must be one of {GUARANTEES}, got {guarantee!r}")
        return sum(v.guarantee == guarantee for v in self.violations)

    def __str__(self) -> str:
        if self.ok:
            return "read your writes and monotonic reads hold in every session"
        counts = ", ".join(f"{self.count(g)} × {g}" for g in GUARANTEES if self.count(g))
        return f"{counts}; the first: {self.violations[0]}"


def check_sessions(history: Iterable, versions: Mapping[Any, Any], *, initial: Any = None,
                   session: Callable[[Hashable], Hashable] | None = None) -> SessionVerdict:
    """Check read-your-writes and monotonic reads in every session of ``history``.

    ``history``: operations on one register, as for
    :func:`~distlab.concepts.linearizability.check_linearizable` (``Op``, dicts or
    5-tuples). ``versions``: the version of each written value, comparable with each
    other; ``initial`` (the value before any write) is older than every version unless
    ``versions`` gives it one. ``session(process)`` names a process's session (default:
    the process itself). Returns a :class:`SessionVerdict`. Raises ``TypeError`` /
    ``ValueError`` as :func:`~distlab.concepts.linearizability.as_history` does,
    ``TypeError`` when ``versions`` is not a mapping or ``session`` not callable, and
    ``ValueError`` when a value that a completed operation wrote or read has no version.
    """
    if not isinstance(versions, Mapping):
        raise TypeError(f"versions must be a mapping from value to version, "
                        f"got {type(versions).__name__}")
    if session is not None and not callable(session):
        raise TypeError(f"session must be callable (process -> session), "
                        f"got {type(session).__name__}")
    ops = as_history(history)
    name = session or (lambda process: process)

    def rank(op: Op) -> tuple:
        # The initial value sorts before every version: (0,) < (1, anything).
        if op.value in versions:
            return (1, versions[op.value])
        if op.value == initial:
            return (0,)
        raise ValueError(f"{op} has no version: versions must give one for every value "
                         "written or read")

    for op in ops:
        if op.complete is not None:
            rank(op)                                 # every value must have a version
    by_session: dict = {}
    for op in ops:
        by_session.setdefault(name(op.process), []).append(op)
    found = []
    for s, own in by_session.items():
        last_write = last_read = None
        for op in sorted(own, key=lambda o: o.invoke):
            if op.complete is None:
                continue
            if op.kind == "write":
                if last_write is None or rank(op) > rank(last_write):
                    last_write = op
                continue
            if last_write is not None and rank(op) < rank(last_write):
                found.append(SessionViolation(GUARANTEES[0], s, last_write, op))
            if last_read is not None and rank(op) < rank(last_read):
                found.append(SessionViolation(GUARANTEES[1], s, last_read, op))
            if last_read is None or rank(op) > rank(last_read):
                last_read = op
    found.sort(key=lambda v: (v.read.invoke, GUARANTEES.index(v.guarantee)))
    return SessionVerdict(tuple(found))


def _ops(*rows) -> tuple[Op, ...]:
    return tuple(Op(*row) for row in rows)


#: Small histories with the version of each value, and which guarantees they break.
#: After Terry et al. 1994, §2, and Kleppmann 2017, figures 5-3 and 5-4. Initial value None.
SESSION_EXAMPLES: dict[str, tuple[tuple[Op, ...], dict, tuple[str, ...]]] = {
    "reads its own write": (
        _ops(("A", "write", 1, 0, 1), ("A", "read", 1, 2, 3)), {1: 1}, ()),
    "a newer write by another session is fine": (
        _ops(("A", "write", 1, 0, 1), ("B", "write", 2, 2, 3), ("A", "read", 2, 4, 5)),
        {1: 1, 2: 2}, ()),
    "own write lost (DDIA fig. 5-3)": (
        _ops(("A", "write", 1, 0, 1), ("A", "read", None, 2, 3)), {1: 1}, (GUARANTEES[0],)),
    "time goes backwards (DDIA fig. 5-4)": (
        _ops(("B", "write", 1, 0, 1), ("B", "write", 2, 2, 3), ("A", "read", 2, 4, 5),
             ("A", "read", 1, 6, 7)), {1: 1, 2: 2}, (GUARANTEES[1],)),
    "stale for another session, fine for both guarantees": (
        _ops(("B", "write", 1, 0, 1), ("B", "write", 2, 2, 3), ("A", "read", 1, 4, 5)),
        {1: 1, 2: 2}, ()),
}
