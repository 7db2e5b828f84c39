"""Faults on the simulated network, as data: what happens, to whom, and when.

A :class:`NetworkFault` is one event of a fault schedule: at ``time`` seconds of virtual
time, ``"crash"`` or ``"recover"`` a node, ``"partition"`` the network into groups of
nodes, or ``"heal"`` it. :meth:`NetworkFault.apply` plays it on a
:class:`~distlab.concepts.events.MessageNetwork` (a crashed node receives and sends
nothing, and its timers do not fire, until it recovers). A protocol that loses more on a
crash (in-flight requests, volatile state) does that after ``apply``.

Schedules written as data can be printed, compared and replayed with every seed; the
replicated stores (:mod:`distlab.apps.stores`) take one per run. The fault model is the
crash-recovery model with partitionable links (Cachin, Guerraoui & Rodrigues,
*Introduction to Reliable and Secure Distributed Programming*, 2011, ch. 2).
"""
from __future__ import annotations

from dataclasses import dataclass

from distlab.checks import choice, number

__all__ = ["NetworkFault", "FAULT_ACTIONS"]

FAULT_ACTIONS = ("crash", "recover", "partition", "heal")


@dataclass(frozen=True)
class NetworkFault:
    """At ``time`` seconds: ``"crash"``/``"recover"`` node ``target``, or ``"partition"``
    the network into ``target`` (a tuple of groups of nodes), or ``"heal"`` the partition
    (no target). Raises ``TypeError``/``ValueError`` for a negative or non-finite time,
    an unknown action, or a target that does not fit it (a crash of None or of something
    unhashable, a partition that is not a list of groups, a heal with a target)."""
    time: float
    action: str
    target: object = None

    def __post_init__(self):
        number("time", self.time, minimum=0)
        choice("action", self.action, FAULT_ACTIONS)
        if self.action in ("crash", "recover"):
            try:
                hash(self.target)
            except TypeError:
                raise TypeError(f"target must be a node's name, got {self.target!r}") from None
            if self.target is None:
                raise TypeError(f"target must name the node to {self.action}, got None")
        elif self.action == "partition":
            groups = self.target
            if not isinstance(groups, (tuple, list)) or not groups or any(
                    isinstance(g, (str, bytes)) or not hasattr(g, "__iter__") for g in groups):
                raise TypeError(f"target must be a tuple of groups of nodes for a partition, "
                                f"got {groups!r}")
        elif self.target is not None:
            raise ValueError(f"target must be None for a heal, got {self.target!r}")

    def nodes(self) -> list:
        """The nodes this fault names, in order (none for ``"heal"``). Raises
        ``TypeError`` for a partition whose target is not a tuple or list of groups."""
        if self.action in ("crash", "recover"):
            return [self.target]
        if self.action == "partition":
            if not isinstance(self.target, (tuple, list)):
                raise TypeError(f"a partition's target must be a tuple of groups, "
                                f"got {self.target!r}")
            return [node for group in self.target for node in group]
        return []

    def apply(self, net) -> None:
        """Play this fault on ``net``, a :class:`~distlab.concepts.events.MessageNetwork`."""
        if self.action == "crash":
            net.crash(self.target)
        elif self.action == "recover":
            net.recover(self.target)
        elif self.action == "partition":
            net.partition(*self.target)
        else:
            net.heal()

    def __str__(self) -> str:
        if self.action == "partition":
            sides = " | ".join("{" + ", ".join(map(str, g)) + "}" for g in self.target)
            return f"{self.time * 1000:g} ms: partition {sides}"
        what = "" if self.target is None else f" replica {self.target}"
        return f"{self.time * 1000:g} ms: {self.action}{what}"
