"""Gossip: averaging with neighbours only, which reaches the mean within a tolerance.

An exact all-reduce makes every node agree in one collective (strong consistency). Gossip
lets each node talk to a few neighbours per round; the nodes disagree for a while and
converge to the mean (eventual consistency). Three variants, each a plan of ``"mix"``
transfers (see :mod:`distlab.concepts.plans`):

- ``gossip_ring``: synchronous neighbour averaging on a ring, W = (I + A)/3: keep a third,
  take a third from each neighbour. (Pure neighbour averaging A/2 never converges for even
  N: eigenvalue -1, the values oscillate.)
- ``gossip_complete``: synchronous averaging on the complete graph, keep ``self_weight``
  (default 1/2) and take an equal share of the rest from every other node. With
  ``self_weight = 1/N`` one round is already the exact mean (an all-to-all all-reduce).
- ``gossip_random``: randomized pairwise gossip (Boyd, Ghosh, Prabhakar & Shah,
  "Randomized Gossip Algorithms", IEEE Trans. Inf. Theory 52(6), 2006): at each tick a
  random node wakes up, picks a random other node, and both take the average of the two.
  Seeded, so a plan is reproducible. One round is one tick.

How many rounds. Write x(k) for the node values after k rounds and x̄ for their mean; the
error is ‖x(k) - x̄1‖ / ‖x(0) - x̄1‖ (the disagreement, relative to where it started).
For a symmetric doubly stochastic W (Xiao & Boyd, "Fast linear iterations for distributed
averaging", 2004) the error is at most r^k with r = max |λ| of W - 11ᵀ/N, so
``ceil(ln(1/ε) / ln(1/r))`` rounds are enough. For randomized pairwise gossip,
E‖x(k) - x̄1‖² ≤ λ2(W̄)^k ‖x(0) - x̄1‖², so by Markov's inequality
``ceil(3 ln(1/ε) / ln(1/λ2))`` ticks bring the error below ε with probability at least
1 - ε (Boyd et al.'s upper bound on the ε-averaging time).
"""
from __future__ import annotations

import math

import numpy as np

from distlab.checks import choice, count, fraction, number, positive
from distlab.concepts.plans import Plan, Round, Transfer, check_node_count

GOSSIP_ALGORITHMS = ("gossip_ring", "gossip_complete", "gossip_random")
DEFAULT_TOLERANCE = 1e-6
#: The smallest tolerance a plan is built for: float64 rounding leaves an error of about
#: 1e-16 after any number of rounds, so a smaller target would never be met.
MIN_TOLERANCE = 1e-12
# Node counts stop at plans.MAX_NODES here too: the matrices are n × n and their
# eigenvalues cost O(n³).


def _numbers(name: str, value) -> np.ndarray:
    """``value`` as a non-empty float array of finite numbers."""
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}") \
            from None
    if array.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, but contains NaN or infinity")
    return array


def _tolerance(value) -> float:
    """A tolerance in [:data:`MIN_TOLERANCE`, 1)."""
    tolerance = _open_fraction("tolerance", value)
    if tolerance < MIN_TOLERANCE:
        raise ValueError(f"tolerance must be ≥ {MIN_TOLERANCE:g} (below it rounding, not "
                         f"rounds, sets the error), got {tolerance!r}")
    return tolerance


def _open_fraction(name: str, value) -> float:
    """A tolerance or a weight: strictly between 0 and 1 (0 never converges, 1 is no
    averaging at all)."""
    return fraction(name, value, open_low=True, open_high=True)


def ring_matrix(n: int) -> np.ndarray:
    """W for synchronous ring gossip: (I + A)/3; for N = 2 the one neighbour gets 1/2.
    An (n, n) float64 array; ``n`` an int in [1, MAX_NODES], else ``TypeError`` /
    ``ValueError``."""
    n = check_node_count(n, "n")
    w = np.zeros((n, n))
    for i in range(n):
        neighbours = sorted({(i - 1) % n, (i + 1) % n} - {i})
        share = 1.0 / (len(neighbours) + 1)
        w[i, i] = share
        for j in neighbours:
            w[i, j] = share
    return w


def complete_matrix(n: int, self_weight: float = 0.5) -> np.ndarray:
    """W for synchronous complete-graph gossip: keep ``self_weight`` (in (0, 1)), the
    rest shared. An (n, n) float64 array; errors as :func:`ring_matrix`."""
    n = check_node_count(n, "n")
    self_weight = _open_fraction("self_weight", self_weight)
    if n == 1:
        return np.ones((1, 1))
    w = np.full((n, n), (1.0 - self_weight) / (n - 1))
    np.fill_diagonal(w, self_weight)
    return w


