"""Strong versus eventual consistency on a replicated key-value store you can break.

The document (2.2) says: strong consistency — every node reads and writes the same data,
at a cost in performance; eventual consistency — data may differ for a while, but agrees
in the end. This module makes both concrete on the deterministic simulator
(``distlab.concepts.events``): N replicas of a key-value store, clients that read and write through a
coordinator replica, a seeded network, a replica crash and a network partition. Every run
records its history of operations, so ``check_linearizable`` can judge it, and measures
what each choice costs.

Naive first, then better:

- ``replication="async"`` (eventual): the coordinator writes locally, answers the client
  once W replicas (itself included) have the write, and sends it to the others in the
  background; reads ask R replicas and return the newest version they hold. Versions are
  Lamport clocks (Lamport, "Time, Clocks, and the Ordering of Events", CACM 1978) and the
  newest version wins (last-writer-wins). Replicas that missed a write — a dropped
  message, a crash, a partition — catch up by **anti-entropy**: every so often each
  replica swaps its whole state with a random peer and keeps the newer version of each
  key (Demers et al., "Epidemic Algorithms for Replicated Database Maintenance", PODC
  1987; Amazon's Dynamo, SOSP 2007, uses quorums, versions and anti-entropy the same way).
  Fast, always available, and reads can be stale.
- ``replication="sync"`` (strong): quorums with R + W > N, so every read quorum meets every
  write quorum, and the two-phase protocol of Attiya, Bar-Noy and Dolev ("Sharing Memory
  Robustly in Message-Passing Systems", JACM 1995; multi-writer form in Lynch & Shvartsman
  1997): a write first asks R replicas for the highest version, then stores a higher one at
  W replicas before it returns; a read asks R replicas and, unless W of them already hold
  the newest version, writes it back to W replicas before it returns. Every history is
  linearizable — and operations cost two round trips, and stop (time out) on the side of a
  partition that cannot reach a quorum (Brewer's CAP: Gilbert & Lynch, SIGACT News 2002).

Times inside the simulator are seconds; histories and metrics are in milliseconds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from numbers import Real
from typing import Iterable, NamedTuple

from distlab.concepts.linearizability import Op, Verdict, check_linearizable
from distlab.concepts.events import Latency, MessageNetwork, Simulator

__all__ = ["StoreConfig", "Workload", "Fault", "Run", "run", "standard_faults", "STRONG",
           "EVENTUAL", "tradeoff", "check_linearizable", "stale_reads", "REPLICATION",
           "with_changes"]

REPLICATION = ("sync", "async")


class Version(NamedTuple):
    """Lamport counter, then client and the client's operation number to break ties."""
    counter: int
    client: int
    seq: int


INITIAL = Version(0, -1, -1)


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def _seconds(value, name: str, *, allow_zero=False) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of seconds, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'non-negative' if allow_zero else 'positive'} "
                         f"seconds, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class StoreConfig:
    """N replicas, read quorum R, write quorum W, and how writes are replicated.

    ``latency`` is the one-way network delay, ``drop`` the probability a message is
    lost, ``anti_entropy`` the seconds between a replica's state swaps (None: never),
    ``timeout`` how long a client waits before giving up on an operation.
    """
    n: int = 3
    r: int = 2
    w: int = 2
    replication: str = "sync"
    latency: Latency = Latency(base=0.005, jitter=0.010)
    drop: float = 0.0
    anti_entropy: float | None = 0.050
    timeout: float = 0.300

    def __post_init__(self):
        _positive_int(self.n, "n (replicas)")
        _positive_int(self.r, "r (read quorum)")
        _positive_int(self.w, "w (write quorum)")
        if self.r > self.n:
            raise ValueError(f"r (read quorum) must be at most n={self.n} replicas, got {self.r}")
        if self.w > self.n:
            raise ValueError(f"w (write quorum) must be at most n={self.n} replicas, got {self.w}")
        if self.replication not in REPLICATION:
            raise ValueError(f"replication must be one of {', '.join(REPLICATION)}; "
                             f"got {self.replication!r}")
        if self.replication == "sync" and self.r + self.w <= self.n:
            raise ValueError(f"replication='sync' (strong) needs R + W > N so that every read "
                             f"quorum meets every write quorum; got R={self.r}, W={self.w}, "
                             f"N={self.n}")
        if not isinstance(self.latency, Latency):
            raise TypeError(f"latency must be a distlab.concepts.events.Latency, "
                            f"got {type(self.latency).__name__}")
        if isinstance(self.drop, bool) or not isinstance(self.drop, Real) \
                or not 0 <= self.drop < 1:
            raise ValueError(f"drop must be a probability in [0, 1), got {self.drop!r}")
        if self.anti_entropy is not None:
            _seconds(self.anti_entropy, "anti_entropy")
        _seconds(self.timeout, "timeout")

    @property
    def label(self) -> str:
        mode = "strong" if self.replication == "sync" else "eventual"
        return f"{mode} (N={self.n}, R={self.r}, W={self.w}, {self.replication})"


