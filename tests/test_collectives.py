"""distlab.collectives on the simulator: plans, costs against closed forms, invariants."""
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from distlab.engines.allreduce import ALGORITHMS, EXACT_ALGORITHMS, allreduce, make_plan
from distlab.concepts.gossip import GOSSIP_ALGORITHMS
from distlab.concepts.cost import (Network, bytes_per_node, closed_form, cost_summary,
    lower_bound_bytes)
from distlab.present.collective_views import (convergence, cost_table, gossip_table,
    projection, rounds_to, step_view, steps_table)
from distlab.concepts.gossip import (complete_matrix, pairwise_matrix, ring_matrix,
    second_eigenvalue)

NET = Network(alpha=1e-3, bandwidth=1e8)


# ---------------------------------------------------------------- the worked example

@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_worked_example_10_20_30_gives_20(algorithm):
    result = allreduce([10, 20, 30], algorithm)
    assert [v.shape for v in result.values] == [(), (), ()]
    assert np.allclose(result.values, 20, rtol=1e-6)
    if algorithm in EXACT_ALGORITHMS:
        assert [float(v) for v in result.values] == [20.0, 20.0, 20.0]   # exactly


def test_api_names_and_result_attributes():
    assert ALGORITHMS == ("star", "tree", "ring", "recursive_doubling", "rabenseifner",
                          "gossip_ring", "gossip_complete", "gossip_random")
    r = allreduce([1.0, 2.0, 3.0, 4.0], "ring")
    assert r.algorithm == "ring" and r.engine == "simulator" and r.futures is None
    assert r.rounds == 6 and isinstance(r.rounds, int)
    assert r.bytes_sent.dtype.kind == "i" and r.bytes_received.dtype.kind == "i"
    assert isinstance(r.trace, pd.DataFrame) and isinstance(r.time, float)
    assert r.wall_time is None


def test_trace_rows_and_final_row_is_the_result():
    r = allreduce([10, 20, 30], "star")
    t = r.trace
    assert list(t.columns) == ["round", "step", "node", "value"]
    assert len(t) == 3 * (r.rounds + 2)          # start, each round, the divide step
    assert t[t["round"] == 0]["value"].tolist() == [10, 20, 30]
    assert t[t["round"] == 1]["value"].tolist() == [60, 20, 30]     # gathered at root 0
    last = t[t["round"] == t["round"].max()]["value"].tolist()
    assert last == [float(v) for v in r.values]


def test_trace_for_vectors_has_one_column_per_element():
    r = allreduce([np.arange(5.0), np.ones(5), np.zeros(5)], "ring")
    assert [c for c in r.trace.columns if c.startswith("x[")] == [f"x[{j}]" for j in range(5)]


def test_star_gathers_at_root_then_broadcasts():
    plan = make_plan("star", 4)
    assert [(t.src, t.dst, t.op) for t in plan.rounds[0].transfers] == \
        [(1, 0, "reduce"), (2, 0, "reduce"), (3, 0, "reduce")]
    assert all(t.src == 0 and t.op == "copy" for t in plan.rounds[1].transfers)


# ---------------------------------------------------------------- exact algorithms: properties

@settings(max_examples=60, deadline=None)
@given(algorithm=st.sampled_from(EXACT_ALGORITHMS), p=st.integers(1, 64),
       n=st.integers(1, 40), seed=st.integers(0, 2**32 - 1))
