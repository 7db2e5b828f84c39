"""distlab.apps.faq: chapter 09's runs. Placement rules and the simulator runs are exact; the
cluster runs are checked for their results, never for their timings."""
import pytest

from distlab.apps import faq


def test_replication_keeps_the_store_available():
    t = faq.replicated_store_availability()
    assert list(t.index) == [1, 3]
    assert t.loc[3, "timed out (%)"] == 0 < t.loc[1, "timed out (%)"]
    assert t["linearizable"].all()
    assert t.equals(faq.replicated_store_availability())            # deterministic


def test_averaging_sync_strong_is_exact_eventual_is_close():
    t = faq.averaging_sync(n_nodes=8, tolerance=1e-6)
    exact = t.loc["strong: exact all-reduce"]
    assert exact["rounds"] == 3 and exact["final disagreement"] == "0"  # lg 8 rounds
    for kind in ("eventual: gossip, complete graph", "eventual: gossip, ring neighbours"):
        assert float(t.loc[kind, "final disagreement"]) <= 1e-6
        assert t.loc[kind, "rounds"] > exact["rounds"]
    assert t.loc["eventual: gossip, ring neighbours", "rounds"] > \
        t.loc["eventual: gossip, complete graph", "rounds"]


def test_the_skewed_case_breaks_round_robin_only():
    from distlab.concepts.partitioning import lower_bound, simulate_schedule
    d = faq.skewed_durations()
    assert d == [0.2, 0.02] * 4
    assert simulate_schedule(d, 2, "round_robin").makespan == pytest.approx(0.8)
    assert simulate_schedule(d, 2, "longest_first").makespan == pytest.approx(0.44)
    assert lower_bound(d, 2) == pytest.approx(0.44)


@pytest.mark.parametrize("call, error, match", [
    (lambda: faq.skewed_durations(long=0), ValueError, "long must be a positive"),
    (lambda: faq.skewed_durations(tasks=0), ValueError, "tasks must be at least 1"),
    (lambda: faq.averaging_sync(n_nodes=2.0), TypeError, "n_nodes must be an int"),
])
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_fields_are_exact_and_cover_the_documents_list():
    t = faq.fields()
    assert list(t.index) == ["distributed database", "distributed storage",
                             "distributed computing", "large-model training",
                             "prediction serving", "recommendation"]
    assert "linearizable = True" in t.loc["distributed database", "what the run shows"]
    assert t.equals(faq.fields())


def test_partitioned_sum_is_the_same_however_it_is_cut(client):
    t = faq.partitioned_sum(client, rows=50, columns=4, partitions=(1, 3, 7))
    assert t["equals numpy"].all() and t["sum"].nunique() == 1


def test_balance_runs_every_placement(client):
    t = faq.balance(client, [0.01, 0.001, 0.01, 0.001])
    assert list(t.index) == ["static: round-robin", "static: longest first",
                             "dynamic: Dask's scheduler"]
    assert t["measured (s)"].gt(0).all()
    assert t.loc["static: round-robin", "simulated makespan (s)"] == 0.02
    assert t.loc["static: round-robin", "simulated workers"] == [0, 1, 0, 1]


def test_speed_up_gives_the_same_results(client):
    out = faq.speed_up(client, tasks=4, darts=10_000)
    assert out["same results"] and out["workers"] == 2 and out["speed-up"] > 0


def test_a_killed_worker_changes_nothing(client):
    out = faq.survive_worker_loss(client, tasks=8, darts=10_000)
    assert out["identical to the fault-free run"]
    assert out["workers afterwards"] == 2
    assert 3.0 < out["pi"] < 3.3
    with pytest.raises(ValueError, match="tasks must be at least 1"):
        faq.survive_worker_loss(client, tasks=0)
