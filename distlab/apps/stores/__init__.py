"""Strong versus eventual consistency on a replicated key-value store you can break.

The document (2.2) says: strong consistency — every node reads and writes the same data,
at a cost in performance; eventual consistency — data may differ for a while, but agrees
in the end. This package makes both concrete on the deterministic simulator: N replicas,
clients reading and writing through a coordinator, a seeded network, a replica crash and
a network partition; every run's history is judged by the linearizability checker.

    config.py     StoreConfig (N, R, W, sync or async, sessions), Workload, Fault, the two
                  settings
    replicas.py   the store: replicas, coordinators, quorums, anti-entropy (naive first)
    runs.py       run(): simulate, judge the history, measure; stale_reads()
    tables.py     tradeoff(), price_of_consistency(), replicated_store_availability()
    sessions.py   session_check(), session_guarantees(): read your writes and monotonic
                  reads on the eventual store, broken and kept (sticky or versioned)

    from distlab.apps import stores
    outcome = stores.run(stores.STRONG, seed=0)       # outcome.linearizable, .metrics

May import: ``distlab.concepts`` (the event simulator, the linearizability checker),
``distlab.checks``, numpy, pandas. It needs no cluster and no engine. Never:
``distlab.present``, ``distlab.cli``, matplotlib (tests/test_layers.py).
"""
from distlab.apps.stores.config import (EVENTUAL, FAULT_ACTIONS, REPLICATION, SESSIONS, STRONG,
                                        Fault, StoreConfig, Workload, standard_faults,
                                        with_changes)
from distlab.apps.stores.runs import Run, run, stale_reads
from distlab.apps.stores.sessions import client_of, session_check, session_guarantees
from distlab.apps.stores.tables import (price_of_consistency, replicated_store_availability,
                                        tradeoff)
from distlab.concepts.linearizability import check_linearizable

__all__ = ["StoreConfig", "Workload", "Fault", "Run", "run", "standard_faults", "STRONG",
           "EVENTUAL", "tradeoff", "check_linearizable", "stale_reads", "REPLICATION",
           "FAULT_ACTIONS", "with_changes", "price_of_consistency",
           "replicated_store_availability", "SESSIONS", "client_of", "session_check",
           "session_guarantees"]
