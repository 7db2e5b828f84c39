"""Megatron's MLP split: A by columns, B by rows; same output and gradients; bytes per layer."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from distlab.concepts import tensor_parallel as tp


def block(tokens, hidden, ffn, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((tokens, hidden)), rng.standard_normal((hidden, ffn)) / hidden,
            rng.standard_normal((ffn, hidden)) / ffn, rng.standard_normal((tokens, hidden)))


shapes = dict(tokens=st.integers(1, 12), hidden=st.integers(1, 12), degree=st.integers(1, 8),
              width=st.integers(1, 6), seed=st.integers(0, 2 ** 16))


@settings(max_examples=60, deadline=None)
@given(**shapes)
def test_split_block_equals_the_unsplit_block(tokens, hidden, degree, width, seed):
    x, a, b, dz = block(tokens, hidden, degree * width, seed)
    a_shards, b_shards = tp.split_columns(a, degree), tp.split_rows(b, degree)
    assert all(s.shape == (hidden, width) for s in a_shards)
    assert all(s.shape == (width, hidden) for s in b_shards)
    z, partials = tp.parallel_forward(x, a_shards, b_shards)
    assert len(partials) == degree and all(p.shape == (tokens, hidden) for p in partials)
    np.testing.assert_allclose(z, tp.forward(x, a, b), rtol=0, atol=1e-12)
    dx, da_shards, db_shards, partial_dx = tp.parallel_backward(x, a_shards, b_shards, dz)
    dx_full, da, db = tp.backward(x, a, b, dz)
    assert len(partial_dx) == degree
    np.testing.assert_allclose(dx, dx_full, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.concatenate(da_shards, axis=1), da, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.concatenate(db_shards, axis=0), db, rtol=0, atol=1e-12)


def test_backward_is_the_gradient_of_the_forward():
    x, a, b, dz = block(3, 4, 8)
    dx, da, db = tp.backward(x, a, b, dz)
    loss = lambda x, a, b: float((tp.forward(x, a, b) * dz).sum())
    for value, grad, name in ((x, dx, "x"), (a, da, "a"), (b, db, "b")):
        numeric = np.zeros_like(value)
        for i in np.ndindex(value.shape):
            step = np.zeros_like(value)
            step[i] = 1e-6
            args = {"x": x, "a": a, "b": b}
            up = loss(**{**args, name: value + step})
            down = loss(**{**args, name: value - step})
            numeric[i] = (up - down) / 2e-6
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


@settings(max_examples=60, deadline=None)
@given(batch=st.integers(1, 4), sequence=st.integers(1, 64), per_rank=st.integers(1, 16),
       degree=st.integers(1, 8))
def test_bytes_counted_on_the_ring_equal_the_formula(batch, sequence, per_rank, degree):
    hidden = per_rank * degree
    counted = tp.ring_bytes_per_layer(batch, sequence, hidden, degree)
    formula = tp.bytes_per_layer(batch, sequence, hidden, degree)
    assert counted.shape == (degree,)
    assert formula == pytest.approx(4 * (degree - 1) / degree * batch * sequence * hidden * 2)
    np.testing.assert_allclose(counted, formula, rtol=1e-12)


def test_gpt3_layer_on_8_ranks():
    # b = 1, s = 2048, h = 12288, 16-bit: two all-reduces of 50.3 MB, 7/8 of them sent twice
    expected = 2 * 2 * 7 / 8 * 2048 * 12288 * 2
    assert tp.bytes_per_layer(1, 2048, 12288, 8) == pytest.approx(expected)
    assert tp.bytes_per_layer(1, 2048, 12288, 1) == 0


@pytest.mark.parametrize("call, name", [
    (lambda: tp.split_columns(np.ones((4, 6)), 4), "degree"),
    (lambda: tp.split_rows(np.ones((6, 4)), 4), "degree"),
    (lambda: tp.split_columns(np.ones((4, 6)), 0), "degree"),
    (lambda: tp.bytes_per_layer(1, 16, 12, 5), "degree"),
    (lambda: tp.bytes_per_layer(0, 16, 12, 2), "batch"),
    (lambda: tp.bytes_per_layer(1, -1, 12, 2), "sequence"),
    (lambda: tp.bytes_per_layer(1, 16, 0, 2), "hidden"),
    (lambda: tp.bytes_per_layer(1, 16, 12, 2, element_bytes=0), "element_bytes"),
    (lambda: tp.ring_bytes_per_layer(1, 16, 12, 5), "degree"),
    (lambda: tp.forward(np.ones((2, 3)), np.ones((4, 5)), np.ones((5, 3))), "shapes"),
    (lambda: tp.backward(np.ones((2, 3)), np.ones((3, 5)), np.ones((5, 3)), np.ones((2, 2))),
     "dz"),
    (lambda: tp.parallel_forward(np.ones((2, 3)), [np.ones((3, 2))], []), "a_shards"),
])
def test_bad_values_name_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_wrong_types_raise_type_error():
    with pytest.raises(TypeError, match="degree"):
        tp.split_columns(np.ones((2, 4)), 2.0)