def pairwise_matrix(n: int) -> np.ndarray:
    """Boyd et al.'s W̄ = E[W(t)] for pairwise gossip on the complete graph
    (a random node wakes, picks one of the n - 1 others uniformly). An (n, n) float64
    array; errors as :func:`ring_matrix`."""
    n = check_node_count(n, "n")
    if n == 1:
        return np.ones((1, 1))
    p = (np.ones((n, n)) - np.eye(n)) / (n - 1)
    d = np.diag(p.sum(axis=1) + p.sum(axis=0))
    return np.eye(n) - d / (2 * n) + (p + p.T) / (2 * n)


def second_eigenvalue(w: np.ndarray) -> float:
    """r = max |λ| of W - 11ᵀ/N: the rate at which disagreement shrinks per round.

    ``w`` a symmetric (N, N) array of finite numbers, N ≤ MAX_NODES; ``TypeError`` /
    ``ValueError`` otherwise."""
    w = _numbers("w", w)
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"w must be a square (N, N) matrix, got shape {w.shape}")
    check_node_count(len(w), "len(w)")
    n = len(w)
    if n == 1:
        return 0.0
    eig = np.linalg.eigvalsh(w - np.ones((n, n)) / n)
    r = float(np.max(np.abs(eig)))
    return 0.0 if r < 1e-12 else r


def rounds_to_tolerance(r: float, tolerance: float, factor: float = 1.0) -> int:
    """``ceil(factor · ln(1/ε) / ln(1/r))``: rounds for a contraction r to reach ε
    (factor 3 for the randomized pairwise bound). At least 1 unless already exact.

    ``r`` a number ≥ 0, ``tolerance`` in [:data:`MIN_TOLERANCE`, 1), ``factor`` > 0;
    raises ``ValueError`` when ``r`` ≥ 1 (the iteration does not converge) or an argument
    is out of range, ``TypeError`` for one that is not a number."""
    r = number("r", r, minimum=0)
    tolerance = _tolerance(tolerance)
    factor = positive("factor", factor)
    if r <= 0.0:
        return 1
    if r >= 1.0:
        raise ValueError(f"the iteration does not converge (rate r = {r})")
    return max(1, math.ceil(factor * math.log(1 / tolerance) / math.log(1 / r) - 1e-9))


def predicted_rounds(algorithm: str, n: int, tolerance: float = DEFAULT_TOLERANCE,
                     self_weight: float = 0.5) -> float:
    """The spectral-gap prediction ln(1/ε)/ln(1/r), not rounded: synchronous rounds for the
    ring and complete graph; for pairwise gossip, ticks in expectation (the plan runs 3×
    that for a high-probability guarantee).

    ``algorithm`` one of :data:`GOSSIP_ALGORITHMS`, ``n`` an int in [1, MAX_NODES],
    ``tolerance`` in [:data:`MIN_TOLERANCE`, 1), ``self_weight`` in (0, 1); else
    ``TypeError`` / ``ValueError``."""
    tolerance = _tolerance(tolerance)
    r = rate(algorithm, n, self_weight)
    if n == 1:
        return 0.0
    if r == 0.0:
        return 1.0
    return math.log(1 / tolerance) / math.log(1 / r)


def rate(algorithm: str, n: int, self_weight: float = 0.5) -> float:
    """The contraction factor of a gossip algorithm: r for synchronous, λ2(W̄) for pairwise.
    Arguments and errors as :func:`predicted_rounds`."""
    choice("algorithm", algorithm, GOSSIP_ALGORITHMS)
    n = check_node_count(n, "n")
    self_weight = _open_fraction("self_weight", self_weight)
    matrix = {"gossip_ring": lambda: ring_matrix(n),
              "gossip_complete": lambda: complete_matrix(n, self_weight),
              "gossip_random": lambda: pairwise_matrix(n)}[algorithm]()
    return second_eigenvalue(matrix)


def _matrix_round(w: np.ndarray, label: str) -> Round:
    n = len(w)
    return Round(tuple(Transfer(j, i, (0, 1), "mix", float(w[i, j]))
                       for i in range(n) for j in range(n) if j != i and w[i, j] > 0), label)