#: The two settings the chapter compares.
STRONG = StoreConfig(n=3, r=2, w=2, replication="sync")
EVENTUAL = StoreConfig(n=3, r=1, w=1, replication="async")


@dataclass(frozen=True)
class Workload:
    """``clients`` processes, each doing one operation at a time until ``duration``
    seconds: a read with probability ``read_fraction``, else a write of a fresh value,
    after an exponential think time of mean ``think`` seconds. Client i works through
    replica i mod N (its coordinator), or the next live one if that one is down."""
    clients: int = 3
    duration: float = 1.0
    read_fraction: float = 0.5
    think: float = 0.020

    def __post_init__(self):
        _positive_int(self.clients, "clients")
        _seconds(self.duration, "duration")
        _seconds(self.think, "think")   # > 0, so that virtual time moves on
        if isinstance(self.read_fraction, bool) or not isinstance(self.read_fraction, Real) \
                or not 0 <= self.read_fraction <= 1:
            raise ValueError(f"read_fraction must be in [0, 1], got {self.read_fraction!r}")


FAULT_ACTIONS = ("crash", "recover", "partition", "heal")


@dataclass(frozen=True)
class Fault:
    """At ``time`` seconds: ``"crash"``/``"recover"`` replica ``target`` (an index), or
    ``"partition"`` the replicas into ``target`` (a tuple of groups of indices), or
    ``"heal"`` the partition."""
    time: float
    action: str
    target: object = None

    def __post_init__(self):
        _seconds(self.time, "time", allow_zero=True)
        if self.action not in FAULT_ACTIONS:
            raise ValueError(f"action must be one of {', '.join(FAULT_ACTIONS)}; "
                             f"got {self.action!r}")

    def __str__(self) -> str:
        if self.action == "partition":
            sides = " | ".join("{" + ", ".join(map(str, g)) + "}" for g in self.target)
            return f"{self.time * 1000:g} ms: partition {sides}"
        what = "" if self.target is None else f" replica {self.target}"
        return f"{self.time * 1000:g} ms: {self.action}{what}"


def standard_faults(n: int, duration: float = 1.0) -> tuple[Fault, ...]:
    """The chapter's fault schedule for N replicas over ``duration`` seconds: the last
    replica crashes at 20 % and recovers at 40 %; from 55 % to 80 % replica 0 is cut off
    from the others. With one replica there is nothing to cut: no faults."""
    _positive_int(n, "n")
    duration = _seconds(duration, "duration")
    if n == 1:
        return ()
    return (Fault(0.20 * duration, "crash", n - 1), Fault(0.40 * duration, "recover", n - 1),
            Fault(0.55 * duration, "partition", ((0,), tuple(range(1, n)))),
            Fault(0.80 * duration, "heal"))


@dataclass
class _Operation:
    id: int
    client: int
    kind: str
    value: object
    coordinator: int
    invoke: float
    seq: int
    phase: str = "query"
    replies: list = field(default_factory=list)
    done: bool = False
    chosen: tuple = (INITIAL, None)   # the (version, value) a read returns / writes back


@dataclass(frozen=True)
class Run:
    """One simulated run: its history (times in ms), what it measured, and the network's
    message counts. ``result`` is the linearizability verdict on the history."""
    config: StoreConfig
    seed: int
    history: tuple[Op, ...]
    result: Verdict
    metrics: dict
    messages: dict
    faults: tuple[Fault, ...]

    @property
    def linearizable(self) -> bool:
        return self.result.ok


