"""The Raft replicated log (distlab.apps.raft): linearizable under crashes, loss and
partitions on ≥ 1,000 seeded histories; a minority cannot commit, a majority can; a
crashed leader is replaced; the comparison with the quorum and eventual stores."""
import itertools
import math
import random

import pytest

from distlab.apps import raft
from distlab.apps.raft import (RaftCluster, RaftConfig, RaftServer, RaftWorkload,
                               consistency_costs, failover, partition_counts, random_faults)
from distlab.apps.raft.server import LogEntry
from distlab.concepts.events import MessageNetwork, Simulator
from distlab.concepts.network_faults import NetworkFault

SEEDS = range(1000)


def seeded_case(seed):
    """A run's settings from its seed: 3 or 5 servers, 2–4 clients, 1 or 2 keys, message
    loss from 0 to 10 %, both read paths, and a random mix of crashes and partitions."""
    rng = random.Random(seed * 7919)
    config = RaftConfig(servers=rng.choice([3, 5]), drop=rng.choice([0.0, 0.02, 0.05, 0.1]),
                        reads=rng.choice(raft.READS), timeout=rng.choice([0.3, 0.6]))
    workload = RaftWorkload(clients=rng.choice([2, 3, 4]), keys=rng.choice([1, 2]),
                            duration=1.5, think=0.025)
    return config, workload, random_faults(seed, config.servers, workload.clients, 1.5)


def test_linearizable_on_a_thousand_seeded_histories_with_faults():
    failures, seen = [], {"crash": 0, "partition": 0, "lost": 0, "gave up": 0, "ops": 0}
    for seed in SEEDS:
        config, workload, faults = seeded_case(seed)
        outcome = raft.run(config, seed=seed, workload=workload, faults=faults)
        for key, verdict in outcome.verdicts().items():
            if not verdict:
                failures.append(f"seed {seed}, key {key}: {verdict.reason}")
        # Election safety: at most one leader per term (Figure 3 of the paper).
        terms = [term for _, term, _ in outcome.leaders]
        assert len(terms) == len(set(terms)), f"seed {seed}: two leaders in one term"
        # State machine safety: committed prefixes agree on every pair of servers.
        for i, j in itertools.combinations(range(config.servers), 2):
            shared = min(outcome.commit[i], outcome.commit[j])
            assert outcome.logs[i][:shared] == outcome.logs[j][:shared], \
                f"seed {seed}: servers {i} and {j} committed different entries"
        actions = {f.action for f in faults}
        seen["crash"] += "crash" in actions
        seen["partition"] += "partition" in actions
        seen["lost"] += outcome.messages.get("dropped: random", 0) > 0
        seen["gave up"] += any(o.complete is None for o in outcome.ops)
        seen["ops"] += len(outcome.ops)
    assert not failures, "\n".join(failures[:5])
    # The mix really was mixed, and each history was a few dozen operations.
    assert min(seen["crash"], seen["partition"], seen["lost"], seen["gave up"]) > 200, seen
    assert 15 <= seen["ops"] / len(SEEDS) <= 60, seen


def test_the_check_has_teeth_writes_applied_twice_are_caught(monkeypatch):
    """Without the client sessions (thesis §6.3) a retried write can take effect twice;
    the same seeded loop must find a history that proves it."""
    def without_sessions(self, entry):
        if entry.kind == "write":
            self.data[entry.key] = entry.value
        return self.data.get(entry.key) if entry.kind == "read" else None

    def broken(seed):
        config, workload, faults = seeded_case(seed)
        return not raft.run(config, seed=seed, workload=workload, faults=faults).linearizable

    monkeypatch.setattr(RaftServer, "_execute", without_sessions)
    assert any(broken(seed) for seed in SEEDS)


def test_same_seed_same_history():
    config, workload, faults = seeded_case(7)
    first = raft.run(config, seed=7, workload=workload, faults=faults)
    again = raft.run(config, seed=7, workload=workload, faults=faults)
    assert first == again
    assert first != raft.run(config, seed=8, workload=workload, faults=faults)


def test_both_read_paths_are_linearizable_on_a_calm_cluster():
    for reads in raft.READS:
        outcome = raft.run(RaftConfig(reads=reads), seed=3,
                           workload=RaftWorkload(clients=4, keys=2, duration=1.5))
        assert outcome.linearizable
        assert all(o.complete is not None for o in outcome.ops)
        entries = sum(e.kind == "read" for e in outcome.logs[0])
        # ReadIndex answers reads without writing them to the log.
        assert (entries == 0) == (reads == "read_index")


def test_minority_cannot_commit_majority_elects_and_commits_then_logs_converge():
    for seed in range(10):
        counts = partition_counts(seed)
        assert counts["old leader"] in counts["minority"]
        assert counts["minority writes"] > 0
        assert counts["minority writes committed"] == 0
        assert counts["entries appended while cut off, committed"] == 0
        assert counts["majority writes committed"] >= 0.9 * counts["majority writes"] > 0
        # The majority elects a leader within two maximum election timeouts of the cut.
        assert 0 < counts["majority leader after (ms)"] <= 2 * 300
        # After the heal every log becomes equal and committed, within a second.
        assert counts["logs equal after heal (ms)"] is not None
        assert counts["logs equal after heal (ms)"] < 1000