def gossip_ring(p: int, tolerance: float = DEFAULT_TOLERANCE) -> Plan:
    """Synchronous ring gossip, enough rounds for the error to fall below ``tolerance``.

    ``p`` an int in [1, MAX_NODES], ``tolerance`` in [:data:`MIN_TOLERANCE`, 1); else
    ``TypeError`` / ``ValueError``."""
    p = check_node_count(p)
    tolerance = _tolerance(tolerance)
    if p == 1:
        return Plan("gossip_ring", 1, 1, (), exact=False)
    w = ring_matrix(p)
    k = rounds_to_tolerance(second_eigenvalue(w), tolerance)
    same = _matrix_round(w, "").transfers        # one tuple shared by every round
    rounds = tuple(Round(same, f"gossip {i + 1}/{k}") for i in range(k))
    return Plan("gossip_ring", p, 1, rounds, exact=False,
                notes={"tolerance": tolerance, "rate": second_eigenvalue(w)})


def gossip_complete(p: int, tolerance: float = DEFAULT_TOLERANCE,
                    self_weight: float = 0.5) -> Plan:
    """Synchronous complete-graph gossip with ``self_weight`` kept at home. Arguments
    and errors as :func:`gossip_ring`; ``self_weight`` in (0, 1)."""
    p = check_node_count(p)
    tolerance = _tolerance(tolerance)
    self_weight = _open_fraction("self_weight", self_weight)
    if p == 1:
        return Plan("gossip_complete", 1, 1, (), exact=False)
    w = complete_matrix(p, self_weight)
    r = second_eigenvalue(w)
    if r >= 1.0 - 1e-12:
        raise ValueError(f"self_weight={self_weight} does not converge for N={p}")
    k = rounds_to_tolerance(r, tolerance)
    same = _matrix_round(w, "").transfers
    rounds = tuple(Round(same, f"gossip {i + 1}/{k}") for i in range(k))
    return Plan("gossip_complete", p, 1, rounds, exact=False,
                notes={"tolerance": tolerance, "rate": r, "self_weight": self_weight})


def gossip_random(p: int, tolerance: float = DEFAULT_TOLERANCE, seed: int = 0) -> Plan:
    """Randomized pairwise gossip on the complete graph, one pair per round (tick).

    Boyd et al.'s 3 × ln(1/ε)/ln(1/λ2) ticks reach ε only with high probability, so the
    plan keeps drawing seeded ticks until the product of its mixing matrices, Φ, contracts
    every input: ‖Φ − 11ᵀ/p‖₂ ≤ ε, which bounds the final disagreement for any values.
    Arguments and errors as :func:`gossip_ring`; ``seed`` an int ≥ 0.
    """
    p = check_node_count(p)
    tolerance = _tolerance(tolerance)
    seed = count("seed", seed)
    if p == 1:
        return Plan("gossip_random", 1, 1, (), exact=False)
    lam = second_eigenvalue(pairwise_matrix(p))
    k = rounds_to_tolerance(lam, tolerance, factor=3.0)
    rng = np.random.default_rng(seed)
    mixing = np.eye(p)
    average = np.full((p, p), 1.0 / p)
    rounds = []
    while len(rounds) < k or np.linalg.norm(mixing - average, 2) > tolerance:
        for _ in range(k if not rounds else p):       # then check again every p ticks
            t = len(rounds)
            i = int(rng.integers(p))
            j = int(rng.integers(p - 1))
            j += j >= i                      # a uniform choice among the other p - 1 nodes
            mixing[[i, j]] = (mixing[i] + mixing[j]) / 2
            rounds.append((i, j, t))
    total = len(rounds)
    return Plan("gossip_random", p, 1,
                tuple(Round((Transfer(i, j, (0, 1), "mix", 0.5),
                             Transfer(j, i, (0, 1), "mix", 0.5)),
                            f"tick {t + 1}/{total}: {min(i, j)} ↔ {max(i, j)}")
                      for i, j, t in rounds), exact=False,
                notes={"tolerance": tolerance, "rate": lam, "seed": seed})


def disagreement(buffers: np.ndarray, mean: np.ndarray) -> float:
    """‖x - x̄1‖ over all nodes and elements (Frobenius): a float. ``buffers`` one value or
    vector per node, shape (nodes,) or (nodes, n); ``mean`` one node's shape (a number
    for scalars); both finite. ``TypeError``/``ValueError`` naming the argument
    otherwise."""
    buffers, mean = _numbers("buffers", buffers), _numbers("mean", mean)
    if buffers.ndim not in (1, 2):
        raise ValueError(f"buffers must have shape (nodes,) or (nodes, n), got {buffers.shape}")
    if mean.shape not in ((), buffers.shape[1:]):
        raise ValueError(f"mean must have one node's shape {buffers.shape[1:]}, "
                         f"got {mean.shape}")
    return float(np.linalg.norm(buffers - mean))
