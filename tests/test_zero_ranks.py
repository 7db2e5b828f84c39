"""ZeRO stages 0–3 as SPMD ranks on the workers (distlab.apps.zero_ranks): the bytes each
rank holds and sends equal the formulas, and every stage trains exactly the weights of
plain data parallelism; bad input is refused before anything runs."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distlab.apps import mlp, zero_ranks
from distlab.apps.mlp import MLPTraining
from distlab.concepts import zero


@pytest.fixture(scope="module")
def table(client):
    return zero_ranks.run(client)


def test_bytes_held_equal_the_formulas_on_every_rank(table):
    psi = table.attrs["parameters"]
    assert psi == 65 * 32 + 33 * 10
    for (stage, rank), row in table.iterrows():
        formula = zero.state_bytes(psi, 2, stage, **zero_ranks.HELD)
        assert {part: row[part] for part in zero.PARTS} == {
            part: formula[part] for part in zero.PARTS}
        assert row["held"] == row["held (formula)"] == formula["total"]
    assert table.loc[(3, 0), "held"] == table.loc[(0, 0), "held"] / 2     # all of it /N


def test_bytes_sent_per_step_equal_the_formulas(table):
    assert (table["sent per step"] == table["sent (formula)"]).all()
    for stage, per_rank in table.attrs["sent"].items():           # every step the same
        assert all(steps == [table.loc[(stage, 0), "sent per step"]] * 10 for steps in per_rank)
    assert (table.loc[1, "sent per step"] == table.loc[0, "sent per step"]).all()
    assert (table.loc[2, "sent per step"] == table.loc[0, "sent per step"]).all()
    assert (table.loc[3, "sent per step"] == 1.5 * table.loc[0, "sent per step"]).all()


def test_every_stage_trains_plain_data_parallelisms_weights(table):
    assert table["equals data parallel"].all()
    assert all(gap <= 1e-12 for gap in table.attrs["max_gap"].values())
    weights = table.attrs["weights"]
    assert all(np.array_equal(weights[s], weights[0]) for s in zero.STAGES)
    start = np.concatenate([w.reshape(-1) for w in mlp.init_layers((32,), 0)])
    assert np.abs(weights[0] - start).max() > 1e-3                       # it did train


def test_the_reference_is_plain_adam_on_the_mean_gradient():
    s = MLPTraining(steps=2)
    layers = mlp.init_layers(s.hidden, s.seed)
    moments = [(np.zeros_like(w), np.zeros_like(w)) for w in layers]
    from distlab.apps.training.data import batch_rows, load_shard
    shards = [load_shard(r, 2, 0) for r in range(2)]
    for step in range(2):
        grads = []
        for r, (X, y) in enumerate(shards):
            rows = batch_rows(len(y), s.batch, 0, r, step)
            grads.append(mlp.gradients(layers, X[rows], y[rows]))
        for k, (w, (m, v)) in enumerate(zip(layers, moments)):
            mlp.adam(w, m, v, (grads[0][k] + grads[1][k]) / 2, step + 1, s.lr)
    expected = np.concatenate([w.reshape(-1) for w in layers])
    assert np.array_equal(zero_ranks.reference(2, s), expected)


@settings(max_examples=4, deadline=None)
@given(width=st.integers(1, 9), stage=st.sampled_from(zero.STAGES), steps=st.integers(1, 3))
def test_any_width_conserves_the_bytes_and_the_weights(client, width, stage, steps):
    """For odd widths 2 does not divide a layer: the shards differ by one element, so each
    rank's bytes differ from the formula but the ranks' total is N × the formula."""
    t = zero_ranks.run(client, [stage], MLPTraining(steps=steps, batch=8, hidden=(width,)))
    assert t["equals data parallel"].all()
    if stage == 3:
        assert t["held"].sum() == 2 * t["held (formula)"].iloc[0]
    if width % 2 == 0:
        assert (t["held"] == t["held (formula)"]).all()
        assert (t["sent per step"] == t["sent (formula)"]).all()


@pytest.mark.parametrize("stages, s, error, match", [
    ([4], {}, ValueError, "stage must be a ZeRO stage 0, 1, 2 or 3, got 4"),
    ([-1], {}, ValueError, "stage must be ≥ 0"),
    ([], {}, ValueError, "stages must name at least one"),
    ("0", {}, TypeError, "stages must be a list"),
    ([1.0], {}, TypeError, "stage must be an int"),
    ([1], {"steps": 0}, ValueError, "steps must be ≥ 1"),
    ([1], {"batch": -2}, ValueError, "batch must be ≥ 1"),
    ([1], {"hidden": (0,)}, ValueError, r"hidden\[0\] must be ≥ 1"),
    ([1], {"lr": 0}, ValueError, "lr must be > 0"),
    ([1], {"batch": 10_000}, ValueError, "batch must be ≤"),
])
def test_bad_input_is_refused_before_anything_runs_and_the_next_call_works(
        client, stages, s, error, match):
    with pytest.raises(error, match=match):
        zero_ranks.run(client, stages, MLPTraining(**s))
    assert not any(client.processing().values())
    assert zero_ranks.run(client, [3], MLPTraining(steps=1))["equals data parallel"].all()


def test_settings_must_be_zero_settings(client):
    with pytest.raises(TypeError, match="settings must be an MLPTraining"):
        zero_ranks.run(client, [1], {"steps": 1})


def test_the_rank_function_and_the_model_check_their_arguments():
    with pytest.raises(TypeError, match="group must be the Group that run_ranks passes"):
        zero_ranks._train_rank(None, [1], MLPTraining())
    with pytest.raises(TypeError, match="settings must be an MLPTraining"):
        zero_ranks.reference(2, {"steps": 1})
    layers = mlp.init_layers((4,), 0)
    X, y = np.ones((3, 65)), np.array([0, 1, 2])
    with pytest.raises(ValueError, match="X must be finite"):
        mlp.gradients(layers, X * np.nan, y)
    with pytest.raises(ValueError, match="y must hold 3 int labels in 0 … 9"):
        mlp.gradients(layers, X, y + 9)
    with pytest.raises(ValueError, match="a must have 65 columns"):
        mlp.forward_layer(layers[0], X[:, :5], False)
    with pytest.raises(TypeError, match="last must be True or False"):
        mlp.forward_layer(layers[0], X, 0)
    w, m, v = layers[0].copy(), np.zeros_like(layers[0]), np.zeros_like(layers[0])
    for bad, match in [({"step": 0}, "step must be ≥ 1"), ({"lr": 0.0}, "lr must be > 0"),
                       ({"g": np.full_like(w, np.inf)}, "g must be finite"),
                       ({"betas": (1.0, 0.999, 1e-8)}, "beta1 must be"),
                       ({"g": np.ones(3)}, "must have one shape")]:
        args = {"w": w, "m": m, "v": v, "g": np.ones_like(w), "step": 1, "lr": 0.1, **bad}
        with pytest.raises((TypeError, ValueError), match=match):
            mlp.adam(**args)
    assert np.array_equal(w, layers[0]) and not m.any() and not v.any()   # nothing applied
    with pytest.raises(ValueError, match=r"hidden\[1\] must be ≥ 1"):
        MLPTraining(hidden=(4, -1))
