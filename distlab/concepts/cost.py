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

from distlab.concepts.kernel import block_bounds
from distlab.concepts.plans import Plan


@dataclass(frozen=True)
class Network:
    """α (seconds per message), bandwidth (bytes per second), γ (seconds per byte reduced)."""
    alpha: float = 5e-6
    bandwidth: float = 12.5e9            # 100 Gb/s
    gamma: float = 0.0

    def __post_init__(self):
        for name in ("alpha", "bandwidth", "gamma"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                    or not np.isfinite(value) or value < 0 or (name == "bandwidth" and value == 0):
                raise ValueError(f"{name} must be a finite number ≥ 0 (bandwidth > 0), "
                                 f"got {value!r}")

    @property
    def beta(self) -> float:
        return 1.0 / self.bandwidth


#: A datacenter link: 5 µs latency, 100 Gb/s. The simulator's default virtual network.
DEFAULT_NETWORK = Network()


def _check(plan, n, itemsize=8) -> tuple[int, int]:
    """``n`` and ``itemsize`` as ints (whole floats such as ``4e6 // 8`` are accepted)."""
    if not isinstance(plan, Plan):
        raise TypeError(f"plan must be a Plan (from make_plan), got {type(plan).__name__}")
    out = []
    for name, value in (("n", n), ("itemsize", itemsize)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                or not value >= 0 or int(value) != value:
            raise ValueError(f"{name} must be a whole number ≥ 0 (elements per node, bytes "
                             f"per element), got {value!r}")
        out.append(int(value))
    return out[0], out[1]


def chunk_elements(plan: Plan, n: int) -> np.ndarray:
    """Element offsets of the plan's blocks for a vector of ``n`` elements."""
    n, _ = _check(plan, n)
    return block_bounds(n, plan.blocks)


def round_bytes(plan: Plan, n: int, itemsize: int = 8):
    """Per round, per node: messages and bytes sent and received, and bytes reduced.

    Returns five arrays of shape (rounds, nodes)."""
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
    """Total bytes each node sends and receives over the whole plan."""
    _, _, out, inn, _ = round_bytes(plan, n, itemsize)
    return out.sum(axis=0), inn.sum(axis=0)


def round_times(plan: Plan, n: int, itemsize: int = 8,
                network: Network = DEFAULT_NETWORK) -> np.ndarray:
    """The α-β time of each round (seconds)."""
    if plan.n_rounds == 0:
        return np.zeros(0)
    m_out, m_in, b_out, b_in, red = round_bytes(plan, n, itemsize)
    send = m_out * network.alpha + b_out * network.beta
    recv = m_in * network.alpha + b_in * network.beta + red * network.gamma
    return np.maximum(send, recv).max(axis=1)


def plan_time(plan: Plan, n: int, itemsize: int = 8,
              network: Network = DEFAULT_NETWORK) -> float:
    """The α-β time of the whole plan (seconds)."""
    return float(round_times(plan, n, itemsize, network).sum())


def cost_summary(plan: Plan, n: int, itemsize: int = 8,
                 network: Network = DEFAULT_NETWORK) -> dict:
    """Rounds, busiest node's bytes, total bytes, and time: one row of a cost table."""
    sent, received = bytes_per_node(plan, n, itemsize)
    return {"algorithm": plan.algorithm, "nodes": plan.n_nodes, "rounds": plan.n_rounds,
            "max_bytes_sent": int(sent.max(initial=0)),
            "max_bytes_received": int(received.max(initial=0)),
            "total_bytes": int(sent.sum()),
            "time_s": plan_time(plan, n, itemsize, network)}


def lower_bound_bytes(p: int, n_bytes: float) -> float:
    """Bytes every node must send in any all-reduce: 2(p-1)/p · n (Patarasuk & Yuan 2009)."""
    return 2 * (p - 1) / p * n_bytes


def closed_form(algorithm: str, p: int, n_bytes: float,
                network: Network = DEFAULT_NETWORK, tolerance: float = 1e-6,
                self_weight: float = 0.5) -> dict:
    """The textbook rounds, busiest node's bytes sent and α-β time (Thakur et al. 2005).

    Exact when p divides the vector (and, for the folded non-power-of-two variants,
    p' = 2^⌊lg p⌋ divides it); the ring's bytes are the lower bound 2(p-1)/p·n. Gossip:
    the spectral-gap round count (:mod:`distlab.concepts.gossip`) times one round's
    cost (ring: 2 neighbours; complete graph: p-1 others; pairwise: one exchange).
    """
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 1:
        raise ValueError(f"p must be a positive int (the number of nodes), got {p!r}")
    if isinstance(n_bytes, bool) or not isinstance(n_bytes, (int, float, np.number)) \
            or not n_bytes >= 0:
        raise ValueError(f"n_bytes must be a non-negative number, got {n_bytes!r}")
    if not isinstance(network, Network):
        raise TypeError(f"network must be a Network, got {type(network).__name__}")
    a, b, n = network.alpha, network.beta, n_bytes
    if algorithm not in ("star", "tree", "recursive_doubling", "ring", "rabenseifner",
                         "gossip_ring", "gossip_complete", "gossip_random"):
        raise ValueError(f"no closed form for {algorithm!r}; known: star, tree, "
                         "recursive_doubling, ring, rabenseifner, gossip_ring, "
                         "gossip_complete, gossip_random")
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
    elif algorithm == "rabenseifner":
        rounds = 2 * k + 2 * fold
        sent = 2 * (p2 - 1) / p2 * n + fold * n
        time = 2 * k * a + 2 * (p2 - 1) / p2 * n * b + 2 * fold * (a + n * b)
    else:
        raise ValueError(f"no closed form for {algorithm!r}; known: star, tree, "
                         "recursive_doubling, ring, rabenseifner")
    return {"rounds": rounds, "max_bytes_sent": float(sent), "time_s": float(time)}
