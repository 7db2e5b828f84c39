"""Chapter 03's package side: the data-sync replay and the chapter's self-checks."""
import numpy as np
import pytest

from distlab.present import exercises
from distlab.apps.data_sync import local_writes, replay


def test_syncing_every_write_keeps_reads_consistent():
    history = replay(local_writes(3, 12, seed=1), sync_every=1)["history"]
    assert (history["read disagreement"] == 0).all()
    assert history["all-reduces"].iloc[-1] == 12
    assert history["synced"].all()


@pytest.mark.parametrize("every", [2, 4, 5, 12])
def test_batching_sends_fewer_allreduces_and_ends_in_the_same_state(every):
    writes = local_writes(2, 12, seed=0)
    strong, batched = replay(writes, 1), replay(writes, every)
    expected = -(-12 // every)                                     # ceil: and the last write
    assert batched["history"]["all-reduces"].iloc[-1] == expected
    assert batched["history"]["bytes"].iloc[-1] * every >= strong["history"]["bytes"].iloc[-1]
    assert np.allclose(batched["final"], strong["final"], atol=1e-12)
    assert batched["history"]["read disagreement"].max() > 0       # reads disagreed
    assert batched["history"]["read disagreement"].iloc[-1] == 0   # until the last sync


def test_final_state_is_the_mean_of_all_writes_on_every_node():
    writes = local_writes(4, 6, seed=2)
    final = replay(writes, 3, algorithm="rabenseifner")["final"]
    expected = writes.sum(axis=0).mean(axis=0)
    assert all(np.allclose(row, expected) for row in final)


def test_replay_rejects_bad_input():
    with pytest.raises(ValueError, match="sync_every"):
        replay(local_writes(2, 3), 0)
    with pytest.raises(ValueError, match="shape"):
        replay(np.ones((3, 2)), 1)
    with pytest.raises(ValueError, match="n_writes"):
        local_writes(2, 0)


def test_chapter_03_answers_follow_from_the_package():
    writes = local_writes(2, 12)
    assert exercises.check("03.sync-count",
                           int(replay(writes, 1)["history"]["all-reduces"].iloc[-1])).correct
    assert exercises.check("03.linear", "yes").correct
    assert not exercises.check("03.linear", "no").correct
    assert exercises.check("03.partition",
                           max(len(b) for b in np.array_split(np.arange(10), 4))).correct
    assert not exercises.check("03.partition", "2").correct


def test_replay_runs_on_the_cluster(client):
    run = replay(local_writes(2, 4), 2, client=client)
    assert run["wall_time"] > 0
    assert np.array_equal(run["final_on_cluster"], run["final"])
    with pytest.raises(ValueError, match="workers"):
        replay(local_writes(3, 2), 1, client=client)
