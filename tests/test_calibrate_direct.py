"""The direct engine's α-β(-γ) model: what it predicts from a plan (exact arithmetic on a
made-up calibration), and the calibration and comparison on the live cluster (shapes and
signs only: no timing is asserted)."""
import numpy as np
import pandas as pd
import pytest

from distlab.engines.allreduce import EXACT_ALGORITHMS, make_plan
from distlab.engines.calibrate import (Calibration, measure_direct, ping_pong_direct,
    predict_direct, round_seconds)

MADE_UP = Calibration(alpha=1e-4, beta=1e-9, overhead=2e-3, samples=pd.DataFrame(),
                      gamma=3e-10, fixed=5e-4, fresh=2e-10, alpha_both=2e-4, beta_both=3e-9)


def test_a_one_way_round_uses_one_way_figures_and_a_crossing_round_the_other():
    n = 1000
    star = round_seconds(make_plan("star", 2), n, 8, MADE_UP)      # 1 → 0, then 0 → 1
    assert star == pytest.approx([1e-4 + 8000 * 1e-9] * 2)
    doubling = round_seconds(make_plan("recursive_doubling", 2), n, 8, MADE_UP)
    assert doubling == pytest.approx([2e-4 + 8000 * 3e-9])      # both send the whole vector
    ring = round_seconds(make_plan("ring", 4), n, 8, MADE_UP)   # 6 rounds, n/4 each way
    assert ring == pytest.approx([2e-4 + 2000 * 3e-9] * 6)


@pytest.mark.parametrize("algorithm", EXACT_ALGORITHMS)
def test_prediction_adds_up_its_parts(algorithm):
    n = 4096
    plan = make_plan(algorithm, 2)
    from distlab.concepts.cost import round_bytes
    reduced = round_bytes(plan, n, 8)[4].sum(axis=0).max()
    expected = (5e-4 + 2e-10 * n * 8 + 3e-10 * (reduced + n * 8)
                + round_seconds(plan, n, 8, MADE_UP).sum())
    model = predict_direct(plan, n, MADE_UP)
    assert model["predicted_s"] == pytest.approx(expected)
    assert model["predicted_call_s"] == pytest.approx(expected + 2e-3 + 3e-10 * n * 8)


def test_without_crossing_figures_the_one_way_ones_are_used():
    plain = Calibration(alpha=1e-4, beta=1e-9, overhead=0.0, samples=pd.DataFrame())
    assert round_seconds(make_plan("recursive_doubling", 2), 100, 8, plain) \
        == pytest.approx([1e-4 + 800e-9])
    assert len(round_seconds(make_plan("ring", 1), 100, 8, plain)) == 0


def test_calibration_and_comparison_on_the_cluster(client):
    calibration = ping_pong_direct(client, sizes=(8, 64 * 1024, 1024 * 1024), hops=4,
                                   repeats=2)
    for value in (calibration.alpha, calibration.beta, calibration.alpha_both,
                  calibration.beta_both, calibration.overhead):
        assert np.isfinite(value) and value > 0
    assert calibration.fixed >= 0 and calibration.gamma > 0 and calibration.fresh >= 0
    assert list(calibration.samples.bytes) == [8, 64 * 1024, 1024 * 1024]
    table = measure_direct(client, calibration, sizes=(8 * 1024,), repeats=2)
    assert list(table.algorithm) == list(EXACT_ALGORITHMS)
    assert (table.rounds == [make_plan(a, 2).n_rounds for a in EXACT_ALGORITHMS]).all()
    for column in ("predicted_s", "call_s", "on_workers_s", "ranks_s"):
        assert (table[column] > 0).all()
    assert (table.call_s > table.on_workers_s).all()     # the call contains the work


def test_bad_hops(client):
    with pytest.raises(ValueError, match="hops"):
        ping_pong_direct(client, hops=2)