class _Store:
    """The replicas, the clients and the protocol, on one simulator."""

    def __init__(self, config: StoreConfig, workload: Workload, faults, seed: int):
        self.cfg, self.workload = config, workload
        self.sim = Simulator(seed)
        self.net = MessageNetwork(self.sim, latency=config.latency, drop=config.drop)
        n = config.n
        self.data = [(INITIAL, None)] * n          # each replica's (version, value) of the key
        self.clock = [0] * n                      # each replica's Lamport clock
        for i in range(n):
            self.net.add_node(i, self._handler(i))
        self.ops: dict[int, _Operation] = {}
        self.history: list[Op] = []
        self.timed_out = 0
        self.next_value = 1
        self.clients_done = 0
        self.last_write_done = 0.0
        self.agree_since: float | None = 0.0      # when the replicas last became identical
        for f in faults:
            self.sim.at(f.time, self._fault, f)
        if config.anti_entropy is not None and n > 1:
            for i in range(n):
                self.sim.schedule(self.sim.rng.uniform(0, config.anti_entropy),
                                  self._anti_entropy_tick, i)
        self.op_seq = [0] * workload.clients
        self.incarnation = [0] * workload.clients
        for c in range(workload.clients):
            self._next(c)

    # -- replicas ---------------------------------------------------------------------------
    def _store(self, i: int, version: Version, value) -> None:
        self.clock[i] = max(self.clock[i], version.counter)
        if version > self.data[i][0]:
            self.data[i] = (version, value)
            self._changed()

    def _changed(self) -> None:
        identical = all(d == self.data[0] for d in self.data)
        if identical and self.agree_since is None:
            self.agree_since = self.sim.now
            self._maybe_stop()
        elif not identical:
            self.agree_since = None

    def _handler(self, i: int):
        def handle(message):
            p = message.payload
            kind = p["type"]
            if kind == "get":
                version, value = self.data[i]
                self.net.send(i, message.src, {"type": "got", "op": p["op"], "phase": p["phase"],
                                               "version": version, "value": value})
            elif kind == "put":
                self._store(i, p["version"], p["value"])
                self.net.send(i, message.src, {"type": "ack", "op": p["op"], "phase": p["phase"]})
            elif kind in ("sync", "sync-reply"):
                if kind == "sync":
                    version, value = self.data[i]
                    self.net.send(i, message.src, {"type": "sync-reply", "version": version,
                                                   "value": value})
                self._store(i, p["version"], p["value"])
            elif kind in ("got", "ack"):
                self._reply(i, p)
        return handle

    def _anti_entropy_tick(self, i: int) -> None:
        if self.net.is_alive(i):
            peer = self.sim.rng.choice([j for j in range(self.cfg.n) if j != i])
            version, value = self.data[i]
            self.net.send(i, peer, {"type": "sync", "version": version, "value": value})
        self.sim.schedule(self.cfg.anti_entropy, self._anti_entropy_tick, i)

    def _fault(self, fault: Fault) -> None:
        if fault.action == "crash":
            self.net.crash(fault.target)
            # The coordinator's in-flight operations die with it; their clients time out.
            for op in self.ops.values():
                if op.coordinator == fault.target:
                    op.phase = "abandoned"
        elif fault.action == "recover":
            self.net.recover(fault.target)
        elif fault.action == "partition":
            self.net.partition(*fault.target)
        else:
            self.net.heal()

    # -- clients and coordinators ----------------------------------------------------------
    def _coordinator(self, client: int) -> int | None:
        n = self.cfg.n
        for k in range(n):
            candidate = (client + k) % n
            if self.net.is_alive(candidate):
                return candidate
        return None

    def _invoke(self, c: int) -> None:
        if self.sim.now >= self.workload.duration:
            self.clients_done += 1
            self._maybe_stop()
            return
        kind = "read" if self.sim.rng.random() < self.workload.read_fraction else "write"
        value = None
        if kind == "write":
            value, self.next_value = self.next_value, self.next_value + 1
        self.op_seq[c] += 1
        coordinator = self._coordinator(c)
        op = _Operation(len(self.ops), c, kind, value, coordinator, self.sim.now, self.op_seq[c])
        self.ops[op.id] = op
        self.sim.schedule(self.cfg.timeout, self._expire, op)
        if coordinator is None:
            return            # no replica is up: the client can only wait for its timeout
        if kind == "write" and self.cfg.replication == "async":
            i = coordinator
            self.clock[i] += 1
            version = Version(self.clock[i], c, op.seq)
            op.chosen, op.phase = (version, value), "store"
            self._store(i, version, value)
            op.replies.append(i)
            self._maybe_finish(op, self.cfg.w)     # W = 1: done at once, before replicating
            for j in range(self.cfg.n):
                if j != i:
                    self.net.send(i, j, {"type": "put", "op": op.id, "phase": "store",
                                         "version": version, "value": value})
        else:
            self._broadcast(op, {"type": "get", "op": op.id, "phase": "query"})

    def _broadcast(self, op: _Operation, payload: dict) -> None:
        for j in range(self.cfg.n):
            self.net.send(op.coordinator, j, payload)

    def _reply(self, i: int, p: dict) -> None:
        op = self.ops[p["op"]]
        if op.done or op.coordinator != i or op.phase != p["phase"]:
            return            # late, or for a phase (or a coordinator) that is gone
        if p["type"] == "got":
            self.clock[i] = max(self.clock[i], p["version"].counter)
            op.replies.append((p["version"], p["value"]))
            if len(op.replies) < self.cfg.r:
                return
            newest = max(op.replies, key=lambda vv: vv[0])
            if op.kind == "write":                       # sync write: phase 2, a higher version
                version = Version(newest[0].counter + 1, op.client, op.seq)
                self._start_store(op, (version, op.value))
            elif self.cfg.replication == "async" or \
                    sum(v == newest[0] for v, _ in op.replies) >= self.cfg.w:
                op.chosen = newest
                self._finish(op)
            else:                                        # sync read: write the newest back
                self._start_store(op, newest)
        else:
            op.replies.append(i)
            self._maybe_finish(op, self.cfg.w)

    def _start_store(self, op: _Operation, chosen: tuple) -> None:
        op.chosen, op.phase, op.replies = chosen, "store", []
        version, value = chosen
        self._broadcast(op, {"type": "put", "op": op.id, "phase": "store",
                             "version": version, "value": value})

    def _maybe_finish(self, op: _Operation, needed: int) -> bool:
        if len(op.replies) >= needed:
            self._finish(op)
            return True
        return False

    def _finish(self, op: _Operation) -> None:
        op.done = True
        value = op.value if op.kind == "write" else op.chosen[1]
        self.history.append(Op(self._process(op.client), op.kind, value, _ms(op.invoke),
                               _ms(self.sim.now)))
        if op.kind == "write":
            self.last_write_done = max(self.last_write_done, self.sim.now)
        self._next(op.client)

    def _next(self, client: int) -> None:
        think = self.workload.think
        self.sim.schedule(self.sim.rng.expovariate(1 / think), self._invoke, client)

    def _expire(self, op: _Operation) -> None:
        if op.done:
            return
        op.done, op.phase = True, "timed out"
        self.timed_out += 1
        # A write that timed out may still take effect later: its outcome is unknown.
        self.history.append(Op(self._process(op.client), op.kind, op.value, _ms(op.invoke),
                               None))
        # As in Jepsen, a client whose operation has an unknown outcome carries on as a
        # new process ("c0", then "c0'"), so every process stays sequential.
        self.incarnation[op.client] += 1
        self._next(op.client)

    def _process(self, client: int) -> str:
        return f"c{client}" + "'" * self.incarnation[client]

    def _maybe_stop(self) -> None:
        if self.clients_done == self.workload.clients and self.agree_since is not None:
            self.sim.stop()

    def run(self) -> None:
        horizon = self.workload.duration + max(5.0, 20 * (self.cfg.anti_entropy or 0))
        self.sim.run(until=horizon)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 6)


