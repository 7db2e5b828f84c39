"""Chapter 6 serving: batch prediction, failover with no request lost, hedged requests."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from distlab.apps import hedging as H
from distlab.apps import serving as S
from distlab.apps import training as T


@pytest.fixture(scope="module")
def params():
    return T.train("single", rounds=10).attrs["params"]


# ---- pure pieces ----------------------------------------------------------------------

@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 3000))
def test_request_rows_cycle_through_the_digits(first, count):
    rows = S.request_rows(first, count)
    assert len(rows) == count
    assert rows.min() >= 0 and rows.max() < S.N_IMAGES
    assert rows[0] == first % S.N_IMAGES


def test_expected_answers_are_the_models_predictions(params):
    X, _, X_test, _ = T.load_split(0)
    images = np.concatenate([X, X_test])
    np.testing.assert_array_equal(S.expected_answers(params, 0, 1797),
                                  T.predict(params, images))


def test_hedging_cuts_the_tail_at_a_small_price():
    plain = H.tail_latency(hedge_after=None)
    hedged = H.tail_latency(hedge_after="p95")
    assert hedged["p99"] < plain["p99"] * 0.7               # the tail shrinks a lot
    assert hedged["p999"] < plain["p999"] * 0.5
    assert hedged["p50"] == pytest.approx(plain["p50"], rel=0.05)   # the median hardly moves
    assert 0.02 < hedged["extra_load"] < 0.08                # about the 5 % above p95
    assert plain["extra_load"] == 0.0
    assert H.tail_latency(seed=3) == H.tail_latency(seed=3)  # seeded, virtual time


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.one_of(st.none(), st.floats(0.002, 0.2)),
       st.integers(2, 6))
def test_every_request_is_answered_once_at_least_a_round_trip_later(seed, after, replicas):
    run = H.simulate_service(300, after, seed, replicas=replicas)
    lat = run["latencies"]
    assert len(lat) == 300 and np.all(np.isfinite(lat))
    assert lat.min() >= 2 * H.SERVICE["network"]            # there and back, at least
    if after is None:
        assert run["hedged"] == 0 and run["served"] == 300
    else:
        assert 0 <= run["hedged"] <= 300
        assert 300 <= run["served"] <= 300 + run["hedged"]


def test_hedging_table_is_deterministic():
    table = H.hedging_table(2000)
    assert list(table.index) == ["no hedging", "hedge after p50", "hedge after p95",
                                 "hedge after p99"]
    assert table.equals(H.hedging_table(2000))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(hedge_after="fast"), ValueError, "hedge_after must be seconds or a percentile"),
    (dict(hedge_after="p100"), ValueError, "between 0 and 100"),
    (dict(hedge_after=-1.0), ValueError, "hedge_after must be > 0, got -1.0"),
    (dict(requests=10), ValueError, "requests must be ≥ 100, got 10"),
    (dict(requests=1.5), TypeError, "requests must be an int"),
    (dict(requests=10**12), ValueError, "requests must be ≤ 100,000"),
    (dict(replicas=1), ValueError, "replicas must be ≥ 2, got 1"),
    (dict(rate=0), ValueError, "rate must be > 0, got 0"),
    (dict(colour="red"), TypeError, "unknown service options"),
])
def test_tail_latency_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        H.tail_latency(**kwargs)


# ---- on the cluster -----------------------------------------------------------------------

def test_batch_prediction_is_correct_at_every_batch_size(client, params):
    table = S.batch_throughput(client, params, batch_sizes=(1, 8, 100), requests=100)
    assert table["batch"].tolist() == [1, 8, 100]
    assert table["tasks"].tolist() == [100, 13, 1]
    assert table["correct"].all()
    assert (table["requests_per_s"] > 0).all()


def test_a_killed_replica_loses_no_request(client, params):
    before = params.copy()
    result = S.serve_stream(client, params, requests=60, batch=3, wave=20, kill_after=25)
    assert result["sent"] == result["answered"] == result["correct"] == 60
    assert result["lost"] == 0
    assert result["killed_replica"] in (0, 1) and result["killed_after"] == 25
    assert sum(result["answered_by"].values()) == 60
    np.testing.assert_array_equal(params, before)          # the caller's model untouched
    assert len(client.nthreads()) == 2                      # the nanny brought it back


def test_serving_without_a_failure(client, params):
    result = S.serve_stream(client, params, requests=20, kill_after=None)
    assert result["correct"] == 20 and result["killed_replica"] is None


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(params="model"), TypeError, "params must be the model"),
    (dict(params=np.zeros((64, 10))), ValueError, r"params must have shape \(65, 10\)"),
    (dict(params=np.full((65, 10), np.nan)), ValueError, "finite"),
    (dict(requests=0), ValueError, "requests must be ≥ 1, got 0"),
    (dict(requests=10**12), ValueError, "requests must be ≤ 10,000"),
    (dict(batch=10**6), ValueError, "requests × batch must be ≤ 100,000"),
    (dict(kill_after=300), ValueError, "kill_after must be below requests"),
    (dict(wave=0), ValueError, "wave must be ≥ 1, got 0"),
])
def test_serve_stream_bad_input(client, params, kwargs, error, match):
    args = {"params": params, **kwargs}
    with pytest.raises(error, match=match):
        S.serve_stream(client, **args)


def test_batch_throughput_bad_input(client, params):
    with pytest.raises(ValueError, match="batch_sizes must not be empty"):
        S.batch_throughput(client, params, batch_sizes=[])
    with pytest.raises(ValueError, match=r"batch_sizes\[1\] must be ≥ 1, got 0"):
        S.batch_throughput(client, params, batch_sizes=[4, 0])
    with pytest.raises(TypeError, match="client must be a distributed.Client"):
        S.batch_throughput(None, params)