def test_every_exact_algorithm_ends_with_the_mean_on_every_node(algorithm, p, n, seed):
    rng = np.random.default_rng(seed)
    values = [rng.normal(scale=100, size=n) for _ in range(p)]
    result = allreduce(values, algorithm)
    mean = np.mean(values, axis=0)
    for v in result.values:
        assert np.allclose(v, mean, rtol=1e-12, atol=1e-9)
    # every node ends bitwise identical (copies of one reduced buffer, or a+b == b+a)
    assert all(np.array_equal(v, result.values[0]) for v in result.values)
    # the total is conserved
    assert np.allclose(np.sum(result.values, axis=0), np.sum(values, axis=0), atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(algorithm=st.sampled_from(EXACT_ALGORITHMS), p=st.integers(1, 64), n=st.integers(1, 300))
def test_bytes_conservation_and_ring_bounds(algorithm, p, n):
    plan = make_plan(algorithm, p)
    sent, received = bytes_per_node(plan, n, 8)
    assert sent.sum() == received.sum()              # every byte sent is received
    assert (sent >= 0).all() and len(sent) == p
    if algorithm == "ring" and p > 1:
        # each chunk goes around p-1 times in each phase
        assert sent.sum() == 2 * (p - 1) * n * 8
        assert (sent >= 2 * (p - 1) * (n // p) * 8).all()
        assert (sent <= 2 * (p - 1) * math.ceil(n / p) * 8).all()


@pytest.mark.parametrize("algorithm", EXACT_ALGORITHMS)
@pytest.mark.parametrize("p", [1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 31, 32, 64])
def test_plan_costs_match_closed_forms(algorithm, p):
    n = 64 * 3 * 5 * 7                           # divisible by every p and p' used here
    if n % p:
        n = p * 64
    summary = cost_summary(make_plan(algorithm, p), n, 8, NET)
    cf = closed_form(algorithm, p, n * 8, NET)
    assert summary["rounds"] == cf["rounds"]
    assert summary["max_bytes_sent"] == pytest.approx(cf["max_bytes_sent"])
    assert summary["time_s"] == pytest.approx(cf["time_s"])


@pytest.mark.parametrize("p", [2, 3, 4, 8, 16, 64])
def test_textbook_numbers(p):
    n_bytes = p * 1024 * 8
    ring = cost_summary(make_plan("ring", p), n_bytes // 8, 8)
    assert ring["rounds"] == 2 * (p - 1)
    assert ring["max_bytes_sent"] == 2 * (p - 1) / p * n_bytes == lower_bound_bytes(p, n_bytes)
    sent, received = bytes_per_node(make_plan("star", p), n_bytes // 8, 8)
    assert sent[0] + received[0] == 2 * (p - 1) * n_bytes       # the star's root
    assert sent[0] / lower_bound_bytes(p, n_bytes) == pytest.approx(p / 2)
    if p & (p - 1) == 0:
        lg = p.bit_length() - 1
        assert make_plan("recursive_doubling", p).n_rounds == lg
        assert make_plan("rabenseifner", p).n_rounds == 2 * lg
        assert make_plan("tree", p).n_rounds == 2 * lg
        raben = cost_summary(make_plan("rabenseifner", p), n_bytes // 8, 8)
        assert raben["max_bytes_sent"] == lower_bound_bytes(p, n_bytes)


def test_non_power_of_two_folds_add_two_rounds():
    assert make_plan("recursive_doubling", 6).n_rounds == 2 + 2
    assert make_plan("rabenseifner", 6).n_rounds == 2 * 2 + 2


def test_vectors_shorter_than_node_count_are_fine():
    values = [np.array([float(i), -float(i)]) for i in range(7)]
    for algorithm in EXACT_ALGORITHMS:
        r = allreduce(values, algorithm)
        assert all(np.allclose(v, [3.0, -3.0]) for v in r.values)


def test_float32_stays_float32_and_halves_bytes():
    v32 = [np.ones(8, np.float32) * i for i in range(4)]
    r32 = allreduce(v32, "ring")
    r64 = allreduce([v.astype(float) for v in v32], "ring")
    assert r32.values[0].dtype == np.float32 and r64.values[0].dtype == np.float64
    assert (r32.bytes_sent * 2 == r64.bytes_sent).all()


def test_inputs_are_not_modified_and_results_are_fresh():
    values = [np.arange(6.0).reshape(2, 3), np.ones((2, 3))]
    before = [v.copy() for v in values]
    r = allreduce(values, "rabenseifner")
    assert all(np.array_equal(a, b) for a, b in zip(values, before))
    assert r.values[0].shape == (2, 3)
    r.values[0][0, 0] = 99
    assert r.values[1][0, 0] != 99 and values[0][0, 0] == 0


# ---------------------------------------------------------------- gossip

@settings(max_examples=40, deadline=None)
@given(algorithm=st.sampled_from(GOSSIP_ALGORITHMS), p=st.integers(1, 64),
       n=st.integers(1, 5), seed=st.integers(0, 10_000),
       tolerance=st.sampled_from([1e-2, 1e-4, 1e-6]))
def test_gossip_reaches_the_mean_within_tolerance_and_conserves_it(algorithm, p, n, seed,
                                                                   tolerance):
    rng = np.random.default_rng(seed)
    values = [rng.normal(size=n) for _ in range(p)]
    r = allreduce(values, algorithm, tolerance=tolerance, seed=seed)
    assert r.error <= tolerance * math.sqrt(p) + 1e-12        # AllreduceResult.error
    # doubly stochastic mixing: the mean never changes (up to rounding)
    assert np.allclose(np.mean(r.values, axis=0), np.mean(values, axis=0), atol=1e-9)


@pytest.mark.parametrize("n", [3, 4, 8, 16, 32])
def test_spectral_rates_match_closed_forms(n):
    assert second_eigenvalue(ring_matrix(n)) == pytest.approx(
        max(abs((1 + 2 * math.cos(2 * math.pi * k / n)) / 3) for k in range(1, n)))
    assert second_eigenvalue(complete_matrix(n, 0.5)) == pytest.approx(0.5 - 0.5 / (n - 1))
    assert second_eigenvalue(pairwise_matrix(n)) == pytest.approx(1 - 1 / (n - 1))
    assert second_eigenvalue(complete_matrix(n, 1 / n)) == 0.0       # one round: exact


@pytest.mark.parametrize("algorithm", ["gossip_ring", "gossip_complete"])
@pytest.mark.parametrize("n", [8, 16])
def test_synchronous_gossip_within_the_spectral_prediction(algorithm, n):
    values = list(np.random.default_rng(1).permutation(n).astype(float))
    r = allreduce(values, algorithm)
    curve = convergence(r)
    predicted = math.log(1e6) / math.log(1 / second_eigenvalue(
        ring_matrix(n) if algorithm == "gossip_ring" else complete_matrix(n)))
    assert rounds_to(curve, 1e-6) <= math.ceil(predicted)
    # error never above r^k (Xiao & Boyd)
    rate = math.exp(-math.log(1e6) / predicted)
    assert (curve["error"] <= rate ** curve["round"] + 1e-12).all()


def test_pairwise_gossip_within_boyds_band():
    table = gossip_table(node_counts=(8,), seeds=5)
    ratio = table.set_index("algorithm").loc["gossip_random", "measured / predicted"]
    assert 0.5 <= ratio <= 3.0


def test_gossip_random_is_seeded():
    a = allreduce([1.0, 5.0, 9.0, 2.0], "gossip_random", seed=3)
    b = allreduce([1.0, 5.0, 9.0, 2.0], "gossip_random", seed=3)
    c = allreduce([1.0, 5.0, 9.0, 2.0], "gossip_random", seed=4)
    assert [float(v) for v in a.values] == [float(v) for v in b.values]
    assert a.plan != c.plan


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("values, error, words", [
    ([], ValueError, "at least one"),
    ([1.0, float("nan")], ValueError, "values[1] must be finite"),
    ([1.0, float("inf")], ValueError, "finite"),
    ([np.ones(3), np.ones(4)], ValueError, "one shape"),
    (5, TypeError, "list with one value per node"),
    ("abc", TypeError, "list"),
    (None, TypeError, "list"),
    ([1, "x"], TypeError, "values[1]"),
    ([1 + 2j, 3], TypeError, "real"),
])
def test_bad_values_are_rejected(values, error, words):
    with pytest.raises(error, match=None) as info:
        allreduce(values, "ring")
    assert words in str(info.value)


def test_unknown_algorithm_lists_the_known_ones():
    with pytest.raises(ValueError) as info:
        allreduce([1, 2], "butterfly")
    for name in ALGORITHMS:
        assert name in str(info.value)
    with pytest.raises(TypeError):
        allreduce([1, 2], 3)


@pytest.mark.parametrize("kwargs", [dict(tolerance=0), dict(tolerance=1.5),
                                    dict(self_weight=1.0), dict(seed=1.5)])
def test_bad_options_are_rejected(kwargs):
    with pytest.raises((ValueError, TypeError)):
        allreduce([1, 2, 3], "gossip_complete", **kwargs)


def test_bad_client_and_workers_rejected():
    with pytest.raises(TypeError, match="client"):
        allreduce([1, 2], "ring", client="tcp://nowhere")
    with pytest.raises(ValueError, match="workers"):
        allreduce([1, 2], "ring", workers=["a", "b"])


def test_make_plan_bad_nodes():
    with pytest.raises(ValueError):
        make_plan("ring", 0)
    with pytest.raises(TypeError):
        make_plan("ring", 2.0)


# ---------------------------------------------------------------- presentation functions

def test_steps_table_and_step_view():
    r = allreduce([10, 20, 30], "ring")
    table = steps_table(r)
    assert list(table.columns) == ["node 0", "node 1", "node 2"]
    assert len(table) == r.rounds + 2
    assert table.iloc[-1].tolist() == [20.0, 20.0, 20.0]
    view = step_view(r, 1)
    assert view["label"] == "reduce-scatter 1/2" and len(view["transfers"]) == 3
    assert len(view["table"]) == 2
    with pytest.raises(ValueError):
        step_view(r, 99)


def test_cost_table_and_projection():
    table = cost_table(64, 28e9, Network(alpha=5e-6, bandwidth=12.5e9))
    assert table.loc["ring", "÷ lower bound"] == pytest.approx(1.0)
    assert table.loc["star", "÷ lower bound"] == pytest.approx(32.0)
    proj = projection()
    assert proj["time (s)"].idxmin() in ("ring", "rabenseifner")
    assert proj.loc["ring", "GB sent by busiest node"] == pytest.approx(2 * 63 / 64 * 28)
    with pytest.raises(ValueError):
        cost_table(4, 0)


def test_network_time_is_alpha_beta():
    r = allreduce([np.ones(4)] * 4, "ring", network=Network(alpha=1.0, bandwidth=8.0))
    # 6 rounds, each one 8-byte chunk: α + 8 bytes / (8 B/s) = 2 s
    assert r.time == pytest.approx(12.0)


def test_cost_functions_reject_bad_input():
    with pytest.raises(TypeError, match="plan"):
        bytes_per_node("ring", 8)
    with pytest.raises(ValueError, match="n must be ≥ 0, got -1"):
        bytes_per_node(make_plan("ring", 2), -1)
    with pytest.raises(ValueError, match="p must be"):
        closed_form("ring", 0, 8)
    with pytest.raises(ValueError, match="algorithm must be one of 'star'"):
        closed_form("butterfly", 4, 8)
    with pytest.raises(ValueError, match="bandwidth"):
        Network(bandwidth=0)
    with pytest.raises(TypeError, match="result"):
        steps_table("ring")
    with pytest.raises(TypeError, match="result"):
        convergence(None)
