"""Chapter 6 recommendation: power-law data, sharded training, hot keys measured and fixed."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from distlab.apps import recsys as R

SMALL = dict(n_users=300, n_items=60, samples=3000)


# ---- data -------------------------------------------------------------------------------

def test_ratings_are_seeded_unique_and_power_law():
    a, b = R.make_ratings(0), R.make_ratings(0)
    assert a.equals(b) and not a.equals(R.make_ratings(1))
    assert not a.duplicated(["user", "item"]).any()            # a user rates an item once
    counts = np.sort(np.bincount(a["item"], minlength=R.DATA["n_items"]))[::-1]
    share = counts / counts.sum()
    assert share[0] > 0.1                                      # one item: over a tenth
    assert share[:10].sum() > 0.4 and share[250:].sum() < 0.05  # a long, thin tail


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=8), st.integers(0, 3000))
def test_water_fill_evens_out_as_far_as_possible(load, extra):
    give = R.water_fill(load, extra)
    assert give.sum() == extra and (give >= 0).all()
    after = np.asarray(load) + give
    # nothing better exists: the fullest bin is the old maximum or the average rounded up
    assert after.max() == max(max(load), int(np.ceil((sum(load) + extra) / len(load))))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=1, max_size=300), st.integers(1, 6),
       st.integers(0, 5))
def test_route_sends_cold_items_to_their_owner(items, shards, n_hot):
    items = np.array(items)
    hot = np.unique(items)[:n_hot]
    target = R.route(items, shards, hot)
    cold = ~np.isin(items, hot)
    np.testing.assert_array_equal(target[cold], items[cold] % shards)
    assert target.min() >= 0 and target.max() < shards


def test_hot_replication_evens_the_load():
    plain = R.shard_load(shards=4)
    fixed = R.shard_load(shards=4, hot_items=5)
    assert plain.sum() == fixed.sum()                          # the same updates, moved
    assert plain.max() / plain.mean() > 1.3
    assert fixed.max() - fixed.min() <= 1


# ---- training -------------------------------------------------------------------------------

def test_single_process_training_beats_the_mean():
    h = R.train_mf(None, trainers=1, shards=1, epochs=4, **SMALL)
    assert list(h.columns) == ["epoch", "rmse", "baseline"]
    assert h["rmse"].iloc[-1] < h["baseline"].iloc[0]
    assert h.attrs["load"].tolist() == [len(R.split(R.data_key(0, SMALL))[0]) * 4]


def test_replicating_hot_items_changes_the_load_not_the_model():
    plain = R.train_mf(None, trainers=3, shards=4, epochs=2, **SMALL)
    fixed = R.train_mf(None, trainers=3, shards=4, epochs=2, hot_items=3, **SMALL)
    np.testing.assert_allclose(fixed["rmse"], plain["rmse"], rtol=1e-12)
    np.testing.assert_allclose(fixed.attrs["items"], plain.attrs["items"], atol=1e-12)
    assert fixed.attrs["load"].sum() == plain.attrs["load"].sum()
    assert fixed.attrs["imbalance"] < plain.attrs["imbalance"]


def test_the_cluster_runs_exactly_the_in_process_computation(client):
    here = R.train_mf(None, epochs=2, hot_items=2, **SMALL)
    there = R.train_mf(client, epochs=2, hot_items=2, **SMALL)
    assert here.equals(there)
    np.testing.assert_array_equal(here.attrs["load"], there.attrs["load"])
    np.testing.assert_array_equal(here.attrs["items"], there.attrs["items"])


def test_distributed_quality_is_close_to_single_process():
    single = R.train_mf(None, trainers=1, shards=1)
    sharded = R.train_mf(None)
    assert sharded["rmse"].iloc[-1] < sharded["baseline"].iloc[0] * 0.85
    assert sharded["rmse"].iloc[-1] - single["rmse"].iloc[-1] < 0.05


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(trainers=0), ValueError, "trainers must be ≥ 1"),
    (dict(shards=0), ValueError, "shards must be ≥ 1"),
    (dict(hot_items=-1), ValueError, "hot_items must be ≥ 0"),
    (dict(hot_items=10_000), ValueError, "hot_items .* cannot exceed"),
    (dict(lr=0), ValueError, "lr must be > 0"),
    (dict(epochs=1.5), TypeError, "epochs must be an int"),
    (dict(colour="red"), TypeError, "unknown data options"),
    (dict(zipf=-1.0), ValueError, "zipf must be ≥ 0"),
    (dict(trainers=5000, n_users=100, samples=200), ValueError, "no ratings"),
])
def test_bad_input_is_rejected_clearly(kwargs, error, match):
    with pytest.raises(error, match=match):
        R.train_mf(None, **kwargs)


def test_the_load_plot_draws_one_panel_per_run():
    from distlab.present import recsys_plots

    fig = recsys_plots.load_plot({"plain": R.shard_load(), "fixed": R.shard_load(hot_items=5)})
    assert len(fig.axes) == 2 and "max/mean" in fig.axes[0].get_title()
