"""distlab.apps.tuning: the job, the configurations, the cost model (pure), and tune() on the
live cluster (results checked against numpy; no timing asserted)."""
import dataclasses
import math

import matplotlib
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from distlab.engines.allreduce import EXACT_ALGORITHMS, make_plan
from distlab.engines.calibrate import Calibration, round_seconds
from distlab.apps.tuning import (NO_ALLREDUCE, REFERENCE, ClusterModel, Config, Job,
    allreduce_seconds, candidates, check_config, default_config, make_rows, partial_gradient,
    partition_sizes, predict_seconds, predict_table, reference_gradient, run, tune)
from distlab.present import tuning_plots

matplotlib.use("Agg")
SMALL = Job(rows=24, inputs=4, features=64, seed=1)
models = st.builds(ClusterModel, *[st.floats(0, 0.05) for _ in range(5)],
                   st.floats(0, 1e-8), allreduce_call=st.floats(0, 0.05))


# --- the job and its partitions ------------------------------------------------------------

@given(rows=st.integers(1, 300), s=st.integers(1, 300))
def test_partitions_cover_the_rows_once_in_order(rows, s):
    s = min(s, rows)
    parts = Config(1, s, NO_ALLREDUCE).partitions(Job(rows=rows))
    assert parts[0][0] == 0 and parts[-1][1] == rows
    assert all(b == c for (_, b), (c, _) in zip(parts, parts[1:]))
    assert all(0 < b - a <= s for a, b in parts)
    assert len(parts) == math.ceil(rows / s)


def test_rows_do_not_depend_on_how_the_data_is_cut():
    X, y = make_rows(SMALL, 0, 10)
    X2, y2 = make_rows(SMALL, 3, 5)
    assert np.array_equal(X[3:5], X2) and np.array_equal(y[3:5], y2)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, SMALL.rows - 1), max_size=5, unique=True))
def test_partial_gradients_add_up_to_the_reference(cuts):
    edges = [0, *sorted(cuts), SMALL.rows]
    total = sum(partial_gradient(SMALL, a, b) for a, b in zip(edges, edges[1:]))
    np.testing.assert_allclose(total / SMALL.rows, reference_gradient(SMALL),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"rows": 0}, ValueError, "Job.rows must be ≥ 1"),
    ({"features": 2.5}, TypeError, "Job.features must be an int"),
    ({"seed": -1}, ValueError, "Job.seed must be ≥ 0"),
    ({"inputs": True}, TypeError, "Job.inputs must be an int"),
])
def test_bad_jobs(kwargs, error, match):
    with pytest.raises(error, match=match):
        Job(**kwargs)


# --- configurations ------------------------------------------------------------------------

@given(rows=st.integers(1, 5000), workers=st.integers(1, 8))
def test_partition_sizes(rows, workers):
    sizes = partition_sizes(rows, workers)
    assert sizes == sorted(set(sizes)) and sizes[0] == 1
    assert sizes[-1] == math.ceil(rows / workers)


def test_candidates_and_default():
    job = Job(rows=256)
    configs = candidates(job, 2)
    ones = [c for c in configs if c.workers == 1]
    twos = [c for c in configs if c.workers == 2]
    assert {c.algorithm for c in ones} == {NO_ALLREDUCE}
    assert len(ones) == len(partition_sizes(256, 1)) == 9
    assert len(twos) == len(partition_sizes(256, 2)) * len(EXACT_ALGORITHMS) == 40
    assert default_config(job, 2) == Config(2, 1, "star") in configs
    assert default_config(job, 1) == Config(1, 1, NO_ALLREDUCE)
    assert str(Config(2, 128, "ring")) == "2 workers, partitions of 128 rows, ring all-reduce"
    assert str(Config(1, 1, NO_ALLREDUCE)) == "1 worker, partitions of 1 row, no all-reduce"


@pytest.mark.parametrize("config, match", [
    (Config(3, 1, "ring"), "config.workers must be an int from 1 to the cluster's 2"),
    (Config(2, 0, "ring"), "config.partition_rows must be an int from 1 to the job's 24"),
    (Config(2, 25, "ring"), "partition_rows"),
    (Config(2, 4, "none"), "config.algorithm must be one of star, tree, ring"),
    (Config(1, 4, "ring"), "config.algorithm must be one of none with 1 worker"),
])
def test_bad_configs(config, match):
    with pytest.raises(ValueError, match=match):
        check_config(config, SMALL, 2)
    with pytest.raises(TypeError, match="config must be a tuning.Config"):
        check_config((2, 4, "ring"), SMALL, 2)


