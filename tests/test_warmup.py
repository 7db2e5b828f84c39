"""The warm-up's CPU-bound task: its count does not depend on how the draws are chunked."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distlab.concepts.darts import darts_in_circle, estimate_pi


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31), darts=st.integers(1, 160_000))
def test_count_equals_one_big_draw(seed, darts):
    xy = np.random.default_rng(seed).random((darts, 2))
    assert darts_in_circle(seed, darts) == int(np.count_nonzero((xy * xy).sum(axis=1) <= 1))


def test_estimate_and_bad_input():
    assert abs(estimate_pi([darts_in_circle(s, 100_000) for s in range(4)], 100_000)
               - np.pi) < 0.01
    with pytest.raises(TypeError, match="seed"):
        darts_in_circle(1.5)
    with pytest.raises(ValueError, match="darts"):
        darts_in_circle(1, 0)
    with pytest.raises(ValueError, match="counts"):
        estimate_pi([], 10)
