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


def count(name: str, value, *, minimum: int = 0, maximum: int | None = None,
          limit: str = "the limit of this function") -> int:
    """``value`` as an ``int`` in [minimum, maximum]; bools and floats are refused.

    Raises ``TypeError`` (not an integer) or ``ValueError`` (out of range). ``limit`` says
    where ``maximum`` comes from: by default a bound on work that would otherwise run
    away; or another argument ("darts", "len(data)").
    """
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be ≥ {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be ≤ {maximum:,} ({limit}), got {value:,}")
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
    interval = f"{'(' if open_low else '['}0, 1{')' if open_high else ']'}"
    try:
        value = number(name, value, minimum=0, maximum=1)
    except ValueError:
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}") from None
    if (open_low and value == 0) or (open_high and value == 1):
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")
    return value


def sequence(name: str, value) -> list:
    """``value`` as a new list (a list, tuple, array or other iterable, not a string,
    bytes or dict). Raises ``TypeError`` for anything else; the caller's object is not
    modified."""
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a list, got {type(value).__name__}")
    return list(value)


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


def text(name: str, value) -> str:
    """A non-blank string (an address, a label, a size such as "512MiB").

    Raises ``TypeError`` (not a string) or ``ValueError`` (empty or only spaces)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__} {value!r}")
    if not value.strip():
        raise ValueError(f"{name} must not be empty, got {value!r}")
    return value
