"""The replicated store itself: replicas, coordinators and clients on the simulator.

N replicas of one key, clients that read and write through a coordinator replica, on the
deterministic simulator of :mod:`distlab.concepts.events` with its seeded network,
crashes and partitions. :func:`distlab.apps.stores.run` builds a :class:`SimulatedStore`
from a configuration, runs it and measures the history it records.

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

An eventual store's clients can still be given **session guarantees** (Terry et al.,
"Session Guarantees for Weakly Consistent Replicated Data", PDIS 1994): read your writes
and monotonic reads. Without them (``sessions="none"``) a client that fails over to
another replica, or comes back to its own after a crash, may read older data than it
wrote or read before. ``sessions="sticky"`` keeps each client on its own replica (and
makes it wait while that replica is down); ``sessions="versioned"`` lets it move, but the
client carries the newest version it has seen: its writes get a higher version, and a
read accepts only replies at least that new (Terry et al.'s read and write sets, reduced
to one version for one key).

Times inside the simulator are seconds; histories and metrics are in milliseconds.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from distlab.apps.stores.config import Fault, StoreConfig, Workload
from distlab.checks import sequence
from distlab.concepts.events import MessageNetwork, Simulator
from distlab.concepts.linearizability import Op


class Version(NamedTuple):
    """Lamport counter, then client and the client's operation number to break ties."""
    counter: int
    client: int
    seq: int


INITIAL = Version(0, -1, -1)


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


def _check_setup(config, workload, faults) -> tuple:
    """The faults as a tuple, once config, workload and every fault are checked."""
    if not isinstance(config, StoreConfig):
        raise TypeError(f"config must be a StoreConfig, got {type(config).__name__}")
    if not isinstance(workload, Workload):
        raise TypeError(f"workload must be a Workload, got {type(workload).__name__}")
    faults = tuple(sequence("faults", faults))
    for f in faults:
        if not isinstance(f, Fault):
            raise TypeError(f"faults must hold Fault objects, got {type(f).__name__}")
        for i in f.nodes():
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < config.n:
                raise ValueError(f"faults: {f.action!r} names replica {i!r}, but replicas "
                                 f"are 0 … {config.n - 1}")
    return faults


class SimulatedStore:
    """The replicas, the clients and the protocol, on one simulator: build it, call
    :meth:`run`, then read ``history``, ``timed_out``, ``agree_since``,
    ``last_write_done`` and ``versions`` (each written value's :class:`Version`): what
    :func:`distlab.apps.stores.run` measures. Arguments and errors as that function's
    (``faults`` here a list of :data:`~distlab.apps.stores.config.Fault`)."""

    def __init__(self, config: StoreConfig, workload: Workload, faults, seed: int):
        faults = _check_setup(config, workload, faults)
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
        self.versions: dict = {}                  # each written value's version
        self.seen = [INITIAL] * workload.clients  # newest version each client wrote or read
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
        fault.apply(self.net)
        if fault.action == "crash":
            # The coordinator's in-flight operations die with it; their clients time out.
            for op in self.ops.values():
                if op.coordinator == fault.target:
                    op.phase = "abandoned"

    # -- clients and coordinators ----------------------------------------------------------
    def _coordinator(self, client: int) -> int | None:
        n = self.cfg.n
        if self.cfg.sessions == "sticky":          # never fail over: wait for its replica
            return client % n if self.net.is_alive(client % n) else None
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
            if self.cfg.sessions == "versioned":   # newer than all this client has seen
                self.clock[i] = max(self.clock[i], self.seen[c].counter)
            self.clock[i] += 1
            version = Version(self.clock[i], c, op.seq)
            self.versions[value] = version
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
            if self.cfg.sessions == "versioned" and p["version"] < self.seen[op.client]:
                return        # older than this client's session: wait for a newer reply
            op.replies.append((p["version"], p["value"]))
            if len(op.replies) < self.cfg.r:
                return
            newest = max(op.replies, key=lambda vv: vv[0])
            if op.kind == "write":                       # sync write: phase 2, a higher version
                version = Version(newest[0].counter + 1, op.client, op.seq)
                self.versions[op.value] = version
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
        self.seen[op.client] = max(self.seen[op.client], op.chosen[0])
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
