"""Megatron's MLP block split over two workers (distlab.apps.tensor_ranks): one all-reduce
forward and one backward, results equal to the unsplit block (and to the in-process split
bit for bit), bytes per layer equal to the formula; bad input refused before anything
runs."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distlab.apps import tensor_ranks
from distlab.concepts import tensor_parallel as tp


def test_the_split_block_equals_the_unsplit_one(client):
    x, a, b, dz = tensor_ranks.inputs()
    table = tensor_ranks.run(client, x, a, b, dz, degree=2)
    assert max(table.attrs["gaps"].values()) <= 1e-12
    assert table["A_i"].tolist() == [(16, 32)] * 2 and table["B_i"].tolist() == [(32, 16)] * 2
    # the all-reduce is the in-process split's sum in rank order, to the last bit
    z, _ = tp.parallel_forward(x, tp.split_columns(a, 2), tp.split_rows(b, 2))
    dx, da, db, _ = tp.parallel_backward(x, tp.split_columns(a, 2), tp.split_rows(b, 2), dz)
    for rank, r in enumerate(table.attrs["results"]):
        assert np.array_equal(r["z"], z) and np.array_equal(r["dx"], dx)
        assert np.array_equal(r["da"], da[rank]) and np.array_equal(r["db"], db[rank])


def test_bytes_per_layer_equal_the_formula(client):
    table = tensor_ranks.run(client, *tensor_ranks.inputs(tokens=64, hidden=32), degree=2)
    per_layer = tp.bytes_per_layer(1, 64, 32, 2, element_bytes=8)
    assert (table["forward bytes"] + table["backward bytes"] == per_layer).all()
    assert (table["forward bytes"] == table["formula (each)"]).all()
    assert (table["forward bytes"] + table["backward bytes"]
            == tp.ring_bytes_per_layer(1, 64, 32, 2, element_bytes=8)).all()
    assert per_layer == 2 * 2 * (2 - 1) / 2 * 64 * 32 * 8      # 4(t−1)/t·b·s·h·e


@settings(max_examples=4, deadline=None)
@given(tokens=st.integers(1, 20), half_h=st.integers(1, 12), half_f=st.integers(1, 40),
       degree=st.sampled_from([1, 2]), seed=st.integers(0, 99))
def test_any_shape(client, tokens, half_h, half_f, degree, seed):
    inputs = tensor_ranks.inputs(tokens, 2 * half_h, 2 * half_f, seed)
    table = tensor_ranks.run(client, *inputs, degree=degree)
    assert len(table) == degree and max(table.attrs["gaps"].values()) <= 1e-12
    assert (table["backward bytes"] == table["formula (each)"]).all()


@pytest.mark.parametrize("change, degree, error, match", [
    ({}, 3, ValueError, r"degree must divide the hidden size \(a's columns: 64\), got 3"),
    ({"ffn": 6}, 4, ValueError, "degree must divide the hidden size"),
    ({"hidden": 3, "ffn": 8}, 2, ValueError, r"degree must divide the hidden size \(3\)"),
    ({"ffn": 8}, 8, ValueError, "degree must be ≤ 2"),
    ({}, 0, ValueError, "degree must be ≥ 1"),
    ({}, 2.0, TypeError, "degree must be an int"),
])
def test_bad_degrees_are_refused_before_anything_runs(client, change, degree, error, match):
    with pytest.raises(error, match=match):
        tensor_ranks.run(client, *tensor_ranks.inputs(**change), degree=degree)
    assert not any(client.processing().values())
    assert len(tensor_ranks.run(client, *tensor_ranks.inputs(), degree=2)) == 2


def test_bad_sizes_and_shapes(client):
    for name in ("tokens", "hidden", "ffn"):
        with pytest.raises(ValueError, match=f"{name} must be ≥ 1"):
            tensor_ranks.inputs(**{name: 0})
    x, a, b, dz = tensor_ranks.inputs()
    with pytest.raises(ValueError, match="shapes must be"):
        tensor_ranks.run(client, x, a.T, b, dz)
    with pytest.raises(ValueError, match="dz must have Z's shape"):
        tensor_ranks.run(client, x, a, b, dz[:3])


def test_the_rank_function_checks_its_arguments():
    x, a, b, dz = tensor_ranks.inputs()
    with pytest.raises(TypeError, match="group must be the Group"):
        tensor_ranks._block_rank(None, x, [a], [b], dz)
