"""High availability as arithmetic: replicas, MTBF and MTTR → "nines".

The document (2.1) says a distributed system stays up when a node fails. How much more
available does replication make it? With each node up a fraction
A = MTBF / (MTBF + MTTR) of the time (mean time between failures, mean time to repair;
the steady-state availability of reliability engineering, e.g. Gray & Siewiorek,
"High-Availability Computer Systems", IEEE Computer, 1991), and nodes failing
independently:

- a service that needs **any one** of n replicas is up 1 − (1 − A)ⁿ of the time;
- a service that needs a **quorum** of q of n replicas (a strong-consistency store, §2.2)
  is up P(at least q of n up) = Σ_{k=q}^{n} C(n, k) Aᵏ (1 − A)ⁿ⁻ᵏ — less than "any one".

"Nines" = −log10(1 − availability): 99.9 % is three nines, about 8.8 hours down a year.
Independence is the optimistic part: failures that strike replicas together (a rack, a
power feed, a bad deploy) dominate in practice (Ford et al., "Availability in Globally
Distributed Storage Systems", OSDI 2010), so these are upper bounds.
"""
from __future__ import annotations

import math
from numbers import Real

__all__ = ["availability", "any_of", "quorum", "nines", "downtime_hours_per_year", "table"]

HOURS_PER_YEAR = 365.25 * 24


def _positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) \
            or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _probability(a, name: str = "a (availability)") -> float:
    if isinstance(a, bool) or not isinstance(a, Real) or not 0 <= a <= 1:
        raise ValueError(f"{name} must be a fraction in [0, 1], got {a!r}")
    return float(a)


def _count(n, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{name} must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"{name} must be at least 1, got {n}")
    return n


def availability(mtbf: float, mttr: float) -> float:
    """Fraction of time one node is up: MTBF / (MTBF + MTTR) (same time unit for both)."""
    mtbf, mttr = _positive(mtbf, "mtbf"), _positive(mttr, "mttr")
    return mtbf / (mtbf + mttr)


def quorum(a: float, n: int, q: int) -> float:
    """Probability that at least ``q`` of ``n`` independent replicas (each up with
    probability ``a``) are up."""
    a = _probability(a)
    n, q = _count(n, "n (replicas)"), _count(q, "q (quorum)")
    if q > n:
        raise ValueError(f"q (quorum) must be at most n={n}, got {q}")
    return sum(math.comb(n, k) * a ** k * (1 - a) ** (n - k) for k in range(q, n + 1))


def any_of(a: float, n: int) -> float:
    """Probability that at least one of ``n`` independent replicas is up: 1 − (1 − a)ⁿ."""
    a = _probability(a)
    return 1 - (1 - a) ** _count(n, "n (replicas)")


def nines(a: float) -> float:
    """−log10(1 − a): 0.999 → 3.0. Infinite for a = 1."""
    a = _probability(a)
    return math.inf if a == 1 else -math.log10(1 - a)


def downtime_hours_per_year(a: float) -> float:
    return (1 - _probability(a)) * HOURS_PER_YEAR


def table(mtbf_hours: float = 1000.0, mttr_hours: float = 10.0, replicas=(1, 2, 3, 5)):
    """For each replica count n: availability and nines when any one replica suffices
    and when a majority quorum is needed, and the downtime a year."""
    import pandas as pd

    a = availability(mtbf_hours, mttr_hours)
    rows = []
    for n in replicas:
        n = _count(n, "replicas[i]")
        majority = n // 2 + 1
        one, maj = any_of(a, n), quorum(a, n, majority)
        rows.append({"replicas": n,
                     "any 1 up: availability": f"{one:.8f}",
                     "any 1 up: nines": round(nines(one), 1),
                     "any 1 up: down h/year": round(downtime_hours_per_year(one), 4),
                     f"majority up: availability": f"{maj:.8f}",
                     "majority up: nines": round(nines(maj), 1),
                     "majority up: down h/year": round(downtime_hours_per_year(maj), 4)})
    return pd.DataFrame(rows).set_index("replicas")
