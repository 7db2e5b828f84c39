"""The one deterministic discrete-event simulator: virtual time, a seeded network, faults.

Every chapter that needs "many machines and a network" without real machines runs on
this module: the replicated key-value store of chapter 2.2, and later the serving
scenarios (latency, hedged requests). Nothing here sleeps or reads a clock: time is a
number that jumps from one event to the next, and every random choice comes from one
seeded generator, so a run is exactly reproducible and takes milliseconds.

Two classes, used together::

    sim = Simulator(seed=1)
    net = MessageNetwork(sim, latency=Latency(base=0.005, jitter=0.010), drop=0.01)
    net.add_node("a", handler_a)            # handler_a(message) is called on delivery
    net.add_node("b", handler_b)
    net.send("a", "b", {"op": "ping"})      # delivered after a seeded delay, maybe dropped
    sim.schedule(0.2, net.crash, "b")       # faults are events like any other
    sim.schedule(0.5, net.partition, {"a"}, {"b"})
    sim.run(until=1.0)

- ``Simulator``: the virtual clock, the event queue and the random generator. Events at
  the same instant run in the order they were scheduled, so ties never depend on hashing
  or on the machine.
- ``MessageNetwork``: named nodes and the messages between them. A message takes
  ``latency + size / bandwidth`` seconds; it is lost if the random drop says so, if the
  sender and receiver are on different sides of a partition (checked when it is sent and
  again when it arrives: a message in flight when the cable is cut is lost too), or if the
  receiver is crashed when it arrives. Messages may overtake each other, as on a real
  network (UDP, or TCP across reconnects); a protocol that needs order numbers its messages.
- A crashed node receives nothing, sends nothing and its timers do not fire
  (``MessageNetwork.schedule_on``); its state is kept, like a process whose disk survives a
  reboot, and ``recover`` brings it back, calling its ``on_recover`` hook.

This is the classic event-list design of discrete-event simulation (see e.g. Law,
*Simulation Modeling and Analysis*, ch. 1; the same loop as SimPy's ``Environment``), with
the network model of the distributed-systems literature: asynchronous, lossy links and
crash-recovery nodes (Cachin, Guerraoui, Rodrigues, *Introduction to Reliable and Secure
Distributed Programming*, 2011, ch. 2).

One module over 300 lines, on purpose: the clock and the network are one idea (the
network schedules its deliveries and timers on the clock and draws from its generator),
and a reader follows a message from ``send`` to ``_deliver`` in one file. Every argument
is checked through :mod:`distlab.checks`: a bad one raises ``TypeError`` or
``ValueError`` naming it.
"""
from __future__ import annotations

import heapq
import itertools
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Iterable

from distlab.checks import choice, count, fraction, number, positive

__all__ = ["Simulator", "Event", "Latency", "MessageNetwork", "Message"]


@dataclass(order=True)
class Event:
    """One scheduled callback. ``cancel()`` it to stop it from running."""
    time: float
    seq: int
    callback: Callable = field(compare=False)
    args: tuple = field(compare=False, default=())
    cancelled: bool = field(compare=False, default=False)

    def cancel(self) -> None:
        self.cancelled = True


class Simulator:
    """Virtual clock, event queue and seeded random generator.

    ``now`` is the current virtual time in seconds. ``schedule(delay, f, *args)`` runs
    ``f(*args)`` at ``now + delay``; ``run()`` executes events in time order until the
    queue is empty, ``until`` is reached, or ``stop()`` is called from an event.
    ``rng`` (a ``random.Random``) is the only source of randomness a model should use.
    ``seed`` an int ≥ 0; every method checks its arguments (``TypeError``/``ValueError``
    naming them).
    """

    def __init__(self, seed: int = 0):
        seed = count("seed", seed)
        self.seed = seed
        self.rng = random.Random(seed)
        self.now = 0.0
        self.events_run = 0
        self._queue: list[Event] = []
        self._seq = itertools.count()
        self._stopped = False

    def schedule(self, delay: float, callback: Callable, *args) -> Event:
        """Run ``callback(*args)`` ``delay`` seconds of virtual time from now."""
        delay = number("delay", delay, minimum=0)
        return self.at(self.now + delay, callback, *args)

    def at(self, time: float, callback: Callable, *args) -> Event:
        """Run ``callback(*args)`` at virtual time ``time`` (not in the past)."""
        time = number("time", time, minimum=0)
        if time < self.now:
            raise ValueError(f"time must not be in the past: {time!r} < now {self.now!r}")
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        event = Event(time, next(self._seq), callback, args)
        heapq.heappush(self._queue, event)
        return event

    @property
    def pending(self) -> int:
        """Events still waiting to run (cancelled ones excluded)."""
        return sum(not e.cancelled for e in self._queue)

    def peek(self) -> float:
        """Time of the next event to run, or ``inf`` if there is none."""
        while self._queue and self._queue[0].cancelled:
            heapq.heappop(self._queue)
        return self._queue[0].time if self._queue else math.inf

    def step(self) -> bool:
        """Run the next event; False if there was none."""
        if self.peek() == math.inf:
            return False
        event = heapq.heappop(self._queue)
        self.now = event.time
        self.events_run += 1
        event.callback(*event.args)
        return True

    def stop(self) -> None:
        """Make the current ``run()`` return after the event that is running."""
        self._stopped = True

    def run(self, until: float | None = None, max_events: int | None = None) -> int:
        """Run events in time order; returns how many ran.

        Stops when no event is left, when the next one is later than ``until`` (the clock
        then reads ``until``), after ``max_events`` events, or when an event calls ``stop``.
        """
        if until is not None:
            until = number("until", until, minimum=0)
        if max_events is not None:
            max_events = count("max_events", max_events)
        self._stopped = False
        ran = 0
        while not self._stopped and (max_events is None or ran < max_events):
            next_time = self.peek()
            if next_time == math.inf or (until is not None and next_time > until):
                break
            self.step()
            ran += 1
        if until is not None and not self._stopped and self.now < until and \
                (max_events is None or ran < max_events):
            self.now = until
        return ran