def stale_reads(history: Iterable[Op]) -> list[tuple[Op, Op]]:
    """Reads that returned a value already overwritten before they began.

    A read is stale when some write completed before the read was invoked and had itself
    been invoked after the write whose value the read returned had completed (or the read
    returned the initial value). Returns (read, the newer write) pairs. Such a read is
    never linearizable; reads concurrent with writes are not counted.
    """
    history = list(history)
    writes = {o.value: o for o in history if o.kind == "write"}
    done_writes = [o for o in history if o.kind == "write" and o.complete is not None]
    found = []
    for read in history:
        if read.kind != "read" or read.complete is None:
            continue
        source = writes.get(read.value)
        source_end = -math.inf if read.value is None else \
            (math.inf if source is None or source.complete is None else source.complete)
        newer = [w for w in done_writes if w.complete < read.invoke and w.invoke > source_end]
        if newer:
            found.append((read, max(newer, key=lambda w: w.complete)))
    return found


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else math.nan


def run(config: StoreConfig = STRONG, *, seed: int = 0, workload: Workload = Workload(),
        faults: Iterable[Fault] | None = None) -> Run:
    """Simulate ``workload`` on a store set up by ``config`` under ``faults`` (default:
    ``standard_faults``), with every random choice drawn from ``seed``.

    The run goes on after the clients stop until every replica holds the same version
    (or 5 s of virtual time pass). ``metrics``: mean write and read latency (ms) of the
    operations that completed, the share of stale reads and of operations that timed out,
    the time from the last completed write until the replicas agreed (ms; inf if never),
    and the number of operations.
    """
    if not isinstance(config, StoreConfig):
        raise TypeError(f"config must be a StoreConfig, got {type(config).__name__}")
    if not isinstance(workload, Workload):
        raise TypeError(f"workload must be a Workload, got {type(workload).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    faults = standard_faults(config.n, workload.duration) if faults is None else tuple(faults)
    for f in faults:
        if not isinstance(f, Fault):
            raise TypeError(f"faults must hold Fault objects, got {type(f).__name__}")
        targets = []
        if f.action in ("crash", "recover"):
            targets = [f.target]
        elif f.action == "partition":
            if not isinstance(f.target, (tuple, list)):
                raise TypeError(f"a partition's target must be a tuple of groups, got {f.target!r}")
            targets = [i for group in f.target for i in group]
        for i in targets:
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < config.n:
                raise ValueError(f"fault {f.action!r} names replica {i!r}, but replicas are "
                                 f"0 … {config.n - 1}")
    store = _Store(config, workload, faults, seed)
    store.run()
    history = tuple(store.history)
    result = check_linearizable(history)
    completed = [o for o in history if o.complete is not None]
    reads = [o for o in completed if o.kind == "read"]
    stale = stale_reads(history)
    converged = store.agree_since is not None
    metrics = {
        "write latency (ms)": _mean(o.complete - o.invoke for o in completed if o.kind == "write"),
        "read latency (ms)": _mean(o.complete - o.invoke for o in reads),
        "stale reads (%)": 100 * len(stale) / len(reads) if reads else 0.0,
        "timed out (%)": 100 * store.timed_out / len(history) if history else 0.0,
        "convergence (ms)": (max(0.0, store.agree_since - store.last_write_done) * 1000
                             if converged else math.inf),
        "operations": len(history),
    }
    return Run(config, seed, history, result, metrics, dict(store.net.stats), faults)


def tradeoff(configs: dict | None = None, seeds: Iterable[int] = range(20), *,
             workload: Workload = Workload()):
    """The trade-off table: each configuration run on every seed under its standard
    faults; means over the seeds, and on how many seeds the history was linearizable,
    had a stale read, and converged. Returns a pandas DataFrame, one row per setting."""
    import pandas as pd

    configs = {"strong": STRONG, "eventual": EVENTUAL} if configs is None else dict(configs)
    if not configs:
        raise ValueError("configs must name at least one StoreConfig")
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    rows = []
    for name, config in configs.items():
        runs = [run(config, seed=s, workload=workload) for s in seeds]
        row = {"setting": name, "N/R/W": f"{config.n}/{config.r}/{config.w}",
               "replication": config.replication}
        for key in ("write latency (ms)", "read latency (ms)", "stale reads (%)",
                    "timed out (%)", "convergence (ms)"):
            row[key] = round(_mean(r.metrics[key] for r in runs), 1)
        row["linearizable"] = f"{sum(r.linearizable for r in runs)}/{len(runs)}"
        row["had a stale read"] = f"{sum(r.metrics['stale reads (%)'] > 0 for r in runs)}/{len(runs)}"
        row["converged"] = f"{sum(math.isfinite(r.metrics['convergence (ms)']) for r in runs)}/{len(runs)}"
        rows.append(row)
    return pd.DataFrame(rows).set_index("setting")


def with_changes(config: StoreConfig, **changes) -> StoreConfig:
    """A copy of ``config`` with some fields changed (validated again)."""
    return replace(config, **changes)
