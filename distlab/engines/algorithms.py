"""The algorithms ``allreduce`` knows, and the plan of each: one place, for every engine.

The client builds a plan here before running it; the workers of the fast direct engine
and the SPMD ranks rebuild the same plan from its name and options, so a plan never has
to travel. The plans themselves are :mod:`distlab.concepts.plans` (exact algorithms) and
:mod:`distlab.concepts.gossip`.

Public: :data:`ALGORITHMS`, :data:`EXACT_ALGORITHMS`, :func:`check_algorithm`,
:func:`make_plan`. :func:`rebuild_options` is the fast direct engine's, not a learner's.
"""
from __future__ import annotations

from functools import lru_cache

from distlab import checks
from distlab.concepts.gossip import (DEFAULT_TOLERANCE, GOSSIP_ALGORITHMS, gossip_complete,
    gossip_random, gossip_ring)
from distlab.concepts.plans import EXACT_BUILDERS, MAX_NODES, Plan

__all__ = ["ALGORITHMS", "EXACT_ALGORITHMS", "check_algorithm", "make_plan"]

#: Every algorithm ``allreduce`` knows, naive first; the last three are gossip.
ALGORITHMS = ("star", "tree", "ring", "recursive_doubling", "rabenseifner",
              *GOSSIP_ALGORITHMS)
#: The algorithms that end with the exact mean (the others reach it within a tolerance).
EXACT_ALGORITHMS = tuple(a for a in ALGORITHMS if a in EXACT_BUILDERS)


def check_algorithm(algorithm) -> str:
    """``algorithm`` if it is one of :data:`ALGORITHMS`; ``TypeError`` when it is not a
    string, ``ValueError`` (listing the known ones) when it is an unknown name."""
    if isinstance(algorithm, str) and algorithm in ALGORITHMS:
        return algorithm
    known = ", ".join(ALGORITHMS)
    if not isinstance(algorithm, str):
        raise TypeError(f"algorithm must be a string, one of {known}; "
                        f"got {type(algorithm).__name__}")
    raise ValueError(f"unknown algorithm {algorithm!r}; known algorithms: {known}")


def _check_nodes(n_nodes) -> int:
    """A node count: an int in [1, MAX_NODES] (``TypeError`` / ``ValueError`` otherwise)."""
    return checks.count("n_nodes", n_nodes, minimum=1, maximum=MAX_NODES,
                        limit="plans.MAX_NODES: a bigger plan takes seconds and gigabytes")


def _check_options(tolerance, seed, self_weight) -> None:
    """The gossip options: ``tolerance`` and ``self_weight`` in (0, 1), ``seed`` an int
    ≥ 0. Raises ``TypeError`` / ``ValueError`` naming the argument."""
    checks.fraction("tolerance", tolerance, open_low=True, open_high=True)
    checks.count("seed", seed)
    checks.fraction("self_weight", self_weight, open_low=True, open_high=True)


def make_plan(algorithm: str, n_nodes: int, *, tolerance: float = DEFAULT_TOLERANCE,
              seed: int = 0, self_weight: float = 0.5) -> Plan:
    """The plan of ``algorithm`` for ``n_nodes`` nodes. ``tolerance`` (relative
    disagreement to reach), ``seed`` and ``self_weight`` only matter for gossip. Raises
    ``TypeError`` / ``ValueError`` for a bad argument, naming it: ``algorithm`` one of
    :data:`ALGORITHMS`, ``n_nodes`` an int in [1, :data:`~distlab.concepts.plans.MAX_NODES`]
    (larger plans would take seconds and gigabytes), ``tolerance`` and ``self_weight`` in
    (0, 1), ``seed`` an int ≥ 0.

    Plans are immutable, so the last 128 built are kept and handed out again: a training
    loop's calls do not rebuild one (a gossip plan on 64 nodes takes milliseconds), and an
    engine can tell a plan built here from any other by identity
    (:func:`rebuild_options`)."""
    check_algorithm(algorithm)
    n_nodes = _check_nodes(n_nodes)
    _check_options(tolerance, seed, self_weight)
    if algorithm in EXACT_BUILDERS:
        return _build(algorithm, n_nodes, DEFAULT_TOLERANCE, 0, 0.5)
    return _build(algorithm, n_nodes, float(tolerance), int(seed), float(self_weight))


@lru_cache(maxsize=128)
def _build(algorithm: str, n_nodes: int, tolerance: float, seed: int,
           self_weight: float) -> Plan:
    if algorithm in EXACT_BUILDERS:
        return EXACT_BUILDERS[algorithm](n_nodes)
    if algorithm == "gossip_ring":
        return gossip_ring(n_nodes, tolerance)
    if algorithm == "gossip_complete":
        return gossip_complete(n_nodes, tolerance, self_weight)
    return gossip_random(n_nodes, tolerance, seed)


def rebuild_options(plan: Plan) -> dict | None:
    """The options with which :func:`make_plan` gives ``plan`` itself (the very object),
    so that a worker can rebuild it from its name and these; ``None`` for a plan made
    any other way. Internal (the fast direct engine's); raises nothing."""
    if plan.algorithm not in ALGORITHMS:
        return None
    notes = plan.notes or {}
    options = {"tolerance": notes.get("tolerance", DEFAULT_TOLERANCE),
               "seed": notes.get("seed", 0), "self_weight": notes.get("self_weight", 0.5)}
    try:
        built = make_plan(plan.algorithm, plan.n_nodes, **options)
    except (TypeError, ValueError):
        return None
    return options if built is plan else None
