"""How a replicated store is set up, what its clients do, and what goes wrong.

Frozen, validated dataclasses and the chapter's two settings:

- :class:`StoreConfig`: N replicas, read quorum R, write quorum W, synchronous (strong)
  or asynchronous (eventual) replication, and the network (delay, drops, timeouts).
  ``STRONG`` (N=3, R=W=2, sync) and ``EVENTUAL`` (N=3, R=W=1, async) are the two the
  chapter compares.
- :class:`Workload`: clients doing reads and writes with think times between them.
- ``Fault`` (:class:`distlab.concepts.network_faults.NetworkFault`): a replica crash or
  recovery, a network partition or its healing, at a time; :func:`standard_faults` is
  the chapter's schedule.

Times are seconds of the simulator's virtual time.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from distlab.checks import choice, count, fraction, number
from distlab.concepts.events import Latency
from distlab.concepts.network_faults import FAULT_ACTIONS, NetworkFault

REPLICATION = ("sync", "async")
#: The most replicas a simulated store has (every message is an event; the explorer stops
#: at 7).
MAX_REPLICAS = 99
#: How an eventual store's clients keep their sessions (Terry et al., PDIS 1994): not at all,
#: by always using their own replica, or by carrying the newest version they have seen.
SESSIONS = ("none", "sticky", "versioned")


@dataclass(frozen=True)
class StoreConfig:
    """N replicas, read quorum R, write quorum W, and how writes are replicated.

    ``latency`` is the one-way network delay, ``drop`` the probability a message is
    lost, ``anti_entropy`` the seconds between a replica's state swaps (None: never),
    ``timeout`` how long a client waits before giving up on an operation. ``sessions``
    (async only) is how clients keep read-your-writes and monotonic reads: ``"none"``;
    ``"sticky"``, always through their own replica (while it is down they wait); or
    ``"versioned"``, carrying the newest version they wrote or read and accepting only
    replies at least that new. Raises ``TypeError``/``ValueError`` for an impossible
    setting, including a strong one without R + W > N, or sessions on a strong store
    (linearizability already implies both guarantees).
    """
    n: int = 3
    r: int = 2
    w: int = 2
    replication: str = "sync"
    latency: Latency = Latency(base=0.005, jitter=0.010)
    drop: float = 0.0
    anti_entropy: float | None = 0.050
    timeout: float = 0.300
    sessions: str = "none"

    def __post_init__(self):
        count("n (replicas)", self.n, minimum=1, maximum=MAX_REPLICAS)
        count("r (read quorum)", self.r, minimum=1)
        count("w (write quorum)", self.w, minimum=1)
        if self.r > self.n:
            raise ValueError(f"r (read quorum) must be at most n={self.n} replicas, got {self.r}")
        if self.w > self.n:
            raise ValueError(f"w (write quorum) must be at most n={self.n} replicas, got {self.w}")
        choice("replication", self.replication, REPLICATION)
        if self.replication == "sync" and self.r + self.w <= self.n:
            raise ValueError(f"replication='sync' (strong) needs R + W > N so that every read "
                             f"quorum meets every write quorum; got R={self.r}, W={self.w}, "
                             f"N={self.n}")
        if not isinstance(self.latency, Latency):
            raise TypeError(f"latency must be a distlab.concepts.events.Latency, "
                            f"got {type(self.latency).__name__}")
        fraction("drop", self.drop, open_high=True)
        if self.anti_entropy is not None:
            number("anti_entropy", self.anti_entropy, minimum=0, strict=True)
        number("timeout", self.timeout, minimum=0, strict=True)
        choice("sessions", self.sessions, SESSIONS)
        if self.replication == "sync" and self.sessions != "none":
            raise ValueError(f"sessions={self.sessions!r} needs replication='async': a strong "
                             "(sync) store is linearizable, which already gives every session "
                             "read-your-writes and monotonic reads")

    @property
    def label(self) -> str:
        mode = "strong" if self.replication == "sync" else "eventual"
        sessions = "" if self.sessions == "none" else f", {self.sessions} sessions"
        return f"{mode} (N={self.n}, R={self.r}, W={self.w}, {self.replication}{sessions})"


#: The two settings the chapter compares.
STRONG = StoreConfig(n=3, r=2, w=2, replication="sync")
EVENTUAL = StoreConfig(n=3, r=1, w=1, replication="async")


def with_changes(config: StoreConfig, **changes) -> StoreConfig:
    """A copy of ``config`` with some fields changed (validated again). ``TypeError`` for
    a config that is not a :class:`StoreConfig` or an unknown field; ``ValueError`` as
    :class:`StoreConfig`."""
    if not isinstance(config, StoreConfig):
        raise TypeError(f"config must be a StoreConfig, got {type(config).__name__}")
    return replace(config, **changes)


@dataclass(frozen=True)
class Workload:
    """``clients`` processes, each doing one operation at a time until ``duration``
    seconds: a read with probability ``read_fraction``, else a write of a fresh value,
    after an exponential think time of mean ``think`` seconds. Client i works through
    replica i mod N (its coordinator), or the next live one if that one is down.
    ``TypeError``/``ValueError`` naming a field that is not of that kind or range."""
    clients: int = 3
    duration: float = 1.0
    read_fraction: float = 0.5
    think: float = 0.020

    def __post_init__(self):
        count("clients", self.clients, minimum=1)
        number("duration", self.duration, minimum=0, strict=True)
        number("think", self.think, minimum=0, strict=True)   # > 0: virtual time moves on
        fraction("read_fraction", self.read_fraction)


#: A store's fault: at ``time`` seconds, crash or recover replica ``target`` (an index),
#: partition the replicas into ``target`` (a tuple of groups of indices), or heal.
Fault = NetworkFault


def standard_faults(n: int, duration: float = 1.0) -> tuple[Fault, ...]:
    """The chapter's fault schedule for N replicas over ``duration`` seconds: the last
    replica crashes at 20 % and recovers at 40 %; from 55 % to 80 % replica 0 is cut off
    from the others. With one replica there is nothing to cut: no faults. ``n`` an int in
    [1, :data:`MAX_REPLICAS`], ``duration`` > 0; ``TypeError``/``ValueError`` otherwise."""
    count("n", n, minimum=1, maximum=MAX_REPLICAS)
    duration = number("duration", duration, minimum=0, strict=True)
    if n == 1:
        return ()
    return (Fault(0.20 * duration, "crash", n - 1), Fault(0.40 * duration, "recover", n - 1),
            Fault(0.55 * duration, "partition", ((0,), tuple(range(1, n)))),
            Fault(0.80 * duration, "heal"))
