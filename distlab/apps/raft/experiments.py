"""What the replicated log costs and survives, as counts in virtual time.

- :func:`random_faults`: a seeded mix of crashes (with recoveries), partitions and heals,
  for testing linearizability over many histories (in the spirit of Jepsen's nemesis).
- :func:`partition_counts`: five servers cut 2 | 3 with the leader on the small side. The
  minority cannot commit (its clients time out or are redirected); the majority elects a
  leader and commits; after the heal the minority catches up until every log is equal.
  This is Brewer's CAP in numbers (Gilbert & Lynch, SIGACT News 2002): a linearizable
  system gives up availability on the minority side of a partition.
- :func:`failover`: the leader crashes; how long until a new one is elected, in election
  timeouts (Ongaro & Ousterhout, ATC 2014, §5.2 and §9.3).
- :func:`consistency_costs`: the log beside the quorum store and the eventual store of
  ``distlab.apps.stores``: median and p99 latency, and the share of operations that
  succeed on each side of a 2 | 3 partition.
"""
from __future__ import annotations

import random

import numpy as np

from distlab.apps.raft.cluster import RaftCluster, run
from distlab.apps.raft.config import MAX_CLIENTS, MAX_SERVERS, RaftConfig, RaftWorkload
from distlab.checks import count, number, sequence
from distlab.concepts.network_faults import NetworkFault

__all__ = ["random_faults", "partition_counts", "failover", "consistency_costs"]

MINORITY_CLIENTS = ("c0", "c1")   # the clients cut off with the small side


def _check_config(config) -> None:
    if not isinstance(config, RaftConfig):
        raise TypeError(f"config must be a RaftConfig, got {type(config).__name__}")
WARMUP = 0.5   # seconds: latency counts operations invoked later (Raft elects a leader first)


def _seeds(seeds) -> list[int]:
    seeds = [count(f"seeds[{i}]", s) for i, s in enumerate(sequence("seeds", seeds))]
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    return seeds


