"""The parameter server as practice builds it: the keys sharded over the nodes.

The star of :func:`distlab.concepts.plans.star` is a *single-server* parameter server:
one node holds every key, so it receives and sends (p − 1)·n bytes while every other node
moves n each way. Real parameter servers shard the keys over many servers (Li et al.,
"Scaling Distributed Machine Learning with the Parameter Server", OSDI 2014): each server
holds a range of keys, a worker pushes each part of its gradient to the server of that
part, and pulls each part of the new parameters back from it.

With one shard per node — every node is a worker and the server of 1/p of the keys, as in
BytePS when servers sit beside the workers (Jiang et al., "A Unified Architecture for
Accelerating Distributed DNN Training in Heterogeneous GPU/CPU Clusters", OSDI 2020) —
the push is a reduce-scatter (server j adds every node's block j) and the pull an
all-gather (every node copies block j from server j). Each node then sends
(p − 1)·n/p bytes in each of the two rounds, 2(p − 1)/p·n in all: the ring's bytes, the
lower bound (Patarasuk & Yuan 2009), in two rounds instead of 2(p − 1). In the α-β model
a node's p − 1 messages of a round go one after another through its one port, so the
time is the ring's too, 2(p − 1)(α + n/p·β); what the star lacks is not a better
algorithm but more servers.

The plan is the same data as :mod:`distlab.concepts.plans` (``Plan``, ``Round``,
``Transfer``), so :mod:`distlab.concepts.cost` counts its bytes and prices it, and the
kernel (:func:`distlab.concepts.kernel.run_plan`) runs it. Server j adds its own block
first, then the others in node order, so for p ≥ 3 its sum is in another order than the
star's or ``numpy.mean``'s and may differ from them in the last bits (floating-point
addition is not associative); the tests measure by how much.

Chapter 06's recommender (``distlab.apps.recsys``) is such a sharded parameter server:
its item table is cut into shards by hashing the item id, the shards live on the
workers, and each update row is pushed to the shard that owns its item.
"""
from __future__ import annotations

from distlab.concepts.plans import Plan, Round, Transfer, check_node_count

__all__ = ["sharded_parameter_server", "shard_owner"]


def shard_owner(block: int, p: int) -> int:
    """The node that serves ``block`` of a vector cut into p blocks: node ``block``
    (one shard per node). Raises ``TypeError``/``ValueError`` for a bad p or a block
    outside 0 … p − 1."""
    p = check_node_count(p)
    if isinstance(block, bool) or not isinstance(block, int):
        raise TypeError(f"block must be an int, got {type(block).__name__}")
    if not 0 <= block < p:
        raise ValueError(f"block must be in 0 … {p - 1}, got {block}")
    return block


def sharded_parameter_server(p: int) -> Plan:
    """A parameter server with one shard per node, as a plan of two rounds.

    The vector is cut into p blocks; node j serves block j. Round 1, *push*: every node
    sends block j to node j (for every j but its own), which adds it (reduce-scatter).
    Round 2, *pull*: node j sends its summed block j to every other node, which copies
    it (all-gather). Then every node divides by p. Each node sends and receives
    2(p − 1)/p·n bytes, the ring's; no node carries more than another. Raises
    ``TypeError``/``ValueError`` as :func:`~distlab.concepts.plans.check_node_count`.
    """
    p = check_node_count(p)
    if p == 1:
        return Plan("sharded_ps", 1, 1, (), divide_by=1)
    push = Round(tuple(Transfer(i, shard_owner(j, p), (j, j + 1), "reduce")
                       for i in range(p) for j in range(p) if j != i),
                 "push: each block to its server, which adds it")
    pull = Round(tuple(Transfer(shard_owner(j, p), i, (j, j + 1), "copy")
                       for j in range(p) for i in range(p) if i != j),
                 "pull: each server's block back to every node")
    return Plan("sharded_ps", p, p, (push, pull), divide_by=p)
