"""What a plan costs: rounds, bytes per node, and the α-β time — from the plan alone.

The α-β model (Hockney 1994; Thakur, Rabenseifner & Gropp 2005): a message of m bytes
costs α + m·β, where α is the latency per message and β the time per byte (1/bandwidth).
Links are full duplex and a node has one port, so in a round a node's sends are
serialised, its receives are serialised, and sending overlaps receiving. The round takes
as long as its busiest node; the plan takes the sum of its rounds:

    T = Σ_rounds max_i max(s_i·α + S_i·β, r_i·α + R_i·β) (+ γ per byte reduced)

with s_i, r_i the messages node i sends and receives in the round and S_i, R_i their bytes.

``closed_form`` gives the textbook formulas (for p dividing n; for Rabenseifner and
recursive doubling p a power of two or the folded variant) that the tests compare with
the plan-derived numbers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from distlab.checks import choice, count, fraction, number
from distlab.concepts.kernel import block_bounds
from distlab.concepts.plans import Plan

#: The algorithms :func:`closed_form` knows, exact ones first.
CLOSED_FORMS = ("star", "tree", "recursive_doubling", "ring", "rabenseifner",
                "gossip_ring", "gossip_complete", "gossip_random")


@dataclass(frozen=True)
class Network:
    """α (seconds per message), bandwidth (bytes per second), γ (seconds per byte reduced).

    Raises ``TypeError`` for a value that is not a number and ``ValueError`` for one that
    is not finite, negative, or (bandwidth) zero."""
    alpha: float = 5e-6
    bandwidth: float = 12.5e9            # 100 Gb/s
    gamma: float = 0.0

    def __post_init__(self):
        number("alpha", self.alpha, minimum=0)
        number("bandwidth", self.bandwidth, minimum=0, strict=True)
        number("gamma", self.gamma, minimum=0)

    @property
    def beta(self) -> float:
        return 1.0 / self.bandwidth


#: A datacenter link: 5 µs latency, 100 Gb/s. The simulator's default virtual network.
DEFAULT_NETWORK = Network()


#: The most elements (``n``) and bytes per element (``itemsize``) a plan is costed for:
#: their product must fit the int64 byte counts (2⁵⁰ elements is a petabyte of float64).
MAX_ELEMENTS = 1 << 50
MAX_ITEMSIZE = 1 << 12


def _whole(name: str, value, maximum: int) -> int:
    """A count that may arrive as a whole float (``4e6 // 8`` is 500000.0)."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    return count(name, value, maximum=maximum)


def _check(plan, n, itemsize=8, network: Network = DEFAULT_NETWORK) -> tuple[int, int]:
    """``n`` (elements per node) and ``itemsize`` (bytes per element) as ints ≥ 0.

    Raises ``TypeError`` for a plan that is not a :class:`Plan`, a network that is not a
    :class:`Network` or a count that is not an int (or a whole float), ``ValueError``
    for a negative count or one above :data:`MAX_ELEMENTS` / :data:`MAX_ITEMSIZE`."""
    if not isinstance(plan, Plan):
        raise TypeError(f"plan must be a Plan (from make_plan), got {type(plan).__name__}")
    if not isinstance(network, Network):
        raise TypeError(f"network must be a Network, got {type(network).__name__}")
    return _whole("n", n, MAX_ELEMENTS), _whole("itemsize", itemsize, MAX_ITEMSIZE)


def chunk_elements(plan: Plan, n: int) -> np.ndarray:
    """Element offsets of the plan's blocks for a vector of ``n`` elements (errors as
    :func:`round_bytes`)."""
    n, _ = _check(plan, n)
    return block_bounds(n, plan.blocks)


def round_bytes(plan: Plan, n: int, itemsize: int = 8):
    """Per round, per node: messages and bytes sent and received, and bytes reduced.

    Returns five arrays of shape (rounds, nodes). Raises ``TypeError`` (plan not a Plan,
    a count not an int) or ``ValueError`` (a negative count)."""
    n, itemsize = _check(plan, n, itemsize)
    bounds = chunk_elements(plan, n)
    shape = (plan.n_rounds, plan.n_nodes)
    msg_out, msg_in = np.zeros(shape, int), np.zeros(shape, int)
    bytes_out, bytes_in, reduced = (np.zeros(shape, np.int64) for _ in range(3))
    first = {}                     # gossip repeats one tuple of transfers: count it once
    for k, rnd in enumerate(plan.rounds):
        seen = first.setdefault(id(rnd.transfers), k)
        if seen != k:
            for a in (msg_out, msg_in, bytes_out, bytes_in, reduced):
                a[k] = a[seen]
            continue
        for t in rnd.transfers:
            size = int(bounds[t.chunk[1]] - bounds[t.chunk[0]]) * itemsize
            msg_out[k, t.src] += 1
            msg_in[k, t.dst] += 1
            bytes_out[k, t.src] += size
            bytes_in[k, t.dst] += size
            if t.op != "copy":
                reduced[k, t.dst] += size
    return msg_out, msg_in, bytes_out, bytes_in, reduced


def bytes_per_node(plan: Plan, n: int, itemsize: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Total bytes each node sends and receives over the whole plan, two int64 arrays of
    shape (nodes,); errors as :func:`round_bytes`."""
    _, _, out, inn, _ = round_bytes(plan, n, itemsize)
    return out.sum(axis=0), inn.sum(axis=0)


def round_times(plan: Plan, n: int, itemsize: int = 8,
                network: Network = DEFAULT_NETWORK) -> np.ndarray:
    """The α-β time of each round (seconds); errors as :func:`round_bytes`, and
    ``TypeError`` when ``network`` is not a :class:`Network`."""
    _check(plan, n, itemsize, network)
    if plan.n_rounds == 0:
        return np.zeros(0)
    m_out, m_in, b_out, b_in, red = round_bytes(plan, n, itemsize)
    send = m_out * network.alpha + b_out * network.beta
    recv = m_in * network.alpha + b_in * network.beta + red * network.gamma
    return np.maximum(send, recv).max(axis=1)


def plan_time(plan: Plan, n: int, itemsize: int = 8,
              network: Network = DEFAULT_NETWORK) -> float:
    """The α-β time of the whole plan (seconds); errors as :func:`round_times`."""
    return float(round_times(plan, n, itemsize, network).sum())


def cost_summary(plan: Plan, n: int, itemsize: int = 8,
                 network: Network = DEFAULT_NETWORK) -> dict:
    """Rounds, busiest node's bytes, total bytes, and time: one row of a cost table
    (errors as :func:`round_times`)."""
    sent, received = bytes_per_node(plan, n, itemsize)
    return {"algorithm": plan.algorithm, "nodes": plan.n_nodes, "rounds": plan.n_rounds,
            "max_bytes_sent": int(sent.max(initial=0)),
            "max_bytes_received": int(received.max(initial=0)),
            "total_bytes": int(sent.sum()),
            "time_s": plan_time(plan, n, itemsize, network)}


def lower_bound_bytes(p: int, n_bytes: float) -> float:
    """Bytes every node must send in any all-reduce: 2(p-1)/p · n (Patarasuk & Yuan 2009).

    ``p`` an int ≥ 1, ``n_bytes`` a finite number ≥ 0; else ``TypeError`` / ``ValueError``."""
    p = count("p", p, minimum=1)
    n_bytes = number("n_bytes", n_bytes, minimum=0)
    return 2 * (p - 1) / p * n_bytes


def closed_form(algorithm: str, p: int, n_bytes: float,
                network: Network = DEFAULT_NETWORK, tolerance: float = 1e-6,
                self_weight: float = 0.5) -> dict:
    """The textbook rounds, busiest node's bytes sent and α-β time (Thakur et al. 2005).

    Exact when p divides the vector (and, for the folded non-power-of-two variants,
    p' = 2^⌊lg p⌋ divides it); the ring's bytes are the lower bound 2(p-1)/p·n. Gossip:
    the spectral-gap round count (:mod:`distlab.concepts.gossip`) times one round's
    cost (ring: 2 neighbours; complete graph: p-1 others; pairwise: one exchange).

    ``algorithm`` one of :data:`CLOSED_FORMS`; ``p`` an int ≥ 1 (for gossip at most
    :data:`~distlab.concepts.plans.MAX_NODES`); ``n_bytes`` a finite number ≥ 0;
    ``tolerance`` in [:data:`~distlab.concepts.gossip.MIN_TOLERANCE`, 1) and
    ``self_weight`` in (0, 1). Raises ``TypeError`` / ``ValueError``
    naming the argument otherwise.
    """
    choice("algorithm", algorithm, CLOSED_FORMS)
    p = count("p", p, minimum=1)
    n_bytes = number("n_bytes", n_bytes, minimum=0)
    if not isinstance(network, Network):
        raise TypeError(f"network must be a Network, got {type(network).__name__}")
    tolerance = fraction("tolerance", tolerance, open_low=True, open_high=True)
    self_weight = fraction("self_weight", self_weight, open_low=True, open_high=True)
    a, b, n = network.alpha, network.beta, n_bytes
    if p == 1:
        return {"rounds": 0, "max_bytes_sent": 0.0, "time_s": 0.0}
    if algorithm.startswith("gossip_"):
        from distlab.concepts.gossip import rate, rounds_to_tolerance
        r = rate(algorithm, p, self_weight)
        rounds = rounds_to_tolerance(r, tolerance, 3.0 if algorithm == "gossip_random" else 1.0)
        per_round = {"gossip_ring": min(2, p - 1), "gossip_complete": p - 1,
                     "gossip_random": 1}[algorithm]
        if algorithm == "gossip_random":        # a node may be picked again and again
            return {"rounds": rounds, "max_bytes_sent": float("nan"),
                    "time_s": rounds * (a + n * b)}
        return {"rounds": rounds, "max_bytes_sent": float(rounds * per_round * n),
                "time_s": rounds * per_round * (a + n * b)}
    lg = math.ceil(math.log2(p))
    p2 = 1 << (p.bit_length() - 1)
    k = p2.bit_length() - 1                         # lg p'
    fold = p != p2
    if algorithm == "star":
        rounds, sent, time = 2, (p - 1) * n, 2 * (p - 1) * (a + n * b)
    elif algorithm == "tree":
        rounds, sent, time = 2 * lg, lg * n, 2 * lg * (a + n * b)
    elif algorithm == "recursive_doubling":
        rounds = k + 2 * fold
        sent = (k + fold) * n
        time = rounds * (a + n * b)
    elif algorithm == "ring":
        rounds, sent = 2 * (p - 1), 2 * (p - 1) / p * n
        time = 2 * (p - 1) * (a + n / p * b)
    else:                                           # rabenseifner
        rounds = 2 * k + 2 * fold
        sent = 2 * (p2 - 1) / p2 * n + fold * n
        time = 2 * k * a + 2 * (p2 - 1) / p2 * n * b + 2 * fold * (a + n * b)
    return {"rounds": rounds, "max_bytes_sent": float(sent), "time_s": float(time)}
