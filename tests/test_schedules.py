"""Schedules, task counts and speed-up on the live cluster (distlab.apps.schedules and
distlab.apps.speedup): every task runs once and the results are right; the timings are
only checked to be there, never for their values."""
import pytest

from distlab.apps import schedules, speedup
from distlab.concepts import partitioning


def test_live_measurements_run_every_task_once(client):
    durations = partitioning.skewed_durations(8, seed=2, mean=0.01)
    for strategy in partitioning.STRATEGIES:
        out = schedules.run_schedule_on_cluster(client, durations, strategy)
        assert out["indices"] == list(range(8)) and out["makespan (s)"] > 0
    table = schedules.measure_overhead(client, total_seconds=0.05, task_counts=(2, 16))
    assert table["tasks"].tolist() == [2, 16]
    assert partitioning.fit_overhead(table, 2) >= 0
    measured = speedup.measure_speedup(client, tasks=4, darts=100_000)
    assert measured["same result"] and measured["workers"] == 2


def test_speed_up_gives_the_same_results(client):
    out = speedup.measure_speedup(client, tasks=4, darts=10_000)
    assert out["same result"] and out["workers"] == 2 and out["speed-up"] > 0
    with pytest.raises(TypeError, match="tasks must be an int"):
        speedup.measure_speedup(client, tasks=2.0)


def test_partitioned_sum_is_the_same_however_it_is_cut(client):
    t = schedules.partitioned_sum(client, rows=50, columns=4, partitions=(1, 3, 7))
    assert t["equals numpy"].all() and t["sum"].nunique() == 1


def test_balance_runs_every_placement(client):
    t = schedules.balance(client, [0.01, 0.001, 0.01, 0.001])
    assert list(t.index) == ["static: round-robin", "static: longest first",
                             "dynamic: Dask's scheduler"]
    assert t["measured (s)"].gt(0).all()
    assert t.loc["static: round-robin", "simulated makespan (s)"] == 0.02
    assert t.loc["static: round-robin", "simulated workers"] == [0, 1, 0, 1]


def test_bad_strategy_is_rejected_before_anything_runs(client):
    with pytest.raises(ValueError, match="strategy must be one of"):
        schedules.run_schedule_on_cluster(client, [0.01], "random")