@dataclass(frozen=True)
class Latency:
    """One-way message delay: ``base`` plus seeded random ``jitter`` (seconds).

    ``distribution`` says how the jitter is drawn: ``"uniform"`` in [0, jitter] (a LAN),
    or ``"exponential"`` with mean ``jitter`` (a long tail, for the serving chapters:
    most messages are fast, a few are very slow — Dean & Barroso, "The Tail at Scale",
    CACM 2013). ``TypeError``/``ValueError`` naming a field that is not a finite number
    ≥ 0 or a known distribution.
    """
    base: float = 0.005
    jitter: float = 0.0
    distribution: str = "uniform"

    DISTRIBUTIONS = ("uniform", "exponential")

    def __post_init__(self):
        number("base", self.base, minimum=0)
        number("jitter", self.jitter, minimum=0)
        choice("distribution", self.distribution, self.DISTRIBUTIONS)

    def sample(self, rng: random.Random) -> float:
        if self.jitter == 0:
            return self.base
        if self.distribution == "uniform":
            return self.base + rng.uniform(0.0, self.jitter)
        return self.base + rng.expovariate(1.0 / self.jitter)

    @property
    def mean(self) -> float:
        return self.base + (self.jitter / 2 if self.distribution == "uniform" else self.jitter)


@dataclass(frozen=True)
class Message:
    src: Hashable
    dst: Hashable
    payload: Any
    sent_at: float
    size: int = 0


@dataclass
class _Node:
    handler: Callable[[Message], None]
    on_recover: Callable[[], None] | None
    alive: bool = True