# --- the cost model ------------------------------------------------------------------------

@given(models, st.sampled_from(candidates(Job(rows=64, features=512), 4)))
def test_prediction_is_at_least_the_call_and_the_compute(model, config):
    job = Job(rows=64, features=512)
    t = predict_seconds(config, job, model)
    per_worker = math.ceil(len(config.partitions(job)) / config.workers)
    assert t >= model.call + per_worker * config.partition_rows * model.row - 1e-12


@given(models, st.integers(1, 64))
def test_on_two_workers_recursive_doubling_never_loses_to_the_star(model, s):
    job = Job(rows=64, features=512)
    assert predict_seconds(Config(2, s, "recursive_doubling"), job, model) <= \
        predict_seconds(Config(2, s, "star"), job, model) + 1e-15


@given(st.floats(1e-5, 1e-2), st.sampled_from([1, 2, 4, 8, 16, 32]))
def test_without_overheads_more_workers_never_hurt(row, s):
    free = ClusterModel(call=0, task=0, scheduler=0, row=row, alpha=0, beta=0)
    job = Job(rows=64)
    times = [predict_seconds(Config(w, s, "ring" if w > 1 else NO_ALLREDUCE), job, free)
             for w in (1, 2, 4)]
    assert times == sorted(times, reverse=True)


def test_with_heavy_task_overhead_big_partitions_win():
    costly = ClusterModel(call=0.01, task=0.05, scheduler=0.05, row=1e-5, alpha=0.001,
                          beta=1e-9)
    best = predict_table(Job(rows=256), 2, costly).iloc[0]
    assert best.tasks == best.workers                  # one partition per worker
    assert best.partition_rows == 256 // best.workers


def test_reference_table_is_sorted_and_deterministic():
    a = predict_table(Job(), 2, REFERENCE)
    b = predict_table(Job(), 2, REFERENCE)
    assert a.equals(b) and a["predicted_s"].is_monotonic_increasing
    best = a.iloc[0]
    assert (best.workers, best.partition_rows, best.algorithm) == (2, 128, "recursive_doubling")
    assert len(a) == len(candidates(Job(), 2))


@given(models, st.floats(1.0, 4.0), st.sampled_from([1, 8, 64]))
def test_shared_cores_slow_only_the_multi_worker_configurations(model, slower, s):
    job = Job(rows=64, features=512)
    shared = dataclasses.replace(model, row_parallel=model.row * slower)
    assert model.row_parallel == model.row                       # the default: idle cores
    one = Config(1, s, NO_ALLREDUCE)
    two = Config(2, min(s, 32), "ring")
    assert predict_seconds(one, job, shared) == predict_seconds(one, job, model)
    assert predict_seconds(two, job, shared) >= predict_seconds(two, job, model)


# --- the all-reduce part: the direct engine's rounds of messages ----------------------------

def _only(**figures):
    return ClusterModel(**{**dict(call=0, task=0, scheduler=0, row=0, alpha=0, beta=0),
                           **figures})


@pytest.mark.parametrize("p", [2, 4, 8])
def test_allreduce_pays_alpha_per_message_in_each_round(p):
    """With α = 1 s and nothing else, the model counts messages: the busiest node's per
    round, summed over the rounds (Thakur, Rabenseifner & Gropp 2005)."""
    lg = p.bit_length() - 1
    counted = {a: allreduce_seconds(p, a, 8 * 1024, _only(alpha=1))
               for a in EXACT_ALGORITHMS}
    assert counted == {"star": 2 * (p - 1),               # the root: p − 1 in, p − 1 out
                       "tree": 2 * lg,                    # binomial reduce + broadcast
                       "ring": 2 * (p - 1),
                       "recursive_doubling": lg,
                       "rabenseifner": 2 * lg}


@pytest.mark.parametrize("p", [2, 4, 8])
def test_allreduce_pays_beta_per_byte_of_each_rounds_busiest_node(p):
    n_bytes = 8 * 1024                                     # divisible by every p here
    lg = p.bit_length() - 1
    moved = {a: allreduce_seconds(p, a, n_bytes, _only(beta=1)) for a in EXACT_ALGORITHMS}
    assert moved["star"] == 2 * (p - 1) * n_bytes          # p/2 × the lower bound
    assert moved["ring"] == moved["rabenseifner"] == 2 * (p - 1) * n_bytes // p
    assert moved["recursive_doubling"] == lg * n_bytes
    assert moved["tree"] == 2 * lg * n_bytes