def random_faults(seed: int, servers: int, clients: int, duration: float) -> tuple:
    """A seeded fault schedule over ``duration`` seconds: up to two crashes of random
    servers (each recovered 50–500 ms later, or never, one time in five) and up to two
    partitions, each cutting off a random minority of the servers with a random half of
    the clients, healed 50–600 ms later. Returns a tuple of ``NetworkFault`` in time
    order. ``servers`` and ``clients`` are bounded as in :class:`RaftConfig` and
    :class:`RaftWorkload`; TypeError/ValueError name a bad argument."""
    rng = random.Random(count("seed", seed))
    servers = count("servers", servers, minimum=1, maximum=MAX_SERVERS)
    clients = count("clients", clients, maximum=MAX_CLIENTS)
    duration = number("duration", duration, minimum=0, strict=True)
    faults = []
    for _ in range(rng.randint(0, 2)):
        victim, start = rng.randrange(servers), rng.uniform(0, duration)
        faults.append(NetworkFault(start, "crash", victim))
        if rng.random() < 0.8:
            faults.append(NetworkFault(start + rng.uniform(0.05, 0.5), "recover", victim))
    for _ in range(rng.randint(0, 2)):
        cut_off = rng.sample(range(servers), rng.randint(1, max(1, servers // 2)))
        side = sorted(cut_off) + [f"c{c}" for c in range(clients) if rng.random() < 0.5]
        start = rng.uniform(0, duration)
        faults.append(NetworkFault(start, "partition", (tuple(side),)))
        faults.append(NetworkFault(start + rng.uniform(0.05, 0.6), "heal"))
    return tuple(sorted(faults, key=lambda f: f.time))


def _cut_leader_off(cluster: RaftCluster) -> list:
    """Partition five servers 2 | 3 now, with the leader, the lowest-numbered other
    server and clients c0, c1 on the small side. Returns the small side's servers."""
    leader = cluster.leader()
    if leader is None:
        raise ValueError(f"no leader yet at {cluster.sim.now:g} s; cut later")
    minority = sorted({leader, min(s for s in range(cluster.config.servers) if s != leader)})
    majority = [s for s in range(cluster.config.servers) if s not in minority]
    clients = [c.name for c in cluster.clients]
    small = tuple(minority) + tuple(c for c in clients if c in MINORITY_CLIENTS)
    large = tuple(majority) + tuple(c for c in clients if c not in MINORITY_CLIENTS)
    NetworkFault(cluster.sim.now, "partition", (small, large)).apply(cluster.net)
    return minority


def partition_counts(seed: int = 0, *, config: RaftConfig = RaftConfig(), cut: float = 0.5,
                     length: float = 2.0, settle: float = 1.0) -> dict:
    """Five servers and five clients; at ``cut`` seconds the leader, one more server and
    clients c0, c1 are cut off from the other three servers and clients for ``length``
    seconds; clients stop when the partition heals; the run goes on ``settle`` seconds.

    Returns counts (times in virtual ms): writes each side invoked during the partition
    and how many committed before the heal; how many entries the old leader appended
    while cut off that it saw committed (an entry it held before the cut may still commit:
    a late acknowledgement from its own side can complete a majority); when the majority
    elected a leader; when, after the heal, every log became (and stayed) equal and fully
    committed (None if not within ``settle``). ``TypeError``/``ValueError`` naming an
    argument that is not of its kind or range (``config`` a 5-server RaftConfig).
    """
    _check_config(config)
    if config.servers != 5:
        raise ValueError(f"config.servers must be 5 for a 2 | 3 partition, got {config.servers}")
    cut, length = number("cut", cut, minimum=0), number("length", length, minimum=0, strict=True)
    settle = number("settle", settle, minimum=0)
    heal = cut + length
    cluster = RaftCluster(config, RaftWorkload(clients=5, duration=heal), seed)
    cluster.run_until(cut)
    minority = _cut_leader_off(cluster)
    old = cluster.servers[cluster.leader()]
    old_term, appended_before = old.term, old.last_index
    cluster.run_until(heal)
    committed_while_cut = max(0, old.commit_index - appended_before)
    NetworkFault(heal, "heal").apply(cluster.net)
    equal_since, t = None, heal
    while t < heal + settle:
        t = min(t + 0.010, heal + settle)
        cluster.run_until(t)
        equal = cluster.logs_equal()
        equal_since = (equal_since or t) if equal else None
    elected = [ms for ms, term, name in cluster.leaders
               if ms >= cut * 1000 and term > old_term and name not in minority]
    counts = {"old leader": old.name, "minority": minority}
    for side in ("minority", "majority"):
        writes = [o for o in cluster.ops if o.kind == "write" and cut * 1000 <= o.invoke
                  < heal * 1000 and (f"c{o.client}" in MINORITY_CLIENTS) == (side == "minority")]
        counts[f"{side} writes"] = len(writes)
        counts[f"{side} writes committed"] = sum(o.complete is not None
                                                 and o.complete <= heal * 1000 for o in writes)
    counts["entries appended while cut off, committed"] = committed_while_cut
    counts["majority leader after (ms)"] = round(elected[0] - cut * 1000, 1) if elected else None
    counts["logs equal after heal (ms)"] = (None if equal_since is None
                                            else round((equal_since - heal) * 1000, 1))
    return counts


def failover(seeds=range(20), *, config: RaftConfig = RaftConfig(), crash: float = 0.5):
    """Crash the leader at ``crash`` seconds on each seed, with three clients writing and
    reading; measure how long until another server wins an election. Returns a pandas
    DataFrame, one row per seed: the old and new leader, the new term, the time to a new
    leader (virtual ms) and that time in maximum election timeouts. ``seeds`` a
    non-empty list of ints ≥ 0, ``config`` a :class:`RaftConfig`, ``crash`` ≥ 0 seconds;
    TypeError/ValueError naming the argument otherwise."""
    import pandas as pd

    _check_config(config)
    crash = number("crash", crash, minimum=0)
    rows = []
    for seed in _seeds(seeds):
        cluster = RaftCluster(config, RaftWorkload(clients=3, duration=crash + 2.0), seed)
        cluster.run_until(crash)
        old = cluster.leader()
        if old is None:
            raise ValueError(f"no leader by crash={crash} s on seed {seed}; crash later")
        NetworkFault(crash, "crash", old).apply(cluster.net)
        t = crash
        while not any(ms > crash * 1000 for ms, _, _ in cluster.leaders) and t < crash + 2.0:
            t += 0.005
            cluster.run_until(t)
        ms, term, new = next(((ms, term, name) for ms, term, name in cluster.leaders
                              if ms > crash * 1000), (None, None, None))
        after = None if ms is None else round(ms - crash * 1000, 1)
        rows.append({"seed": seed, "old leader": old, "new leader": new, "term": term,
                     "new leader after (ms)": after,
                     "election timeouts": None if after is None
                     else round(after / (config.election_max * 1000), 2)})
    return pd.DataFrame(rows).set_index("seed")


def _side_rates(ops, minority: set, start_ms: float, end_ms: float) -> dict:
    """Share of operations invoked in [start, end] that completed, per side, and the p99
    latency of those that completed on the majority side. ``ops`` are (client, invoke ms,
    complete ms or None)."""
    out, took = {}, {}
    for side in ("minority", "majority"):
        mine = [(invoke, done) for client, invoke, done in ops
                if start_ms <= invoke <= end_ms and (client in minority) == (side == "minority")]
        took[side] = [done - invoke for invoke, done in mine if done is not None]
        out[f"succeeded, {side} side"] = round(len(took[side]) / len(mine), 3) if mine else np.nan
    late = took["majority"]
    out["majority side p99 (ms)"] = round(float(np.percentile(late, 99)), 1) if late else np.nan
    return out


def _percentiles(ops, kind: str) -> dict:
    """Median and p99 latency (virtual ms) of the completed operations of one kind."""
    took = [done - invoke for k, invoke, done in ops if k == kind and done is not None]
    p50, p99 = np.percentile(took, [50, 99]) if took else (np.nan, np.nan)
    return {f"{kind} p50 (ms)": round(float(p50), 1), f"{kind} p99 (ms)": round(float(p99), 1)}


def _raft_runs(reads: str, seed: int, timeout: float, cut: float, heal: float):
    """One calm run and one 2 | 3 partition run of the log: two ``RaftRun``s."""
    config = RaftConfig(reads=reads, timeout=timeout)
    calm = run(config, seed=seed, workload=RaftWorkload(clients=5, duration=WARMUP + 1.0))
    cluster = RaftCluster(config, RaftWorkload(clients=5, duration=heal + 0.5), seed)
    cluster.run_until(cut)
    _cut_leader_off(cluster)
    cluster.run_until(heal)
    NetworkFault(heal, "heal").apply(cluster.net)
    cluster.run_until(heal + 0.5 + timeout)
    return calm, cluster.result()


def _store_runs(stores, config, seed: int, cut: float, heal: float):
    """One calm run and one run cut (0, 1) | (2, 3, 4) of a store; client i works
    through replica i, so clients c0, c1 sit on the small side."""
    split = (NetworkFault(cut, "partition", ((0, 1), (2, 3, 4))), NetworkFault(heal, "heal"))
    calm = stores.run(config, seed=seed, faults=(),
                      workload=stores.Workload(clients=5, duration=WARMUP + 1.0))
    cut_run = stores.run(config, seed=seed, faults=split,
                         workload=stores.Workload(clients=5, duration=heal + 0.5))
    return calm, cut_run


def consistency_costs(seeds=range(3), *, timeout: float = 0.5, cut: float = 0.5,
                      heal: float = 2.0):
    """The replicated log beside the quorum store and the eventual store, five replicas
    each, the same network (5–15 ms one way) and client deadline (``timeout`` s).

    Latency: five clients, no faults; median and p99 (virtual ms) of the writes and reads
    invoked between 0.5 and 1.5 s that completed. Availability: the same clients while
    the replicas are cut 2 | 3 from ``cut`` to ``heal`` seconds, clients c0, c1 on the
    small side (with the Raft leader); the share of operations invoked in
    [cut, heal − timeout] (so each one's fate is decided during the partition) that
    succeeded. ``linearizable`` counts the runs (calm and cut, per seed) whose history the
    checker accepted. The stores place each client at its coordinator replica (no client
    hop is timed); Raft clients are network nodes and pay a round trip to the leader.
    Returns a pandas DataFrame, one row per system; TypeError/ValueError name a bad
    argument.
    """
    import pandas as pd

    from distlab.apps import stores

    seeds = _seeds(seeds)
    timeout = number("timeout", timeout, minimum=0, strict=True)
    cut, heal = number("cut", cut, minimum=0), number("heal", heal, minimum=0)
    if heal - timeout <= cut:
        raise ValueError(f"heal must come more than timeout={timeout} s after cut={cut}")
    quorum = stores.StoreConfig(n=5, r=3, w=3, replication="sync", timeout=timeout)
    eventual = stores.StoreConfig(n=5, r=1, w=1, replication="async", timeout=timeout)
    systems = [   # (label, is the client hop timed?, seed -> (calm run, cut run))
        ("replicated log (Raft, ReadIndex reads)", "yes",
         lambda seed: _raft_runs("read_index", seed, timeout, cut, heal)),
        ("replicated log (Raft, reads through the log)", "yes",
         lambda seed: _raft_runs("log", seed, timeout, cut, heal)),
        ("quorum store (N=5, R=W=3, two phases)", "no (client at a replica)",
         lambda seed: _store_runs(stores, quorum, seed, cut, heal)),
        ("eventual store (N=5, R=W=1, async)", "no (client at a replica)",
         lambda seed: _store_runs(stores, eventual, seed, cut, heal)),
    ]
    rows = []
    for label, hop, runs_of in systems:
        timed, sided, ok = [], [], 0
        for seed in seeds:
            calm, cut_run = runs_of(seed)
            timed += [(o.kind, o.invoke, o.complete) for o in _ops(calm)
                      if o.invoke >= WARMUP * 1000]
            sided += [(o.process.rstrip("'"), o.invoke, o.complete) for o in _ops(cut_run)]
            ok += calm.linearizable + cut_run.linearizable
        rows.append({"system": label, **_percentiles(timed, "write"),
                     **_percentiles(timed, "read"),
                     **_side_rates(sided, set(MINORITY_CLIENTS), cut * 1000,
                                   (heal - timeout) * 1000),
                     "linearizable": f"{ok}/{2 * len(seeds)}", "client hop timed": hop})
    return pd.DataFrame(rows).set_index("system")


def _ops(outcome) -> list:
    """The operations of a run of either kind (``RaftRun.ops`` or a store ``Run.history``)."""
    return list(outcome.ops) if hasattr(outcome, "ops") else list(outcome.history)
