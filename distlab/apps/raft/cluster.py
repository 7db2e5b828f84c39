"""A Raft cluster on the simulator: servers, clients that retry, faults, and the history.

``run(config, seed=..., workload=..., faults=...)`` builds ``config.servers`` Raft servers
(``distlab.apps.raft.server``) and ``workload.clients`` clients on one seeded
``MessageNetwork``, plays the faults, and returns a ``RaftRun``: every client operation
with its invocation and completion (virtual ms), each server's log and commit index, and
who became leader in which term. ``RaftRun.verdicts()`` judges each key's history with
the linearizability checker; a history of several keys is linearizable exactly when each
key's is (locality: Herlihy & Wing, TOPLAS 1990, Theorem 1).

A client sends its operation to the server it believes is leader; on a redirect it goes
to the leader named, on silence (``retry_after``) to the next server, and after
``timeout`` it gives up. A write it gave up on may still commit later, so its outcome is
unknown (``complete=None``); as in Jepsen, the client then carries on as a new process
(``c0`` becomes ``c0'``), so that each process stays sequential. Clients are nodes of the
network: a partition puts each one on a side, and the client–server hop costs latency.

Faults are ``distlab.concepts.network_faults.NetworkFault``s played on the network of
``distlab.concepts.events`` (crash, recover, partition, heal; random loss is the
network's ``drop``); the one thing added here is the loss of volatile state on a crash,
which the servers do in their ``on_recover`` hook.
"""
from __future__ import annotations

from dataclasses import dataclass

from distlab.apps.raft.config import RaftConfig, RaftWorkload
from distlab.apps.raft.server import LogEntry, RaftServer
from distlab.checks import count, number, sequence
from distlab.concepts.events import MessageNetwork, Simulator
from distlab.concepts.linearizability import Op, Verdict, check_linearizable
from distlab.concepts.network_faults import NetworkFault

__all__ = ["OpRecord", "RaftRun", "RaftCluster", "run"]


@dataclass(frozen=True)
class OpRecord:
    """One client operation: times in virtual ms; ``complete`` None if the client gave
    up; ``tries`` counts the requests it sent (first try, retries and redirects)."""
    client: int
    process: str
    key: int
    kind: str
    value: object
    invoke: float
    complete: float | None
    tries: int


@dataclass(frozen=True)
class RaftRun:
    """One simulated run: the operations, each server's final log and commit index, the
    elections won (ms, term, server) and the network's message counts."""
    config: RaftConfig
    seed: int
    ops: tuple[OpRecord, ...]
    logs: tuple[tuple[LogEntry, ...], ...]
    commit: tuple[int, ...]
    leaders: tuple[tuple[float, int, int], ...]
    messages: dict

    def histories(self) -> dict[int, list[Op]]:
        """Each key's history, as the linearizability checker reads it."""
        out: dict[int, list[Op]] = {}
        for o in self.ops:
            out.setdefault(o.key, []).append(Op(o.process, o.kind, o.value, o.invoke,
                                                o.complete))
        return out

    def verdicts(self) -> dict[int, Verdict]:
        return {key: check_linearizable(h) for key, h in sorted(self.histories().items())}

    @property
    def linearizable(self) -> bool:
        return all(self.verdicts().values())


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 6)


class _Client:
    """One client: an operation at a time, retried until it is answered or times out."""

    def __init__(self, index: int, cluster: "RaftCluster"):
        self.index, self.name, self.cluster = index, f"c{index}", cluster
        self.sim, self.net, self.cfg = cluster.sim, cluster.net, cluster.config
        self.target, self.seq, self.incarnation = index % self.cfg.servers, 0, 0
        self.op, self.timers = None, []
        self.net.add_node(self.name, self.receive)
        self._think()

    def _think(self) -> None:
        mean = self.cluster.workload.think
        self.sim.schedule(self.sim.rng.expovariate(1 / mean), self._invoke)

    def _invoke(self) -> None:
        load = self.cluster.workload
        if self.sim.now >= load.duration:
            self.cluster.client_done()
            return
        kind = "read" if self.sim.rng.random() < load.read_fraction else "write"
        key = self.sim.rng.randrange(load.keys)
        value = self.cluster.fresh_value() if kind == "write" else None
        self.seq += 1
        self.op = {"kind": kind, "key": key, "value": value, "seq": self.seq,
                   "invoke": self.sim.now, "tries": 0}
        self.timers = [self.sim.schedule(self.cfg.timeout, self._finish, None, False)]
        self._try()

    def _try(self) -> None:
        op = self.op
        op["tries"] += 1
        self.net.send(self.name, self.target, {"type": "request", "kind": op["kind"],
                                               "key": op["key"], "value": op["value"],
                                               "seq": op["seq"]})
        self.timers.append(self.sim.schedule(self.cfg.retry_after, self._next_server,
                                             op["seq"], op["tries"]))

    def _next_server(self, seq: int, tries: int) -> None:
        if self.op is not None and self.op["seq"] == seq and self.op["tries"] == tries:
            self.target = (self.target + 1) % self.cfg.servers
            self._try()

    def receive(self, message) -> None:
        p = message.payload
        if self.op is None or p["seq"] != self.op["seq"]:
            return                              # an answer to an operation given up on
        if p["type"] == "reply":
            self._finish(p["value"], True)
        elif p["leader"] is not None and p["leader"] != message.src:
            self.target = p["leader"]
            self._try()
        else:                                   # no leader known: wait a heartbeat, move on
            self.timers.append(self.sim.schedule(self.cfg.heartbeat, self._next_server,
                                                 self.op["seq"], self.op["tries"]))

    def _finish(self, value, answered: bool) -> None:
        op, self.op = self.op, None
        for timer in self.timers:
            timer.cancel()
        shown = value if answered and op["kind"] == "read" else op["value"]
        self.cluster.ops.append(OpRecord(
            self.index, self.name + "'" * self.incarnation, op["key"], op["kind"], shown,
            _ms(op["invoke"]), _ms(self.sim.now) if answered else None, op["tries"]))
        if not answered:
            self.incarnation += 1               # outcome unknown: carry on as a new process
        self._think()


