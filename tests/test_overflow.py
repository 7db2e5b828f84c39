"""Faults from the field, without a cluster (issue 15, items 1 and 2): finite inputs whose
mean is finite give that mean in every dtype, even where the sum overflows; and
``result.error`` is the deviation from the true mean relative to the largest input.

(The engines on a cluster are checked against these in tests/test_engine_faults.py; the
fast engine's in-place arithmetic in tests/test_direct_engine.py.)"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distlab.concepts.gossip import GOSSIP_ALGORITHMS
from distlab.concepts.kernel import (SumOverflow, apply_incoming, checked_add, run_plan,
    scale_exponent, scale_up)
from distlab.engines.allreduce import EXACT_ALGORITHMS, allreduce, make_plan
from distlab.engines.inputs import working_dtype

#: Every float dtype the engines accept (longdouble where it is wider than float64).
FLOATS = [np.float16, np.float32, np.float64] + (
    [np.longdouble] if np.finfo(np.longdouble).eps < np.finfo(np.float64).eps else [])


def ulps(dtype) -> float:
    return float(np.finfo(working_dtype([np.dtype(dtype)])).eps)


# ---------------------------------------------------------------- the examples

@pytest.mark.parametrize("algorithm", EXACT_ALGORITHMS)
def test_sums_that_overflow_give_the_finite_mean(algorithm):
    f32 = [np.float32(3e38), np.float32(3e38), np.float32(-1.5e38)]
    result = allreduce(f32, algorithm)
    assert all(np.isfinite(v) and v.dtype == np.float32 for v in result.values)
    assert result.values[0] == pytest.approx(1.5e38, rel=2 * ulps(np.float32))
    assert result.error <= 2 * ulps(np.float32)
    f64 = allreduce([1e308, 1e308], algorithm)
    assert [float(v) for v in f64.values] == [1e308, 1e308]           # exactly
    top = np.finfo(np.float64).max
    at_top = allreduce([top] * 5, algorithm)
    assert all(np.isfinite(v) for v in at_top.values) and at_top.error <= ulps(np.float64)
    # without overflow nothing changes: the worked example stays exact
    assert [float(v) for v in allreduce([10, 20, 30], algorithm).values] == [20.0] * 3


def test_a_sum_overflow_is_caught_where_it_happens():
    top = np.finfo(np.float32).max
    with pytest.raises(SumOverflow):
        checked_add(np.float32([top]), np.float32([top]))
    with np.errstate(over="ignore"):
        assert np.isinf(checked_add(np.float32([top]), np.float32([top]), guard=False)[0])
    with pytest.raises(SumOverflow):
        apply_incoming(np.float32([top]), [("reduce", 0, 1, 0.0)], [np.float32([top])], 1,
                       np.float32)
    # a mean scaled back never rounds over the top; k keeps any N sums below half of it
    assert scale_up(np.float32([top]) / np.float32(2), 1)[0] == top
    assert [scale_exponent(n) for n in (1, 2, 3, 4, 5, 8, 64)] == [1, 2, 3, 3, 4, 4, 7]


def test_sums_without_a_division_are_not_rescaled():
    """An all-reduce that sums (no division) cannot be rescued by scaling: its true
    value is out of range, and infinity says so."""
    from dataclasses import replace
    plan = replace(make_plan("ring", 2), divide_by=None)
    with np.errstate(over="ignore"):
        final, _ = run_plan(plan, [np.array([1e308]), np.array([1e308])], np.float64)
    assert np.isinf(final[0][0])


@st.composite
def top_of_range(draw, algorithms=EXACT_ALGORITHMS):
    """Node values of one float dtype, some near the largest finite value."""
    dtype = draw(st.sampled_from(FLOATS))
    p, n = draw(st.integers(1, 8)), draw(st.integers(1, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    top = np.finfo(dtype).max
    same_sign = draw(st.booleans())
    values = []
    for _ in range(p):
        u = rng.uniform(0.5 if same_sign else -1.0, 1.0, n)
        size = rng.choice([1.0, 1.0, 1e-3, 1e-30], size=n)        # mostly at the top
        values.append((u * size).astype(dtype) * top)
    return draw(st.sampled_from(algorithms)), dtype, values


@settings(max_examples=150, deadline=None)
@given(case=top_of_range())
def test_every_exact_algorithm_gives_a_finite_mean_at_the_top_of_every_range(case):
    algorithm, dtype, values = case
    result = allreduce(values, algorithm)
    work = working_dtype([np.dtype(dtype)])
    assert all(v.dtype == work and np.all(np.isfinite(v)) for v in result.values)
    assert all(np.array_equal(v, result.values[0]) for v in result.values)
    p = len(values)
    assert result.error <= (p / 2 + 1) * ulps(dtype)


# ---------------------------------------------------------------- result.error

def test_error_of_a_float32_all_reduce_is_a_few_ulps_not_the_spread():
    """Values that agree to 2 ulp: the old error divided by their spread and said 0.7."""
    u = np.finfo(np.float32).eps
    values = [np.float32(1), np.float32(1 + u), np.float32(1 + u)]
    for algorithm in EXACT_ALGORITHMS:
        assert allreduce(values, algorithm).error <= u
    assert allreduce([np.zeros(3)] * 2, "ring").error == 0.0


@settings(max_examples=100, deadline=None)
@given(algorithm=st.sampled_from(EXACT_ALGORITHMS), dtype=st.sampled_from(
    [np.bool_, np.uint8, np.int8, np.int16, np.int32, np.int64, *FLOATS]),
    p=st.integers(1, 8), n=st.integers(1, 30), seed=st.integers(0, 2**32 - 1))
def test_error_of_exact_algorithms_is_a_few_ulps_in_every_dtype(algorithm, dtype, p, n,
                                                                 seed):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        values = [(rng.normal(size=n) * 10.0 ** rng.integers(-3, 4)).astype(dtype)
                  for _ in range(p)]
    else:
        info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
        lo, hi = (0, 2) if info is None else (info.min, info.max)
        values = [rng.integers(lo, hi, size=n, endpoint=info is not None).astype(dtype)
                  for _ in range(p)]
    result = allreduce(values, algorithm)
    assert result.error <= (p / 2 + 1) * ulps(dtype)


@settings(max_examples=40, deadline=None)
@given(algorithm=st.sampled_from(GOSSIP_ALGORITHMS), p=st.integers(2, 16),
       n=st.integers(1, 5), seed=st.integers(0, 10_000),
       tolerance=st.sampled_from([1e-2, 1e-4, 1e-6]))
def test_error_of_gossip_is_within_its_tolerance_bound(algorithm, p, n, seed, tolerance):
    rng = np.random.default_rng(seed)
    values = [rng.normal(size=n) + 100 * rng.integers(-1, 2) for _ in range(p)]
    result = allreduce(values, algorithm, tolerance=tolerance, seed=seed)
    assert result.error <= tolerance * math.sqrt(p) + 1e-12


def test_the_working_dtype_rule_is_as_documented():
    rule = {np.bool_: np.float32, np.uint8: np.float32, np.int8: np.float32,
            np.int16: np.float32, np.uint16: np.float32, np.float16: np.float32,
            np.float32: np.float32, np.int32: np.float64, np.uint32: np.float64,
            np.int64: np.float64, np.uint64: np.float64, np.float64: np.float64}
    for given_, working in rule.items():
        assert working_dtype([np.dtype(given_)]) == working
        assert allreduce([np.ones(2, given_)] * 2, "ring").values[0].dtype == working
    assert working_dtype([np.dtype(np.float32), np.dtype(np.int8)]) == np.float32
    assert working_dtype([np.dtype(np.float32), np.dtype(np.float64)]) == np.float64
    assert allreduce([1, 2], "ring").values[0].dtype == np.float64      # Python ints
