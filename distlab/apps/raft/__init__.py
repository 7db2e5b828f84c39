"""Strong consistency the way real systems get it: a Raft replicated log on the simulator.

Leader election with randomised (seeded) timeouts and terms, log replication with
AppendEntries, the commit rule (a majority, of the current term), and a key-value store
as the state machine, after Ongaro & Ousterhout, "In Search of an Understandable
Consensus Algorithm", USENIX ATC 2014. Clients go to the leader and retry elsewhere;
reads are linearizable (Herlihy & Wing, TOPLAS 1990), through the log (naive) or by
ReadIndex (a heartbeat round instead of a log write). Crashes keep what Raft keeps on
disk; messages are lost at random; partitions cut the network (faults are
``distlab.concepts.network_faults.NetworkFault``, as for the stores).

    server.py       RaftServer, LogEntry: one server's protocol
    config.py       RaftConfig, RaftWorkload: settings, checked when built
    cluster.py      RaftCluster, run(), RaftRun: servers, clients that retry, the history
    experiments.py  partitions and failover as counts in virtual time; random fault mixes;
                    the table beside the quorum store and the eventual store

    from distlab.apps import raft
    outcome = raft.run(raft.RaftConfig(), seed=0)     # outcome.linearizable, .ops, .logs

May import: ``distlab.concepts`` (the event simulator, the linearizability checker),
``distlab.checks``, ``distlab.apps.stores`` (for the comparison table only), numpy,
pandas. Never: ``distlab.present``, ``distlab.cli``, matplotlib (tests/test_layers.py).
"""
from distlab.apps.raft.cluster import OpRecord, RaftCluster, RaftRun, run
from distlab.apps.raft.config import READS, RaftConfig, RaftWorkload
from distlab.apps.raft.experiments import (consistency_costs, failover, partition_counts,
                                           random_faults)
from distlab.apps.raft.server import LogEntry, RaftServer

__all__ = ["RaftConfig", "RaftWorkload", "RaftRun", "RaftCluster", "OpRecord",
           "run", "READS", "LogEntry", "RaftServer", "random_faults",
           "partition_counts", "failover", "consistency_costs"]
