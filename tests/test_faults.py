"""Fault tolerance and replication live on the cluster: kill workers, check what Dask did."""
import pytest

from distlab.apps import faults


def test_fault_schedule_is_seeded_and_in_range():
    schedules = [faults.fault_schedule(s, 6, 2) for s in range(50)]
    assert schedules == [faults.fault_schedule(s, 6, 2) for s in range(50)]
    assert all(0 <= f.after_step <= 4 and f.victim in (0, 1) for f in schedules)
    assert len({(f.after_step, f.victim) for f in schedules}) > 5
    with pytest.raises(ValueError, match="steps must be at least 2"):
        faults.fault_schedule(0, 1, 2)
    with pytest.raises(ValueError, match="workers must be at least 2"):
        faults.fault_schedule(0, 4, 1)


def test_20_seeded_kill_schedules_give_the_fault_free_result(client):
    fault_free = faults.run_pipeline(client, steps=4, seed=None, size=50_000)
    assert fault_free.same_as_fault_free and fault_free.recomputed == 0
    for seed in range(20):
        report = faults.run_pipeline(client, steps=4, seed=seed, size=50_000)
        assert report.result == fault_free.result, seed
        lost = report.schedule.after_step + 1         # the dead worker's shard, steps 0…k
        assert (report.lost, report.recomputed, report.running) == (lost, lost, 0), seed
        assert report.computed_once == 2 * 4 - lost
        assert report.workers_after == 2


def test_replicas_survive_single_copies_are_recomputed_scattered_data_is_lost(client):
    table = faults.replication_demo(client)
    assert table["copies before"].tolist() == [2, 1, 2, 1]
    assert table["available after losing worker #0"].tolist() == [True, True, True, False]
    assert table["recomputed by Dask"].tolist() == [False, True, False, False]
    assert client.amm.running()                      # restored after the demo
    assert len(client.nthreads()) == 2          # not the cached scheduler_info()


def test_kill_worker_rejects_an_unknown_address(client):
    with pytest.raises(ValueError, match="one of the cluster's workers"):
        faults.kill_worker(client, "tcp://127.0.0.1:1")


def test_a_killed_worker_changes_nothing(client):
    out = faults.survive_worker_loss(client, tasks=8, darts=10_000)
    assert out["identical to the fault-free run"]
    assert out["workers afterwards"] == 2
    assert 3.0 < out["pi"] < 3.3
    with pytest.raises(ValueError, match="tasks must be ≥ 1"):
        faults.survive_worker_loss(client, tasks=0)