class RaftCluster:
    """Servers ``0 … servers-1`` and clients ``"c0" …`` on one seeded simulator. Drive it
    with ``run_until`` and ``NetworkFault(...).apply(cluster.net)``. ``TypeError`` for a
    config or workload of another type, a seed that is not an int ≥ 0."""

    def __init__(self, config: RaftConfig, workload: RaftWorkload, seed: int):
        _check_settings(config, workload)
        self.config, self.workload = config, workload
        self.sim = Simulator(count("seed", seed))
        self.net = MessageNetwork(self.sim, latency=config.latency, drop=config.drop)
        self.leaders: list[tuple[float, int, int]] = []
        names = list(range(config.servers))
        self.servers = [RaftServer(i, names, self.net, config, self._elected) for i in names]
        self.ops: list[OpRecord] = []
        self._values, self._done, self.stop_when_idle = 0, 0, False
        self.clients = [_Client(c, self) for c in range(workload.clients)]

    def _elected(self, term: int, name: int) -> None:
        self.leaders.append((_ms(self.sim.now), term, name))

    def fresh_value(self) -> int:
        self._values += 1
        return self._values

    def client_done(self) -> None:
        self._done += 1
        if self._done == len(self.clients) and self.stop_when_idle:
            self.sim.stop()

    def leader(self) -> int | None:
        """The live server that believes it leads in the highest term, or None."""
        leading = [s for s in self.servers if s.role == "leader" and self.net.is_alive(s.name)]
        return max(leading, key=lambda s: s.term).name if leading else None

    def run_until(self, time: float) -> None:
        self.sim.run(until=time)

    def logs_equal(self) -> bool:
        """Every server holds the same log, all of it committed."""
        first = self.servers[0]
        return all(s.log == first.log and s.commit_index == len(first.log)
                   for s in self.servers)

    def result(self) -> RaftRun:
        return RaftRun(self.config, self.sim.seed, tuple(self.ops),
                       tuple(tuple(s.log) for s in self.servers),
                       tuple(s.commit_index for s in self.servers), tuple(self.leaders),
                       dict(self.net.stats))


def _check_settings(config, workload) -> None:
    if not isinstance(config, RaftConfig):
        raise TypeError(f"config must be a RaftConfig, got {type(config).__name__}")
    if not isinstance(workload, RaftWorkload):
        raise TypeError(f"workload must be a RaftWorkload, got {type(workload).__name__}")


def run(config: RaftConfig = RaftConfig(), *, seed: int = 0,
        workload: RaftWorkload = RaftWorkload(), faults=(), settle: float = 0.0) -> RaftRun:
    """Simulate ``workload`` on a Raft cluster under ``faults`` (``NetworkFault``s naming
    servers ``0 … servers-1`` and clients ``"c0" …``), every random choice drawn from
    ``seed`` (an int ≥ 0). With ``settle=0`` the run ends when the last client has
    finished; otherwise it goes on ``settle`` seconds after the last operation's deadline
    (time for the logs to converge). Checking the result (``.linearizable``) costs more
    than the run. Raises TypeError/ValueError naming a bad argument."""
    _check_settings(config, workload)
    settle = number("settle", settle, minimum=0)
    cluster = RaftCluster(config, workload, seed)
    for fault in sequence("faults", faults):
        if not isinstance(fault, NetworkFault):
            raise TypeError(f"faults must hold NetworkFault objects, got {type(fault).__name__}")
        allowed = cluster.net.nodes if fault.action == "partition" else range(config.servers)
        for node in fault.nodes():
            if node not in allowed:
                raise ValueError(f"faults: {fault} names {node!r}, which is not a "
                                 f"{'node' if fault.action == 'partition' else 'server'}")
        cluster.sim.at(fault.time, fault.apply, cluster.net)
    cluster.stop_when_idle = settle == 0
    # Every operation has ended by duration + timeout; a last think time may follow.
    cluster.run_until(workload.duration + config.timeout + (settle or 1.0))
    return cluster.result()
