"""PyTorch's ZeroRedundancyOptimizer (gloo, spawned ranks) beside distlab's ZeRO stage 1
(distlab.apps.torch_zero): the same model trains to the same weights, and each rank holds
only its partition's Adam state.

PyTorch is optional: without it the tests that need it are skipped with the reason, unless
DISTLAB_REQUIRE_TORCH=1 (as in CI), which turns that skip into a failure."""

import numpy as np
import pytest

from distlab.apps import mlp, torch_zero, zero_ranks
from distlab.apps.mlp import MLPTraining
from distlab.engines import torch_gloo



@pytest.fixture(scope="module")
def torch_ranks(torch_needed):
    return torch_zero.run(MLPTraining())


def test_each_rank_holds_the_adam_state_of_its_partition_only(torch_ranks):
    shapes = mlp.layer_shapes((32,))
    owned = [r["owned"] for r in torch_ranks]
    assert sorted(k for o in owned for k in o) == list(range(len(shapes)))   # each once
    assert owned == [[0], [1]]           # greedy by size: the big matrix alone on rank 0
    for r in torch_ranks:
        elements = sum(shapes[k][0] * shapes[k][1] for k in r["owned"])
        assert r["owned elements"] == elements
        steps = r["plain state"] - 16 * sum(a * b for a, b in shapes)   # step counters
        assert r["zero state"] == 16 * elements + steps // len(shapes) * len(r["owned"])
    assert sum(r["zero state"] for r in torch_ranks) == torch_ranks[0]["plain state"]


def test_zero_redundancy_trains_distlabs_weights(torch_ranks):
    expected = zero_ranks.reference(2, MLPTraining())
    for r in torch_ranks:
        assert np.abs(r["weights"] - expected).max() <= 1e-12
    assert np.array_equal(torch_ranks[0]["weights"], torch_ranks[1]["weights"])


def test_side_by_side_with_distlabs_stage_1(client, torch_ranks):
    table = torch_zero.side_by_side(torch_ranks, zero_ranks.run(client, [0, 1]))
    assert table["distlab share"].tolist() == [0.5, 0.5]
    assert table["PyTorch share"].sum() == pytest.approx(1.0, abs=1e-3)
    assert (table["PyTorch ZeRO: Adam state"] < table["PyTorch plain Adam"]).all()
    assert (table["distlab stage 1: optimizer state"] * 2
            == table["distlab stage 0"]).all()


def test_arguments_are_checked_before_anything_starts():
    with pytest.raises(TypeError, match="settings must be an MLPTraining"):
        torch_zero.run({"steps": 1})
    with pytest.raises(ValueError, match="world_size must be ≥ 1"):
        torch_zero.run(world_size=0)
    with pytest.raises(ValueError, match="timeout must be > 0"):
        torch_zero.run(timeout=-1)
    with pytest.raises(TypeError, match="zero_table must be the table"):
        torch_zero.side_by_side([{"zero state": 1}], None)


def test_without_torch_it_says_how_to_install(monkeypatch, capsys):
    monkeypatch.setattr(torch_gloo, "available", lambda: False)
    monkeypatch.delenv("DISTLAB_REQUIRE_TORCH", raising=False)
    assert torch_zero.run() is None
    assert "pip install torch" in capsys.readouterr().out
    monkeypatch.setenv("DISTLAB_REQUIRE_TORCH", "1")
    with pytest.raises(ModuleNotFoundError, match="pip install torch"):
        torch_zero.run()
