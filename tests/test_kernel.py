"""The one averaging kernel: its faster variants agree with the plain function bit for bit.

(The fast direct engine's in-place variant, NodeBuffer, is checked the same way in
tests/test_direct_engine.py.)"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distlab.concepts.gossip import GOSSIP_ALGORITHMS
from distlab.concepts.kernel import (SumOverflow, apply_incoming, extract, finish,
    incoming_by_node, mix_layout, mix_round, run_plan, scale_exponent, scale_up, specs_for)
from distlab.engines.algorithms import ALGORITHMS, EXACT_ALGORITHMS, make_plan


def plain_run(plan, buffers, dtype):
    """:func:`run_plan` without its vectorised gossip round: apply_incoming node by node."""
    current = list(buffers)
    for rnd in plan.rounds:
        after = list(current)
        for dst, transfers in incoming_by_node(rnd).items():
            messages = [extract(current[t.src], *t.chunk, plan.blocks, dtype)
                        for t in transfers]
            after[dst] = apply_incoming(current[dst], specs_for(transfers), messages,
                                        plan.blocks, dtype)
        current = after
    return [finish(b, plan.divide_by, (len(b),), dtype) for b in current]


@settings(max_examples=60, deadline=None)
@given(algorithm=st.sampled_from(ALGORITHMS), p=st.integers(1, 12), n=st.integers(1, 20),
       seed=st.integers(0, 2**16), float32=st.booleans())
def test_run_plan_gives_the_plain_kernels_bits(algorithm, p, n, seed, float32):
    rng = np.random.default_rng(seed)
    dtype = np.float32 if float32 else np.float64
    values = [(rng.normal(size=n) * 10.0 ** rng.integers(-3, 4)).astype(dtype)
              for _ in range(p)]
    plan = make_plan(algorithm, p, seed=seed % 100, tolerance=1e-3)
    fast, _ = run_plan(plan, values, dtype)
    assert all(np.array_equal(a, b) for a, b in zip(fast, plain_run(plan, values, dtype)))


@settings(max_examples=60, deadline=None)
@given(algorithm=st.sampled_from(GOSSIP_ALGORITHMS), p=st.integers(2, 16),
       n=st.integers(1, 9), seed=st.integers(0, 2**16))
def test_mix_round_is_apply_incoming_node_by_node(algorithm, p, n, seed):
    rng = np.random.default_rng(seed)
    plan = make_plan(algorithm, p, seed=seed % 100, tolerance=1e-2)
    rnd = plan.rounds[int(rng.integers(plan.n_rounds))]
    current = [rng.normal(size=n) for _ in range(p)]
    layout = mix_layout(rnd, plan.blocks, np.float64)
    assert layout is not None
    fast = mix_round(layout, current)
    for dst, transfers in incoming_by_node(rnd).items():
        plain = apply_incoming(current[dst], specs_for(transfers),
                               [current[t.src] for t in transfers], plan.blocks, np.float64)
        assert np.array_equal(fast[dst], plain)


def test_only_whole_vector_mixing_rounds_are_vectorised():
    assert mix_layout(make_plan("ring", 4).rounds[0], 4, np.float64) is None
    assert mix_layout(make_plan("gossip_ring", 4).rounds[0], 1, np.float64) is not None


@pytest.mark.parametrize("algorithm", EXACT_ALGORITHMS)
def test_run_plan_runs_again_scaled_when_a_sum_overflows(algorithm):
    """The plain kernel raises where a sum overflows; run_plan then gives the plain run on
    the inputs times 2^-k, scaled back: the same operations, so the same bits."""
    values = [np.float32([3e38, 1]), np.float32([3e38, 2]), np.float32([-1.5e38, 3])]
    plan = make_plan(algorithm, 3)
    with pytest.raises(SumOverflow):
        plain_run(plan, values, np.float32)
    k = scale_exponent(3)
    scaled = plain_run(plan, [v * np.float32(2.0 ** -k) for v in values], np.float32)
    got, _ = run_plan(plan, values, np.float32)
    assert all(np.array_equal(a, scale_up(b, k)) for a, b in zip(got, scaled))
    assert all(np.all(np.isfinite(a)) for a in got)
