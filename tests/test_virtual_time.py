"""Training in virtual time (distlab.apps.training.virtual_time): the same arithmetic as
train(), and a straggler's effect as counts — waits, gradients, staleness — no cluster."""
import math

import numpy as np
import pandas as pd
import pytest

from distlab.apps import training as T
from distlab.apps.training.virtual_time import Timing, simulate, straggler_comparison

STRAGGLER = Timing(compute=1.0, allreduce=0.25, push=0.25, straggler=3, slowdown=3.0)


def test_virtual_sync_is_the_single_process_run():
    single = T.train("single", rounds=6)
    sync = simulate("sync", T.TrainingConfig(), Timing(), until=6 * 1.25)
    assert sync["round"].tolist() == list(range(7))
    np.testing.assert_allclose(sync.attrs["params"], single.attrs["params"], atol=1e-12)
    np.testing.assert_allclose(sync["loss"], single["loss"], rtol=1e-10)
    assert sync["samples"].tolist() == single["samples"].tolist()
    # 4 nodes, recursive doubling: each node sends its 5,200 bytes twice per all-reduce
    assert sync["bytes"].diff().iloc[1:].eq(4 * 2 * 5200).all()


def test_local_with_one_step_is_sync():
    config = T.TrainingConfig(local_steps=1)
    local = simulate("local", config, Timing(), until=5)
    sync = simulate("sync", config, Timing(), until=5)
    np.testing.assert_allclose(local.attrs["params"], sync.attrs["params"], atol=1e-12)


def test_a_synchronous_round_waits_for_the_slowest_node():
    h = simulate("sync", timing=STRAGGLER, until=100)
    rounds = math.floor(100 / 3.25)                       # slowest node + the all-reduce
    assert h["round"].iloc[-1] == rounds == 30
    np.testing.assert_allclose(h["time"].diff().iloc[1:], 3.25)
    assert h.attrs["gradients"] == [30] * 4
    np.testing.assert_allclose(h.attrs["waited"], [60.0, 60.0, 60.0, 0.0])   # 2 s a round


def test_local_sgd_saves_all_reduces_not_waiting():
    h = simulate("local", timing=STRAGGLER, until=100)
    np.testing.assert_allclose(h["time"].diff().iloc[1:], 16 * 3.0 + 0.25)
    assert h["round"].iloc[-1] == 2 and h.attrs["gradients"] == [32] * 4
    np.testing.assert_allclose(h.attrs["waited"], [64.0, 64.0, 64.0, 0.0])


