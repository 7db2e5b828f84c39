"""Argument checks for the public entry points: one home, one wording.

Every check names the argument, shows the value and says what was expected, raises
``TypeError`` for the wrong kind of value and ``ValueError`` for a value out of range, and
returns the value normalised (an ``int``, a ``float``, a ``str``). It never modifies its
argument. This module imports nothing from distlab, so every layer may use it.

    count("nodes", nodes, minimum=1, maximum=4096)      # an int, not a bool or 2.0
    number("alpha", alpha, minimum=0)                    # a finite real, ≥ 0
    number("bandwidth", bw, minimum=0, strict=True)      # a finite real, > 0
    fraction("drop", drop)                               # in [0, 1]
    choice("algorithm", name, ALGORITHMS)                # one of the listed names
"""
from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Iterable


def count(name: str, value, *, minimum: int = 0, maximum: int | None = None) -> int:
    """``value`` as an ``int`` in [minimum, maximum]; bools and floats are refused.

    Raises ``TypeError`` (not an integer) or ``ValueError`` (out of range; ``maximum``
    bounds work that would otherwise run away, and the message names the limit).
    """
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be ≥ {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be ≤ {maximum:,} (the limit of this function), "
                         f"got {value:,}")
    return value


def number(name: str, value, *, minimum: float | None = None, maximum: float | None = None,
           strict: bool = False) -> float:
    """``value`` as a finite ``float`` in its range (``strict``: the bounds excluded).

    Raises ``TypeError`` (not a real number, or a bool) or ``ValueError`` (NaN, infinite
    or out of range).
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    low = minimum is not None and (value <= minimum if strict else value < minimum)
    high = maximum is not None and (value >= maximum if strict else value > maximum)
    if low or high:
        sign = (">", "<") if strict else ("≥", "≤")
        bounds = " and ".join(f"{s} {b:g}" for s, b in zip(sign, (minimum, maximum))
                              if b is not None)
        raise ValueError(f"{name} must be {bounds}, got {value!r}")
    return value


def positive(name: str, value) -> float:
    """A finite number > 0 (a size, a duration, a rate)."""
    return number(name, value, minimum=0, strict=True)


def fraction(name: str, value, *, open_low: bool = False, open_high: bool = False) -> float:
    """A finite number in [0, 1] (a probability, a share); ``open_*`` exclude an end."""
    value = number(name, value, minimum=0, maximum=1)
    if (open_low and value == 0) or (open_high and value == 1):
        raise ValueError(f"{name} must be in {'(' if open_low else '['}0, "
                         f"1{')' if open_high else ']'}, got {value!r}")
    return value


def choice(name: str, value, choices: Iterable[str]) -> str:
    """One of ``choices``; the message lists them."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; "
                         f"got {value!r}")
    return value


def flag(name: str, value) -> bool:
    """A bool (``True``/``False``, not 0/1 or a string)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return value
