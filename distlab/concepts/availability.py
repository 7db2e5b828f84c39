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

from distlab.checks import count, fraction, positive

__all__ = ["availability", "any_of", "quorum", "nines", "downtime_hours_per_year", "table"]

HOURS_PER_YEAR = 365.25 * 24
#: The most replicas ``quorum`` and ``any_of`` take: beyond about 1,020 the binomial
#: coefficients C(n, k) no longer fit in a float, and no real system has that many.
MAX_REPLICAS = 1000


def _replicas(n, name: str = "n (replicas)") -> int:
    return count(name, n, minimum=1, maximum=MAX_REPLICAS)


def _availability(a) -> float:
    return fraction("a (availability)", a)


def availability(mtbf: float, mttr: float) -> float:
    """Fraction of time one node is up: MTBF / (MTBF + MTTR) (same time unit for both).

    Both must be finite numbers > 0: ``TypeError`` / ``ValueError`` otherwise."""
    mtbf, mttr = positive("mtbf", mtbf), positive("mttr", mttr)
    return mtbf / (mtbf + mttr)


def quorum(a: float, n: int, q: int) -> float:
    """Probability that at least ``q`` of ``n`` independent replicas (each up with
    probability ``a``) are up.

    ``a`` in [0, 1]; ``n`` an int in [1, :data:`MAX_REPLICAS`]; ``q`` an int in [1, n].
    Raises ``TypeError`` (not a number / not an int) or ``ValueError`` (out of range)."""
    a = _availability(a)
    n, q = _replicas(n), _replicas(q, "q (quorum)")
    if q > n:
        raise ValueError(f"q (quorum) must be at most n={n}, got {q}")
    return sum(math.comb(n, k) * a ** k * (1 - a) ** (n - k) for k in range(q, n + 1))


def any_of(a: float, n: int) -> float:
    """Probability that at least one of ``n`` independent replicas is up: 1 − (1 − a)ⁿ.
    Arguments and errors as :func:`quorum`."""
    a = _availability(a)
    return 1 - (1 - a) ** _replicas(n)


def nines(a: float) -> float:
    """−log10(1 − a): 0.999 → 3.0. Infinite for a = 1. ``a`` in [0, 1], else
    ``TypeError`` / ``ValueError``."""
    a = _availability(a)
    return math.inf if a == 1 else -math.log10(1 - a)


def downtime_hours_per_year(a: float) -> float:
    """Hours a year down at availability ``a`` (in [0, 1], else ``ValueError``)."""
    return (1 - _availability(a)) * HOURS_PER_YEAR


def table(mtbf_hours: float = 1000.0, mttr_hours: float = 10.0, replicas=(1, 2, 3, 5)):
    """For each replica count n: availability and nines when any one replica suffices
    and when a majority quorum is needed, and the downtime a year. A DataFrame indexed
    by ``replicas``; errors as :func:`availability` and :func:`quorum`."""
    import pandas as pd

    a = availability(positive("mtbf_hours", mtbf_hours), positive("mttr_hours", mttr_hours))
    if isinstance(replicas, (str, bytes)) or not hasattr(replicas, "__iter__"):
        raise TypeError(f"replicas must be a list of ints, got {type(replicas).__name__}")
    rows = []
    for i, n in enumerate(replicas):
        n = _replicas(n, f"replicas[{i}]")
        majority = n // 2 + 1
        one, maj = any_of(a, n), quorum(a, n, majority)
        rows.append({"replicas": n,
                     "any 1 up: availability": f"{one:.8f}",
                     "any 1 up: nines": round(nines(one), 1),
                     "any 1 up: down h/year": round(downtime_hours_per_year(one), 4),
                     f"majority up: availability": f"{maj:.8f}",
                     "majority up: nines": round(nines(maj), 1),
                     "majority up: down h/year": round(downtime_hours_per_year(maj), 4)})
    if not rows:
        raise ValueError("replicas must hold at least one replica count")
    return pd.DataFrame(rows).set_index("replicas")