@given(models, st.sampled_from(EXACT_ALGORITHMS), st.sampled_from([2, 3, 4, 5, 8]),
       st.integers(8, 1 << 20))
def test_allreduce_is_the_calls_cost_plus_calibrates_rounds(model, algorithm, p, n_bytes):
    """The same α-β rounds as calibrate.round_seconds (one α and β whether messages cross
    or not), plus the fixed cost of one call; a single worker has nothing to average."""
    cal = Calibration(alpha=model.alpha, beta=model.beta, overhead=0.0, samples=None,
                      alpha_both=model.alpha, beta_both=model.beta)
    rounds = round_seconds(make_plan(algorithm, p), max(1, n_bytes // 8), 8, cal).sum()
    assert allreduce_seconds(p, algorithm, n_bytes, model) == \
        pytest.approx(model.allreduce_call + rounds, rel=1e-12, abs=1e-15)
    assert allreduce_seconds(1, NO_ALLREDUCE, n_bytes, model) == 0.0


def test_the_reference_all_reduce_is_the_direct_engines():
    """REFERENCE speaks of the direct engine: under a millisecond per message, so the
    all-reduce of the job's 128 KiB gradient costs milliseconds, far below its compute."""
    assert REFERENCE.alpha < 1e-3
    job = Job()
    one_round = allreduce_seconds(2, "recursive_doubling", job.vector_bytes, REFERENCE)
    assert one_round == pytest.approx(REFERENCE.allreduce_call + REFERENCE.alpha
                                      + job.vector_bytes * REFERENCE.beta)
    assert one_round < job.rows * REFERENCE.row / 10


def test_bad_models():
    with pytest.raises(ValueError, match=r"ClusterModel.row \(seconds\) must be ≥ 0"):
        ClusterModel(call=0, task=0, scheduler=0, row=-1, alpha=0, beta=0)
    with pytest.raises(ValueError, match="ClusterModel.alpha"):
        ClusterModel(call=0, task=0, scheduler=0, row=0, alpha=float("nan"), beta=0)
    with pytest.raises(ValueError, match="ClusterModel.allreduce_call"):
        ClusterModel(call=0, task=0, scheduler=0, row=0, alpha=0, beta=0,
                     allreduce_call=-1e-3)


# --- on the live cluster -------------------------------------------------------------------


@pytest.mark.parametrize("config", [
    Config(1, 24, NO_ALLREDUCE), Config(1, 5, NO_ALLREDUCE), Config(2, 1, "star"),
    Config(2, 7, "ring"), Config(2, 12, "rabenseifner"), Config(2, 3, "tree"),
    Config(2, 24, "recursive_doubling"),   # one partition: the second worker adds zeros
])
def test_every_configuration_computes_the_same_gradient(client, config):
    result, seconds = run(client, SMALL, config)
    np.testing.assert_allclose(result, reference_gradient(SMALL), rtol=1e-9, atol=1e-12)
    assert seconds > 0


def test_tune_measures_the_default_and_chooses_among_what_it_measured(client):
    t = tune(client, SMALL, top=2, repeats=1)
    ran = t.table.dropna(subset=["measured_s"])
    assert t.model.alpha > 0 and t.model.beta > 0        # probed on the direct engine
    assert t.default == Config(2, 1, "star")
    assert 3 <= len(ran) <= 2 + 1 + 2                 # default, top 2, best per width
    assert {1, 2} <= set(ran["workers"])              # each worker count measured
    assert t.all_correct and ran["correct"].all()
    assert t.measured(t.chosen) == ran["measured_s"].min()
    assert t.gain >= 1.0                              # the default was a candidate too
    text = str(t)
    assert "gain over the default" in text and str(t.chosen) in text
    fig = tuning_plots.plot(t)
    assert fig.axes[0].get_xlabel() == "predicted (ms)"
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_tune_rejects_bad_input(client):
    with pytest.raises(TypeError, match="client must be a distributed.Client"):
        tune(None)
    with pytest.raises(TypeError, match="job must be a tuning.Job"):
        tune(client, job={"rows": 8})
    with pytest.raises(ValueError, match="top must be ≥ 1"):
        tune(client, SMALL, top=0)
    with pytest.raises(ValueError, match="config.workers"):
        tune(client, SMALL, default=Config(5, 1, "star"))
