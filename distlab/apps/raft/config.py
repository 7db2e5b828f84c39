"""What a Raft run is made of: the cluster's settings and the clients' workload.

Frozen dataclasses, checked when built (``distlab.checks``: TypeError or ValueError naming
the field). Times are seconds of virtual time. The defaults follow Ongaro & Ousterhout,
"In Search of an Understandable Consensus Algorithm", USENIX ATC 2014: election timeouts
drawn from 150–300 ms (§9.3) and heartbeats well inside them (§5.6, "broadcastTime ≪
electionTimeout ≪ MTBF"), on the same 5–15 ms network as ``distlab.apps.stores``.
"""
from __future__ import annotations

from dataclasses import dataclass

from distlab.checks import choice, count, fraction, positive
from distlab.concepts.events import Latency

__all__ = ["RaftConfig", "RaftWorkload", "READS", "MAX_SERVERS", "MAX_CLIENTS"]

READS = ("read_index", "log")
#: The most servers and clients a simulated run takes (every message is an event).
MAX_SERVERS = 99
MAX_CLIENTS = 999


@dataclass(frozen=True)
class RaftConfig:
    """``servers`` Raft servers; the network's ``latency`` (one way) and ``drop``
    probability; the ``heartbeat`` interval and the election timeout, drawn uniformly from
    [``election_min``, ``election_max``] (seconds; the paper's 150–300 ms, §9.3); how reads
    are served (``reads``: ``"read_index"`` or ``"log"``); how long a client waits for one
    server (``retry_after``) and for the whole operation (``timeout``). ``TypeError``/
    ``ValueError`` naming a field that is not of its kind or range."""
    servers: int = 5
    latency: Latency = Latency(base=0.005, jitter=0.010)
    drop: float = 0.0
    heartbeat: float = 0.050
    election_min: float = 0.150
    election_max: float = 0.300
    reads: str = "read_index"
    retry_after: float = 0.150
    timeout: float = 0.5

    def __post_init__(self):
        count("servers", self.servers, minimum=1, maximum=MAX_SERVERS)
        if not isinstance(self.latency, Latency):
            raise TypeError(f"latency must be a distlab.concepts.events.Latency, "
                            f"got {type(self.latency).__name__}")
        fraction("drop", self.drop, open_high=True)
        for name in ("heartbeat", "election_min", "election_max", "retry_after", "timeout"):
            positive(name, getattr(self, name))
        if not self.heartbeat < self.election_min < self.election_max:
            raise ValueError(f"election_min must lie between heartbeat and election_max "
                             f"(heartbeats must arrive well within an election timeout, "
                             f"§5.6); got heartbeat={self.heartbeat}, election_min="
                             f"{self.election_min}, election_max={self.election_max}")
        choice("reads", self.reads, READS)


@dataclass(frozen=True)
class RaftWorkload:
    """``clients`` clients, each doing one operation at a time until ``duration`` seconds,
    on one of ``keys`` keys at random: a read with probability ``read_fraction``, else a
    write of a value never written before, after an exponential think time of mean
    ``think`` seconds. ``TypeError``/``ValueError`` naming a field out of its kind or
    range."""
    clients: int = 3
    keys: int = 1
    duration: float = 1.0
    read_fraction: float = 0.5
    think: float = 0.020

    def __post_init__(self):
        count("clients", self.clients, minimum=1, maximum=MAX_CLIENTS)
        count("keys", self.keys, minimum=1)
        positive("duration", self.duration)
        positive("think", self.think)
        fraction("read_fraction", self.read_fraction)