def test_async_runs_at_the_fast_nodes_rate_and_the_straggler_is_stale():
    h = simulate("async", timing=STRAGGLER, until=100)
    assert h.attrs["gradients"] == [80, 80, 80, 30]       # ⌊100 / 1.25⌋ and ⌊100 / 3.25⌋
    assert h.attrs["waited"] == [0.0] * 4                 # nobody ever waits
    staleness = h.attrs["staleness"]
    assert len(staleness) == 270 and max(staleness) == 9  # 3 fast nodes × 3 pushes
    assert h["samples"].iloc[-1] == (270 // 4) * 4 * 64
    sync = simulate("sync", timing=STRAGGLER, until=100)
    assert h["samples"].iloc[-1] > 2 * sync["samples"].iloc[-1]


def test_without_a_straggler_async_staleness_is_nodes_minus_one():
    h = simulate("async", timing=Timing(), until=20)
    assert h.attrs["staleness"][:4] == [0, 1, 2, 3]
    assert set(h.attrs["staleness"][4:]) == {3}
    assert h.attrs["gradients"] == [16] * 4


def test_ssp_bounds_the_lead_and_pays_in_waiting():
    config = T.TrainingConfig(staleness=4)
    h = simulate("ssp", config, STRAGGLER, until=100)
    healthy, slow = h.attrs["gradients"][0], h.attrs["gradients"][3]
    assert slow == 30 and healthy - slow <= config.staleness + 1
    assert min(h.attrs["waited"][:3]) > 0 and h.attrs["waited"][3] == 0
    lockstep = simulate("ssp", T.TrainingConfig(staleness=0), STRAGGLER, until=100)
    assert lockstep.attrs["gradients"][0] - lockstep.attrs["gradients"][3] <= 1


def test_comparison_is_fair_and_deterministic():
    table, histories = straggler_comparison(STRAGGLER, until=100, target=0.95)
    assert list(table.index) == list(T.VIRTUAL_STRATEGIES)
    assert table.loc["sync", "lr per update"] == 8.0                   # 2.0 × 256 / 64
    assert table.loc["sync", "examples per update"] == 256
    assert (table.loc[["local", "async", "ssp"], "lr per update"] == 2.0).all()
    assert table.loc["sync", "healthy nodes waiting (%)"] == 60.0
    assert table.loc["async", "healthy nodes waiting (%)"] == 0.0
    assert table.loc["async", "gradients: healthy node"] == 80
    assert table.loc["async", "gradients: straggler"] == 30
    assert table.loc["async", "max staleness"] == 9
    again, _ = straggler_comparison(STRAGGLER, until=100, target=0.95)
    pd.testing.assert_frame_equal(table, again)
    assert set(histories) == set(T.VIRTUAL_STRATEGIES)


def test_non_iid_shards_partition_the_training_set_and_skew_the_labels():
    _, y, _, _ = T.load_split(0)
    for skew in (0.0, 0.5, 1.0):
        rows = [T.shard_rows(i, 4, 0, skew) for i in range(4)]
        assert sorted(np.concatenate(rows).tolist()) == list(range(len(y)))
        assert max(map(len, rows)) - min(map(len, rows)) <= 2
    # skew 0: exactly the shards (and their order) every earlier run used
    old = np.random.default_rng([0, 1]).permutation(len(y))
    for i in range(4):
        np.testing.assert_array_equal(T.shard_rows(i, 4, 0, 0.0), old[i::4])
    digits = [np.unique(y[T.shard_rows(i, 4, 0, 1.0)]) for i in range(4)]
    assert all(len(d) <= 4 for d in digits)               # each node: two or three digits
    mostly = [np.bincount(y[T.shard_rows(i, 4, 0, 0.8)]).max() / len(T.shard_rows(i, 4, 0, 0.8))
              for i in range(4)]
    assert min(mostly) > 0.3                              # IID would be about 0.1


def test_linear_scaling_rule():
    assert T.linear_scaled_lr(2.0, 256, 64) == 8.0
    assert T.linear_scaled_lr(0.1, 32, 256) == pytest.approx(0.0125)
    with pytest.raises(ValueError, match="lr must be > 0"):
        T.linear_scaled_lr(0, 256, 64)


@pytest.mark.parametrize("call, error, match", [
    (lambda: simulate("gossip"), ValueError, "strategy"),
    (lambda: simulate("sync", timing=Timing(straggler=4)), ValueError, "straggler"),
    (lambda: simulate("sync", until=0), ValueError, "until must be > 0"),
    (lambda: simulate("sync", config={"nodes": 4}), TypeError, "TrainingConfig"),
    (lambda: Timing(compute=0), ValueError, "compute must be > 0"),
    (lambda: Timing(slowdown=0.5), ValueError, "slowdown"),
    (lambda: T.TrainingConfig(label_skew=1.5), ValueError, "label_skew"),
    (lambda: T.shard_rows(0, 4, 0, -0.1), ValueError, "label_skew"),
])
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_time_plot_draws_and_refuses_cluster_histories():
    import matplotlib
    matplotlib.use("Agg")
    from distlab.present import training_plots

    _, histories = straggler_comparison(STRAGGLER, until=20)
    fig = training_plots.time_plot(histories, target=0.95)
    assert [ax.get_xlabel() for ax in fig.axes] == ["virtual seconds"] * 2
    with pytest.raises(TypeError, match="virtual-time"):
        training_plots.time_plot(T.train("single", rounds=2))