class MessageNetwork:
    """Named nodes exchanging messages over seeded, lossy links on a ``Simulator``.

    ``latency`` is a ``Latency`` (or a callable ``(src, dst, rng) -> seconds`` for links
    that differ); ``bandwidth`` in bytes per second adds ``size / bandwidth`` to each
    message (None: unlimited); ``drop`` is the probability that a message is lost.
    A node sending to itself is a local call: no delay, never lost.
    ``stats`` counts what happened to messages: sent, delivered, and dropped by cause.
    ``TypeError``/``ValueError`` naming an argument that is not of that kind or range
    (``drop`` in [0, 1), ``bandwidth`` > 0); a node name that is unknown raises
    ``ValueError`` naming it.
    """

    def __init__(self, sim: Simulator, latency: Latency | Callable = Latency(),
                 bandwidth: float | None = None, drop: float = 0.0):
        if not isinstance(sim, Simulator):
            raise TypeError(f"sim must be a Simulator, got {type(sim).__name__}")
        if not isinstance(latency, Latency) and not callable(latency):
            raise TypeError("latency must be a Latency or a callable (src, dst, rng) -> seconds")
        if bandwidth is not None:
            bandwidth = positive("bandwidth", bandwidth)
        self.sim = sim
        self.latency = latency
        self.bandwidth = bandwidth
        self.drop = fraction("drop", drop, open_high=True)
        self.stats: Counter = Counter()
        self._nodes: dict[Hashable, _Node] = {}
        self._side: dict[Hashable, int] = {}   # partition side of each node; empty = healed

    # -- nodes ---------------------------------------------------------------------------
    def add_node(self, name: Hashable, handler: Callable[[Message], None],
                 on_recover: Callable[[], None] | None = None) -> None:
        """Add a node; ``handler(message)`` runs when a message is delivered to it."""
        if name in self._nodes:
            raise ValueError(f"name {name!r} is already a node of this network")
        if not callable(handler):
            raise TypeError(f"handler must be callable, got {type(handler).__name__}")
        if on_recover is not None and not callable(on_recover):
            raise TypeError(f"on_recover must be callable or None, got {type(on_recover).__name__}")
        self._nodes[name] = _Node(handler, on_recover)

    @property
    def nodes(self) -> list:
        return list(self._nodes)

    def _node(self, name, argument: str = "node") -> _Node:
        try:
            return self._nodes[name]
        except (KeyError, TypeError):
            raise ValueError(f"{argument} {name!r} is not a node of this network; "
                             f"nodes: {list(self._nodes)}") from None

    def is_alive(self, name) -> bool:
        return self._node(name).alive

    def crash(self, name) -> None:
        """Crash a node: it stops receiving, sending and running its timers."""
        self._node(name).alive = False
        self.stats["crashes"] += 1

    def recover(self, name) -> None:
        """Bring a crashed node back (its state was kept) and call its ``on_recover``."""
        node = self._node(name)
        if node.alive:
            return
        node.alive = True
        self.stats["recoveries"] += 1
        if node.on_recover is not None:
            node.on_recover()

    # -- partitions ------------------------------------------------------------------------
    def partition(self, *groups: Iterable) -> None:
        """Cut the network into sides: nodes on different sides cannot talk.

        Each group is a collection of node names; nodes named in no group form one more
        side together. ``partition({"a"}, {"b", "c"})`` isolates ``a``.
        """
        if not groups:
            raise ValueError("partition needs at least one group of nodes")
        side: dict = {}
        for i, group in enumerate(groups):
            if isinstance(group, (str, bytes)) or not isinstance(group, Iterable):
                raise TypeError(f"groups[{i}] must be a collection of node names, "
                                f"got {type(group).__name__}")
            for name in group:
                self._node(name, f"groups[{i}] member")
                if name in side:
                    raise ValueError(f"node {name!r} is in two groups of the partition")
                side[name] = i
        for name in self._nodes:
            side.setdefault(name, len(groups))
        self._side = side
        self.stats["partitions"] += 1

    def heal(self) -> None:
        """Remove every partition."""
        self._side = {}

    def can_reach(self, a, b) -> bool:
        """True when a message from ``a`` could reach ``b`` now (both alive, same side)."""
        na, nb = self._node(a), self._node(b)
        return na.alive and nb.alive and self._side.get(a, 0) == self._side.get(b, 0)

    # -- messages --------------------------------------------------------------------------
    def delay(self, src, dst, size: int = 0) -> float:
        """A fresh sample of the time a message of ``size`` bytes takes from src to dst."""
        if src == dst:
            return 0.0
        base = (self.latency.sample(self.sim.rng) if isinstance(self.latency, Latency)
                else number("latency(src, dst, rng)", self.latency(src, dst, self.sim.rng),
                            minimum=0))
        return base + (size / self.bandwidth if self.bandwidth else 0.0)

    def send(self, src, dst, payload: Any, size: int = 0) -> bool:
        """Send ``payload`` from ``src`` to ``dst``; False if it was lost at once.

        A message that leaves may still be lost on the way (a partition, or the receiver
        crashed when it arrives); ``stats`` counts every outcome.
        """
        sender = self._node(src, "src")
        self._node(dst, "dst")
        size = count("size", size)
        if not sender.alive:
            self.stats["dropped: sender crashed"] += 1
            return False
        self.stats["sent"] += 1
        message = Message(src, dst, payload, self.sim.now, size)
        if src != dst:
            # Draw the delay before the drop so both depend only on the seed and the order
            # of sends, never on which messages happened to be dropped earlier.
            delay = self.delay(src, dst, size)
            if self.drop and self.sim.rng.random() < self.drop:
                self.stats["dropped: random"] += 1
                return False
            if self._side.get(src, 0) != self._side.get(dst, 0):
                self.stats["dropped: partition"] += 1
                return False
        else:
            delay = 0.0
        self.sim.schedule(delay, self._deliver, message)
        return True

    def _deliver(self, message: Message) -> None:
        receiver = self._nodes[message.dst]
        if not receiver.alive:
            self.stats["dropped: receiver crashed"] += 1
            return
        if self._side.get(message.src, 0) != self._side.get(message.dst, 0):
            self.stats["dropped: partition"] += 1
            return
        self.stats["delivered"] += 1
        receiver.handler(message)

    def schedule_on(self, name, delay: float, callback: Callable, *args) -> Event:
        """A timer on node ``name``: runs ``callback(*args)`` after ``delay`` only if the
        node is alive then (a crashed process loses its timers)."""
        self._node(name)

        def fire():
            if self._nodes[name].alive:
                callback(*args)
        return self.sim.schedule(delay, fire)