def test_a_crashed_leader_is_replaced_within_two_election_timeouts():
    table = failover(range(50))
    assert (table["new leader"] != table["old leader"]).all()
    assert table["new leader after (ms)"].notna().all()
    # No sooner than a follower's timeout allows, no later than two maximum timeouts.
    assert table["new leader after (ms)"].min() >= 150 - 50 - 15
    assert table["election timeouts"].max() <= 2


def test_a_crash_keeps_term_vote_and_log_and_loses_the_rest():
    cluster = RaftCluster(RaftConfig(servers=3), RaftWorkload(clients=2, duration=1.0), 4)
    cluster.run_until(0.6)
    follower = next(s for s in cluster.servers if s.role == "follower")
    kept = (follower.term, follower.voted_for, list(follower.log))
    assert follower.commit_index > 0 and follower.data
    NetworkFault(0.6, "crash", follower.name).apply(cluster.net)
    cluster.run_until(0.7)
    NetworkFault(0.7, "recover", follower.name).apply(cluster.net)
    assert (follower.term, follower.voted_for, follower.log) == kept
    assert (follower.role, follower.commit_index, follower.last_applied, follower.data) == \
        ("follower", 0, 0, {})
    cluster.run_until(1.8)
    leader = cluster.servers[cluster.leader()]
    assert follower.commit_index == leader.commit_index and follower.data == leader.data


def test_commit_rule_counts_replicas_only_for_entries_of_the_current_term():
    """Figure 8 of the paper: an entry of an earlier term on a majority is not committed
    until an entry of the leader's own term is."""
    net = MessageNetwork(Simulator(0))
    server = RaftServer(0, [0, 1, 2], net, RaftConfig(servers=3))
    for name in (1, 2):
        net.add_node(name, lambda message: None)
    server.term, server.role = 3, "leader"
    server.log = [LogEntry(1, "noop"), LogEntry(2, "write", 0, "x", "c0", 1)]
    server.match_index = {1: 2, 2: 0}
    server._advance_commit()
    assert server.commit_index == 0
    server.log.append(LogEntry(3, "noop"))
    server.match_index = {1: 3, 2: 0}
    server._advance_commit()
    assert server.commit_index == 3 and server.data == {0: "x"}


def test_consistency_costs_beside_the_stores():
    table = consistency_costs(seeds=range(2))
    assert table.equals(consistency_costs(seeds=range(2)))        # deterministic
    assert list(table.columns) == [
        "write p50 (ms)", "write p99 (ms)", "read p50 (ms)", "read p99 (ms)",
        "succeeded, minority side", "succeeded, majority side", "majority side p99 (ms)",
        "linearizable", "client hop timed"]
    log, by_log, quorum, eventual = (table.loc[name] for name in table.index)
    for strong in (log, by_log, quorum):
        assert strong["succeeded, minority side"] == 0
        assert strong["succeeded, majority side"] >= 0.9
        assert strong["linearizable"] == "4/4"
    assert eventual["succeeded, minority side"] == eventual["succeeded, majority side"] == 1
    assert eventual["linearizable"] != "4/4"
    # A leader-based write: a round trip to the leader and one to a majority, 4 one-way
    # delays of 5–15 ms; the eventual store answers at once, unreplicated.
    assert 20 < log["write p50 (ms)"] < 60 and eventual["write p50 (ms)"] == 0
    # The majority side waits out an election under Raft, not under quorums.
    assert log["majority side p99 (ms)"] > quorum["majority side p99 (ms)"]


@pytest.mark.parametrize("build, error", [
    (lambda: RaftConfig(servers=0), ValueError),
    (lambda: RaftConfig(servers=2.0), TypeError),
    (lambda: RaftConfig(drop=1.0), ValueError),
    (lambda: RaftConfig(reads="lease"), ValueError),
    (lambda: RaftConfig(heartbeat=0.2), ValueError),
    (lambda: RaftConfig(latency=0.005), TypeError),
    (lambda: RaftWorkload(clients=True), TypeError),
    (lambda: RaftWorkload(read_fraction=1.5), ValueError),
    (lambda: raft.run(faults=[NetworkFault(0.1, "partition", None)]), TypeError),
    (lambda: raft.run(faults=[NetworkFault(0.1, "partition", ((0, "c9"),))]), ValueError),
    (lambda: raft.run("config"), TypeError),
    (lambda: raft.run(seed=-1), ValueError),
    (lambda: raft.run(faults=[NetworkFault(0.1, "crash", 7)]), ValueError),
    (lambda: raft.run(faults=[NetworkFault(0.1, "crash", "c0")]), ValueError),
    (lambda: raft.run(faults=["crash"]), TypeError),
    (lambda: random_faults(0, 0, 2, 1.0), ValueError),
    (lambda: partition_counts(config=RaftConfig(servers=3)), ValueError),
    (lambda: consistency_costs(seeds=[]), ValueError),
    (lambda: consistency_costs(timeout=math.nan), ValueError),
])
def test_arguments_are_checked(build, error):
    with pytest.raises(error):
        build()
