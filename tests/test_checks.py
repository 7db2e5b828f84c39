"""distlab.checks, the one home of argument checks: what passes, what is refused, and that
every refusal names the argument, shows the value and raises the documented error."""
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, strategies as st

from distlab import checks

NAME = "the_argument"
NOT_NUMBERS = st.one_of(st.none(), st.text(max_size=3), st.lists(st.integers(), max_size=2),
                        st.just(1j), st.just(b"1"))


# ---------------------------------------------------------------- count

@given(st.data())
def test_count_passes_any_int_in_range(data):
    low = data.draw(st.integers(-10**6, 10**6))
    high = data.draw(st.integers(low, low + 10**12))
    value = data.draw(st.integers(low, high))
    assert checks.count(NAME, value, minimum=low, maximum=high) == value
    assert type(checks.count(NAME, value, minimum=low)) is int


@given(st.integers(0, 2**31))
def test_count_takes_numpy_ints_and_returns_a_python_int(value):
    out = checks.count(NAME, np.int64(value))
    assert out == value and type(out) is int


@given(st.one_of(st.booleans(), st.floats(allow_nan=True, allow_infinity=True),
                 st.decimals(allow_nan=False), st.fractions(), NOT_NUMBERS))
def test_count_refuses_bools_floats_and_non_numbers_naming_the_argument(value):
    with pytest.raises(TypeError, match=f"^{NAME} must be an int, got "):
        checks.count(NAME, value)


@given(st.integers(1, 10**6), st.integers(1, 10**6))
def test_count_out_of_range_names_the_argument_the_value_and_the_limit(low, over):
    with pytest.raises(ValueError, match=f"^{NAME} must be ≥ {low}, got {low - over}$"):
        checks.count(NAME, low - over, minimum=low)
    with pytest.raises(ValueError, match=rf"^{NAME} must be ≤ {low:,} \(the limit of this "
                                         rf"function\), got {low + over:,}$"):
        checks.count(NAME, low + over, maximum=low)


# ---------------------------------------------------------------- number, positive

@given(st.one_of(st.integers(-10**9, 10**9), st.floats(-1e300, 1e300),
                 st.fractions(min_value=-10**6, max_value=10**6)))
def test_number_passes_any_finite_real_as_a_float(value):
    out = checks.number(NAME, value)
    assert type(out) is float and out == float(value)


@given(st.one_of(st.booleans(), NOT_NUMBERS))
def test_number_refuses_bools_and_non_numbers(value):
    with pytest.raises(TypeError, match=f"^{NAME} must be a number, got "):
        checks.number(NAME, value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, np.float64("nan"),
                                   np.float32("inf")])
def test_number_refuses_nan_and_infinity(value):
    with pytest.raises(ValueError, match=f"^{NAME} must be finite, got "):
        checks.number(NAME, value)


@given(st.floats(-1e6, 1e6), st.floats(0, 1e6))
def test_number_range_inclusive_and_strict(low, width):
    high = low + width
    assert checks.number(NAME, low, minimum=low, maximum=high) == low
    assert checks.number(NAME, high, minimum=low, maximum=high) == high
    with pytest.raises(ValueError, match=f"^{NAME} must be > "):
        checks.number(NAME, low, minimum=low, strict=True)
    with pytest.raises(ValueError, match=f"^{NAME} must be .*< "):
        checks.number(NAME, high, maximum=high, strict=True)


@given(st.floats(min_value=0, max_value=1e300).filter(lambda x: x > 0))
def test_positive_passes_every_finite_number_above_zero(value):
    assert checks.positive(NAME, value) == value


@pytest.mark.parametrize("value, error", [(0, ValueError), (-1e-300, ValueError),
                                          (math.inf, ValueError), (math.nan, ValueError),
                                          (True, TypeError), ("1", TypeError)])
def test_positive_refuses_zero_negative_nonfinite_and_non_numbers(value, error):
    with pytest.raises(error, match=f"^{NAME} must be "):
        checks.positive(NAME, value)


# ---------------------------------------------------------------- fraction

@given(st.floats(0, 1))
def test_fraction_passes_zero_to_one(value):
    assert checks.fraction(NAME, value) == value


@given(st.one_of(st.floats(max_value=-1e-12), st.floats(min_value=1 + 1e-12)).filter(
    math.isfinite))
def test_fraction_refuses_outside_zero_one(value):
    with pytest.raises(ValueError, match=rf"^{NAME} must be a number in \[0, 1\], got "):
        checks.fraction(NAME, value)


def test_fraction_open_ends_say_which_end_is_excluded():
    with pytest.raises(ValueError, match=rf"^{NAME} must be a number in \(0, 1\], got 0.0$"):
        checks.fraction(NAME, 0, open_low=True)
    with pytest.raises(ValueError, match=rf"^{NAME} must be a number in \[0, 1\), got 1.0$"):
        checks.fraction(NAME, 1, open_high=True)
    assert checks.fraction(NAME, Fraction(1, 2), open_low=True, open_high=True) == 0.5


# ---------------------------------------------------------------- choice, flag

@given(st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=5, unique=True),
       st.data())
def test_choice_passes_each_listed_name_and_lists_them_when_refusing(names, data):
    pick = data.draw(st.sampled_from(names))
    assert checks.choice(NAME, pick, names) == pick
    other = data.draw(st.one_of(st.text(max_size=6), st.integers(), st.none()).filter(
        lambda v: v not in names))
    with pytest.raises(ValueError) as raised:
        checks.choice(NAME, other, names)
    message = str(raised.value)
    assert message.startswith(f"{NAME} must be one of ") and f"got {other!r}" in message
    assert all(repr(n) in message for n in names)


@pytest.mark.parametrize("value", [0, 1, "True", None, np.bool_(True)])
def test_flag_takes_only_true_or_false(value):
    assert checks.flag(NAME, True) is True and checks.flag(NAME, False) is False
    with pytest.raises(TypeError, match=f"^{NAME} must be True or False, got "):
        checks.flag(NAME, value)


def test_checks_never_modify_their_argument():
    values = [3, 0.25, "ring", True]
    before = list(values)
    checks.count(NAME, values[0]), checks.number(NAME, values[1])
    checks.choice(NAME, values[2], ["ring"]), checks.flag(NAME, values[3])
    assert values == before
