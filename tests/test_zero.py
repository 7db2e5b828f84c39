"""ZeRO stages 0–3: per-rank bytes from the formulas, from real sharded arrays, and per step."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from distlab.concepts import zero

PAPER = {0: 120.0, 1: 31.4, 2: 16.6, 3: 1.9}      # Rajbhandari et al. 2020, Figure 1 (GB)


@pytest.mark.parametrize("stage", zero.STAGES)
def test_the_zero_papers_figure_1(stage):
    held = zero.state_bytes(7.5e9, 64, stage)
    assert round(held["total"] / 1e9, 1) == PAPER[stage]


def test_each_stage_shards_one_more_part():
    assert [zero.sharded_parts(s) for s in zero.STAGES] == [
        (), ("optimizer state",), ("gradients", "optimizer state"),
        ("parameters", "gradients", "optimizer state")]
    held = zero.state_bytes(1000, 10, 2)
    assert held == {"parameters": 2000, "gradients": 200, "optimizer state": 1200,
                    "total": 3400}


@settings(max_examples=40, deadline=None)
@given(ranks=st.integers(1, 9), per_rank=st.integers(1, 40), stage=st.sampled_from(zero.STAGES))
def test_arrays_held_equal_the_formulas(ranks, per_rank, stage):
    weights = np.random.default_rng(0).standard_normal(ranks * per_rank)
    states = zero.shard(weights, ranks, stage)
    formula = zero.state_bytes(weights.size, ranks, stage)
    for s in states:
        assert s.held_bytes() == pytest.approx(formula, abs=0)


@settings(max_examples=40, deadline=None)
@given(size=st.integers(1, 300), ranks=st.integers(1, 9), stage=st.sampled_from(zero.STAGES))
def test_shards_cover_the_vector_once_whatever_the_length(size, ranks, stage):
    states = zero.shard(np.arange(size, dtype=float), ranks, stage)
    assert [s.lo for s in states] == [0] + [s.hi for s in states[:-1]]
    assert states[-1].hi == size
    lengths = [s.hi - s.lo for s in states]
    assert max(lengths) - min(lengths) <= 1
    owned = sum(s.held_bytes()["optimizer state"] for s in states)
    assert owned == (ranks if stage == 0 else 1) * size * 12


def _plain_adam(weights, grads_per_step, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8):
    """Unsharded data-parallel Adam, written out: the reference."""
    w, m, v = weights.copy(), np.zeros_like(weights), np.zeros_like(weights)
    for t, grads in enumerate(grads_per_step, start=1):
        g = grads[0].copy()
        for other in grads[1:]:
            g = g + other
        g = g / len(grads)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        w = w - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)
    return w


@settings(max_examples=25, deadline=None)
@given(ranks=st.integers(1, 5), size=st.integers(1, 50), stage=st.sampled_from(zero.STAGES))
def test_sharded_adam_equals_unsharded_to_the_last_bit(ranks, size, stage):
    rng = np.random.default_rng(size)
    weights = rng.standard_normal(size)
    grads = rng.standard_normal((3, ranks, size))
    states = zero.shard(weights, ranks, stage, weight_dtype=np.float64,
                        optimizer_dtype=np.float64)
    for t, step_grads in enumerate(grads, start=1):
        new = zero.adam_step(states, step_grads, t, lr=0.01)
    plain = _plain_adam(weights, grads)
    np.testing.assert_array_equal(new, plain)
    for s in states:                  # each rank keeps all of it, or its shard at stage 3
        np.testing.assert_array_equal(s.weights, plain if stage < 3 else plain[s.lo:s.hi])


def test_stage_1_gradient_buffer_holds_the_mean_on_its_own_shard_only():
    grads = np.array([[1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0]])
    states = zero.shard(np.zeros(4), 2, 1, weight_dtype=np.float64, optimizer_dtype=np.float64)
    zero.adam_step(states, grads, 1)
    np.testing.assert_array_equal(states[0].gradients, [2.0, 3.0, 3.0, 4.0])
    np.testing.assert_array_equal(states[1].gradients, [3.0, 4.0, 4.0, 5.0])


def test_mixed_precision_dtypes():
    s = zero.shard(np.ones(8), 2, 0)[0]
    assert (s.weights.dtype, s.gradients.dtype, s.master.dtype) == (np.float16, np.float16,
                                                                     np.float32)
    assert s.held_bytes()["total"] == 8 * 16


@settings(max_examples=40, deadline=None)
@given(ranks=st.integers(1, 12), per_rank=st.integers(1, 30), stage=st.sampled_from(zero.STAGES))
def test_bytes_per_step_counted_on_the_ring_equal_the_formula(ranks, per_rank, stage):
    size = ranks * per_rank
    counted = zero.ring_step_bytes(size, ranks, stage)
    assert counted.shape == (ranks,)
    assert np.all(counted == zero.step_bytes(size, ranks, stage))


def test_stage_3_sends_one_and_a_half_times_an_all_reduce():
    for stage in (0, 1, 2):
        assert zero.step_bytes(7.5e9, 64, stage) == pytest.approx(2 * 63 / 64 * 7.5e9 * 2)
    assert zero.step_bytes(7.5e9, 64, 3) == pytest.approx(1.5 * zero.step_bytes(7.5e9, 64, 0))
    assert [c for c, _ in zero.collectives(3)] == ["all-gather", "all-gather",
                                                    "reduce-scatter"]
    assert zero.step_bytes(100, 1, 3) == 0


@pytest.mark.parametrize("call, name", [
    (lambda: zero.state_bytes(0, 4, 1), "parameters"),
    (lambda: zero.state_bytes(-5, 4, 1), "parameters"),
    (lambda: zero.state_bytes(10, 0, 1), "ranks"),
    (lambda: zero.state_bytes(10, 4, 4), "stage"),
    (lambda: zero.state_bytes(10, 4, -1), "stage"),
    (lambda: zero.step_bytes(10, 4, 7), "stage"),
    (lambda: zero.shard(np.ones(4), 0, 1), "ranks"),
    (lambda: zero.shard(np.ones(0), 2, 1), "weights"),
    (lambda: zero.ring_step_bytes(0, 2, 1), "parameters"),
    (lambda: zero.adam_step(zero.shard(np.ones(4), 2, 1), np.ones((2, 3)), 1), "gradients"),
    (lambda: zero.adam_step(zero.shard(np.ones(4), 2, 1), np.ones((2, 4)), 0), "step"),
])
def test_bad_values_name_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_wrong_types_raise_type_error():
    with pytest.raises(TypeError, match="stage"):
        zero.state_bytes(10, 2, 1.0)
    with pytest.raises(TypeError, match="ranks"):
        zero.state_bytes(10, True, 1)
    with pytest.raises(TypeError, match="states"):
        zero.adam_step([], np.ones((1, 1)), 1)
