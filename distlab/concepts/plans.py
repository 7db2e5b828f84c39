"""All-reduce algorithms as plans: data that says who sends what to whom, round by round;
and the collectives they are built from (reduce-scatter, all-gather, broadcast, one
point-to-point message), as plans too.

A plan does not know where it runs or what the values are. Each round is a list of
transfers; a transfer names a source node, a destination node, a chunk of the vector and
what the destination does with it:

- ``"reduce"``: add the received chunk to its own (``own += received``);
- ``"copy"``: replace its own chunk by the received one;
- ``"mix"``: gossip averaging with a weight ``w``: the destination keeps
  ``1 - Σ w`` of its own chunk and adds ``w ×`` each received chunk (the row of a doubly
  stochastic matrix W; see :mod:`distlab.concepts.gossip`).

Every message of a round is read from the buffers as they were at the start of the round,
then every destination applies what it received, in source order: rounds are synchronous.

The vector is cut into ``plan.blocks`` chunks the way ``numpy.array_split`` cuts it (the
first ``n % blocks`` chunks one element longer), so a plan works for any vector length,
including lengths the node count does not divide, and for vectors shorter than the node
count (some chunks are then empty and their messages carry 0 bytes). A chunk is a range
of block indices ``(lo, hi)``; ``(0, plan.blocks)`` is the whole vector.

Exact algorithms leave every node with the sum; the final local step divides by
``plan.divide_by`` (= N). Gossip plans mix instead and need no final step.

The algorithms, naive first (costs from Thakur, Rabenseifner & Gropp, "Optimization of
Collective Communication Operations in MPICH", IJHPCA 19(1), 2005; α per message, β per
byte, n bytes per node, p nodes):

============================  ===========================  ==========================
algorithm                     rounds                        bytes sent by busiest node
============================  ===========================  ==========================
star (single-server PS)       2                             (p-1)·n   (the root)
tree (binomial)               2⌈lg p⌉                       ⌈lg p⌉·n  (the root)
recursive_doubling            lg p  (+2 if p not 2^k)       lg p·n
ring                          2(p-1)                        2(p-1)/p·n
rabenseifner                  2 lg p (+2 if p not 2^k)      2(p-1)/p·n
============================  ===========================  ==========================

The ring is literally a reduce-scatter followed by an all-gather; those two, a broadcast
and a single message are what model splitting calls (ZeRO, tensor and pipeline
parallelism). Each node's chunk, its shard, is :func:`ring_shard`:

============================  ===========================  ==========================
collective                    rounds                        bytes sent per node
============================  ===========================  ==========================
reduce_scatter                p-1                           (p-1)/p·n   (the bound)
all_gather                    p-1                           (p-1)/p·n   (the bound)
broadcast_star (naive)        1                             (p-1)·n     (the root)
broadcast (scatter+gather)    p                             2(p-1)/p·n root, (p-1)/p·n rest
point_to_point                1                             n           (the sender)
============================  ===========================  ==========================

Over 400 lines, for a reason: the three records a plan is made of check their own fields
(issue 16: a plan built by hand is refused at once, naming the field, instead of failing
deep in an engine), and those checks belong beside the records, which belong beside the
algorithms that build them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from distlab.checks import count, flag, number, text

__all__ = ["OPS", "MAX_NODES", "Transfer", "Round", "Plan", "star", "tree",
           "recursive_doubling", "ring_shard", "reduce_scatter", "all_gather", "ring",
           "broadcast_star", "broadcast", "point_to_point", "rabenseifner", "EXACT_BUILDERS"]

#: The three things a destination can do with a chunk it receives.
OPS = ("reduce", "copy", "mix")
_OP_SET = frozenset(OPS)

#: The most nodes a plan is built for. A ring plan holds 2(p−1)·p transfers: at 512
#: nodes half a million, about a second and 150 MB; at 1,024 four times that. For larger
#: p, :func:`distlab.concepts.cost.closed_form` gives the costs without a plan.
MAX_NODES = 512


def check_node_count(p, name: str = "p") -> int:
    """The package's own check of a node count (not in ``__all__``; ``name`` is the
    caller's argument name): ``p`` as an int in [1, :data:`MAX_NODES`]; ``TypeError`` for anything but an int
    (a bool or 2.0 included), ``ValueError`` outside the range (the message names the
    limit)."""
    return count(name, p, minimum=1, maximum=MAX_NODES)


def check_node(name: str, node, p: int) -> int:
    """The package's own check of a node argument (not in ``__all__``): ``node`` as one of
    the nodes 0 … p−1; ``TypeError``/``ValueError`` naming ``name``
    (or ``p``, when ``p`` is no node count)."""
    p = check_node_count(p)
    node = count(name, node)
    if node >= p:
        raise ValueError(f"{name} must be a node, 0 … {p - 1}; got {node}")
    return node


@dataclass(frozen=True)
class Transfer:
    """One message: ``src`` sends blocks ``chunk = (lo, hi)`` of its buffer to ``dst``.

    ``src``, ``dst``: nodes (ints ≥ 0); ``chunk``: a tuple of two ints, 0 ≤ lo < hi;
    ``op``: one of :data:`OPS`; ``weight``: a number in [0, 1] (used by "mix"). Raises
    ``TypeError`` / ``ValueError`` naming a bad field. (:class:`Plan` checks that the
    nodes and blocks exist.)
    """
    src: int
    dst: int
    chunk: tuple[int, int]
    op: str = "reduce"
    weight: float = 1.0        # only used by "mix"

    def __post_init__(self):
        # The plain case in one expression: a 512-node ring builds half a million of these.
        chunk = self.chunk
        if not (type(chunk) is tuple and len(chunk) == 2
                and type(self.src) is type(self.dst) is type(chunk[0]) is type(chunk[1]) is int
                and 0 <= chunk[0] < chunk[1] and self.src >= 0 <= self.dst
                and self.op in _OP_SET and type(self.weight) is float
                and 0.0 <= self.weight <= 1.0):
            self._check()

    def _check(self) -> None:
        count("src", self.src)
        count("dst", self.dst)
        if not isinstance(self.chunk, tuple) or len(self.chunk) != 2:
            raise TypeError(f"chunk must be a tuple (lo, hi) of block indices, "
                            f"got {self.chunk!r}")
        lo, hi = count("chunk[0]", self.chunk[0]), count("chunk[1]", self.chunk[1])
        if hi <= lo:
            raise ValueError(f"chunk must be (lo, hi) with lo < hi, got {self.chunk!r}")
        if self.op not in OPS:
            raise ValueError(f"op must be one of {', '.join(map(repr, OPS))}; got {self.op!r}")
        number("weight", self.weight, minimum=0, maximum=1)

    def describe(self, blocks: int | None = None) -> str:
        """``"0→1 block 2 (add)"``; with the plan's block count, a whole-vector message
        reads ``"0→1 all (add)"``."""
        what = {"reduce": "add", "copy": "copy", "mix": f"mix×{self.weight:.3g}"}[self.op]
        lo, hi = self.chunk
        if blocks is not None and (lo, hi) == (0, blocks):
            part = "all"
        else:
            part = f"block {lo}" if hi == lo + 1 else f"blocks {lo}–{hi - 1}"
        return f"{self.src}→{self.dst} {part} ({what})"

    def __str__(self) -> str:
        return self.describe()


@dataclass(frozen=True)
class Round:
    """Transfers that happen at the same time, with a label for the learner.

    ``transfers``: a tuple of :class:`Transfer`; ``label``: a string. Raises ``TypeError``
    naming a bad field."""
    transfers: tuple[Transfer, ...]
    label: str = ""

    def __post_init__(self):
        if type(self.transfers) is not tuple:
            raise TypeError(f"transfers must be a tuple of Transfer, got "
                            f"{type(self.transfers).__name__}")
        if not isinstance(self.label, str):
            raise TypeError(f"label must be a string, got {type(self.label).__name__}")


@dataclass(frozen=True)
class Plan:
    """An all-reduce algorithm for ``n_nodes`` nodes, as data.

    ``algorithm``: a name; ``n_nodes``: an int in [1, :data:`MAX_NODES`]; ``blocks``: the
    chunks the vector is cut into, an int in [1, :data:`MAX_NODES`]; ``rounds``: a tuple
    of :class:`Round` whose transfers name nodes < ``n_nodes`` and blocks ≤ ``blocks``;
    ``divide_by``: ``None`` or an int ≥ 1; ``exact``: a bool; ``notes``: a dict. Raises
    ``TypeError`` / ``ValueError`` naming a bad field.
    """
    algorithm: str
    n_nodes: int
    blocks: int                          # the vector is cut into this many chunks
    rounds: tuple[Round, ...]
    divide_by: int | None = None         # exact algorithms: final local step, sum / N
    exact: bool = True                   # False for gossip: the mean within a tolerance
    notes: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        text("algorithm", self.algorithm)
        n = check_node_count(self.n_nodes, "n_nodes")
        blocks = count("blocks", self.blocks, minimum=1, maximum=MAX_NODES)
        if type(self.rounds) is not tuple or not all(type(r) is Round for r in self.rounds):
            raise TypeError(f"rounds must be a tuple of Round, got {type(self.rounds).__name__}")
        if self.divide_by is not None:
            count("divide_by", self.divide_by, minimum=1)
        flag("exact", self.exact)
        if not isinstance(self.notes, dict):
            raise TypeError(f"notes must be a dict, got {type(self.notes).__name__}")
        seen = set()                      # gossip repeats one tuple of transfers
        for k, rnd in enumerate(self.rounds, start=1):
            if id(rnd.transfers) in seen:
                continue
            seen.add(id(rnd.transfers))
            for t in rnd.transfers:
                if type(t) is not Transfer:
                    raise TypeError(f"rounds: round {k} holds a {type(t).__name__}, "
                                    "not a Transfer")
                if t.src >= n or t.dst >= n or t.chunk[1] > blocks:
                    raise ValueError(f"rounds: round {k} has {t.describe()}, outside "
                                     f"n_nodes = {n} nodes or blocks = {blocks}")

    @property
    def n_rounds(self) -> int:
        return len(self.rounds)

    def describe(self) -> list[str]:
        """One line per round: its label and its transfers."""
        return [f"round {k}: {r.label}: "
                + ", ".join(t.describe(self.blocks) for t in r.transfers)
                for k, r in enumerate(self.rounds, start=1)]


def _whole(plan_blocks: int) -> tuple[int, int]:
    return (0, plan_blocks)


# --------------------------------------------------------------------------------------
# naive: star / parameter server
# --------------------------------------------------------------------------------------

def star(p: int, root: int = 0) -> Plan:
    """Parameter server: every node sends its vector to the root, which adds them up, then
    the root sends the sum back to every node.

    The textbook picture and the naive baseline: two rounds, but the root sends and
    receives (p-1)·n bytes, p/2 times the lower bound 2(p-1)/p·n (Patarasuk & Yuan 2009),
    so it is the bottleneck as p grows. ``root`` is an int in [0, p); errors as
    :func:`check_node_count`.
    """
    p = check_node_count(p)
    root = check_node("root", root, p)
    others = [i for i in range(p) if i != root]
    if not others:
        return Plan("star", p, 1, (), divide_by=p)
    gather = Round(tuple(Transfer(i, root, (0, 1), "reduce") for i in others),
                   f"gather to root {root}")
    bcast = Round(tuple(Transfer(root, i, (0, 1), "copy") for i in others),
                  f"root {root} broadcasts")
    return Plan("star", p, 1, (gather, bcast), divide_by=p)


# --------------------------------------------------------------------------------------
# binomial tree: reduce to the root, then broadcast
# --------------------------------------------------------------------------------------

def tree(p: int) -> Plan:
    """Binomial tree: reduce to node 0 in ⌈lg p⌉ rounds, then broadcast back in ⌈lg p⌉.

    Improves on the star's root: each round every node sends at most one message, so the
    root's latency term is 2⌈lg p⌉·α instead of 2(p-1)·α; but each message is the whole
    vector, so for long vectors it moves ⌈lg p⌉·n through the root.
    Works for any p: in round k, node i with i mod 2^(k+1) = 2^k sends to i - 2^k.
    Errors as :func:`check_node_count`.
    """
    p = check_node_count(p)
    levels = (p - 1).bit_length()          # ⌈lg p⌉, 0 for p = 1
    reduce_rounds = []
    for k in range(levels):
        step = 1 << k
        sends = tuple(Transfer(i, i - step, (0, 1), "reduce")
                      for i in range(step, p, 2 * step))
        reduce_rounds.append(Round(sends, f"reduce, level {k + 1}"))
    bcast_rounds = []
    for k in reversed(range(levels)):
        step = 1 << k
        sends = tuple(Transfer(i - step, i, (0, 1), "copy")
                      for i in range(step, p, 2 * step))
        bcast_rounds.append(Round(sends, f"broadcast, level {levels - k}"))
    return Plan("tree", p, 1, tuple(reduce_rounds + bcast_rounds), divide_by=p)


# --------------------------------------------------------------------------------------
# non-power-of-two: fold the extra nodes in, and out again
# --------------------------------------------------------------------------------------

def _fold(p: int, blocks: int) -> tuple[int, list[int], Round | None, Round | None]:
    """For p not a power of two (MPICH's approach): with p' = 2^⌊lg p⌋ and r = p - p',
    the first 2r nodes pair up, each even node adds its vector into its odd neighbour and
    sits out; at the end the odd neighbour copies the result back. Returns p', the p'
    nodes that take part (in rank order), and the fold-in / fold-out rounds."""
    p2 = 1 << (p.bit_length() - 1)
    extra = p - p2
    if extra == 0:
        return p2, list(range(p)), None, None
    active = [2 * m + 1 for m in range(extra)] + list(range(2 * extra, p))
    fold_in = Round(tuple(Transfer(2 * m, 2 * m + 1, (0, blocks), "reduce")
                          for m in range(extra)), "fold in: extra nodes hand over")
    fold_out = Round(tuple(Transfer(2 * m + 1, 2 * m, (0, blocks), "copy")
                           for m in range(extra)), "fold out: extra nodes get the result")
    return p2, active, fold_in, fold_out


# --------------------------------------------------------------------------------------
# recursive doubling (butterfly)
# --------------------------------------------------------------------------------------

def recursive_doubling(p: int) -> Plan:
    """Butterfly: in round k each node swaps its whole vector with the node whose rank
    differs in bit k, and both add. lg p rounds, the fewest possible: best for short
    vectors (MPICH's choice below 2 KiB), but every round moves the whole vector.
    Errors as :func:`check_node_count`.
    """
    p = check_node_count(p)
    p2, active, fold_in, fold_out = _fold(p, 1)
    rounds = [fold_in] if fold_in else []
    mask = 1
    while mask < p2:
        sends = tuple(Transfer(active[v], active[v ^ mask], (0, 1), "reduce")
                      for v in range(p2))
        rounds.append(Round(sends, f"exchange at distance {mask}"))
        mask <<= 1
    if fold_out:
        rounds.append(fold_out)
    return Plan("recursive_doubling", p, 1, tuple(rounds), divide_by=p)


# --------------------------------------------------------------------------------------
# the ring's two halves, and the ring: reduce-scatter, then all-gather
# --------------------------------------------------------------------------------------

def ring_shard(node: int, p: int) -> int:
    """The chunk that node ``node`` holds complete after :func:`reduce_scatter` (its
    shard, ``(node + 1) % p``), and contributes to :func:`all_gather`. Errors as
    :func:`check_node`."""
    return (check_node("node", node, p) + 1) % p


def _ring_pass(p: int, offset: int, op: str, what: str) -> tuple[Round, ...]:
    """p − 1 rounds in which node i passes chunk (i + offset − k) mod p, in round k, to
    its right neighbour, which applies ``op``."""
    return tuple(Round(tuple(Transfer(i, (i + 1) % p, (c, c + 1), op)
                             for i in range(p) for c in [(i + offset - k) % p]),
                       f"{what} {k + 1}/{p - 1}") for k in range(p - 1))


def reduce_scatter(p: int, divide: bool = True) -> Plan:
    """Ring reduce-scatter: cut the vector into p chunks; in round k = 0 … p−2 node i
    passes chunk (i − k) mod p to its right neighbour, which adds it. After p − 1 rounds
    node i holds the sum of every node's chunk :func:`ring_shard` = (i + 1) mod p; its
    other chunks hold partial sums, which the caller ignores. ``divide`` (default True)
    divides the sums by p (``divide_by``), giving the mean, as the all-reduce does.

    Each node sends every chunk but its shard once: (p−1)/p·n bytes when p divides n,
    the lower bound for a reduce-scatter (Patarasuk & Yuan 2009; Thakur et al. 2005).
    Errors as :func:`check_node_count`."""
    p = check_node_count(p)
    return Plan("reduce_scatter", p, p, _ring_pass(p, 0, "reduce", "reduce-scatter"),
                divide_by=p if flag("divide", divide) else None)


def all_gather(p: int) -> Plan:
    """Ring all-gather: node i starts with its shard, chunk (i + 1) mod p (where
    :func:`reduce_scatter` leaves it); in round k = 0 … p−2 it copies chunk
    (i + 1 − k) mod p to its right neighbour. After p − 1 rounds every node holds every
    chunk. Each node sends (p−1)/p·n bytes when p divides n, the lower bound.
    Errors as :func:`check_node_count`."""
    p = check_node_count(p)
    return Plan("all_gather", p, p, _ring_pass(p, 1, "copy", "all-gather"))


def ring(p: int) -> Plan:
    """Ring all-reduce (Patarasuk & Yuan 2009; Baidu; Horovod): a :func:`reduce_scatter`
    (p−1 rounds; node i ends with the full sum of chunk i+1), then an :func:`all_gather`
    (p−1 rounds passing the finished chunks around the ring) — literally their rounds,
    one after the other.

    Each node sends 2(p-1)/p·n bytes, the lower bound, whatever p is: bandwidth-optimal.
    The price is 2(p-1) rounds, so the latency term grows linearly with p.
    Errors as :func:`check_node_count`.
    """
    p = check_node_count(p)
    return Plan("ring", p, p, reduce_scatter(p).rounds + all_gather(p).rounds, divide_by=p)


# --------------------------------------------------------------------------------------
# broadcast: naive (the root sends everything to everyone), then scatter + all-gather
# --------------------------------------------------------------------------------------

def broadcast_star(p: int, root: int = 0) -> Plan:
    """Naive broadcast: the root copies its whole vector to every other node in one round,
    sending (p−1)·n bytes itself. Errors as :func:`star`."""
    p = check_node_count(p)
    root = check_node("root", root, p)
    sends = tuple(Transfer(root, i, (0, 1), "copy") for i in range(p) if i != root)
    return Plan("broadcast_star", p, 1, (Round(sends, f"root {root} sends all"),) if sends
                else ())


def broadcast(p: int, root: int = 0) -> Plan:
    """Broadcast for long vectors, scatter then all-gather (van de Geijn's algorithm, as
    MPICH uses it: Thakur et al. 2005): the root sends node i its shard, chunk
    (i + 1) mod p, in one round, then the :func:`all_gather` rounds complete every node.
    The root sends 2(p−1)/p·n bytes instead of the star's (p−1)·n, every other node
    (p−1)/p·n, at p − 1 more rounds. Errors as :func:`star`."""
    p = check_node_count(p)
    root = check_node("root", root, p)
    scatter = tuple(Transfer(root, i, (ring_shard(i, p), ring_shard(i, p) + 1), "copy")
                    for i in range(p) if i != root)
    first = (Round(scatter, f"root {root} scatters"),) if scatter else ()
    return Plan("broadcast", p, p, first + all_gather(p).rounds)


def point_to_point(p: int, src: int, dst: int) -> Plan:
    """One message: node ``src`` copies its whole vector to node ``dst`` (MPI's send and
    receive, as a plan; a pipeline stage passing activations on). ``ValueError`` for a
    node outside 0 … p−1 or ``src == dst``."""
    p = check_node_count(p)
    src, dst = check_node("src", src, p), check_node("dst", dst, p)
    if src == dst:
        raise ValueError(f"src and dst must be different nodes, got {src} for both")
    return Plan("point_to_point", p, 1, (Round((Transfer(src, dst, (0, 1), "copy"),),
                                               f"{src} sends to {dst}"),))


# --------------------------------------------------------------------------------------
# Rabenseifner: recursive halving, then recursive doubling
# --------------------------------------------------------------------------------------

def rabenseifner(p: int) -> Plan:
    """Rabenseifner (CUG 2004; Thakur et al. 2005): a reduce-scatter by recursive halving
    (each round swap half of what you are responsible for with the partner at distance
    p/2, p/4, …, 1), then an all-gather by recursive doubling (distance 1, 2, …, p/2).

    Bandwidth-optimal like the ring, 2(p-1)/p·n bytes per node, with 2 lg p rounds
    instead of 2(p-1): the practical choice for long vectors (MPICH, Open MPI).
    For p not a power of two, two fold rounds add n bytes at the extra nodes.
    Errors as :func:`check_node_count`.
    """
    p = check_node_count(p)
    p2, active, fold_in, fold_out = _fold(p, max(1 << (p.bit_length() - 1), 1))
    blocks = p2
    rounds = [fold_in] if fold_in else []
    mask = p2 >> 1
    while mask >= 1:                                   # recursive halving
        sends = []
        for v in range(p2):
            base = (v // (2 * mask)) * 2 * mask
            lower, upper = (base, base + mask), (base + mask, base + 2 * mask)
            give = upper if v & mask == 0 else lower  # keep my half, send the other
            sends.append(Transfer(active[v], active[v ^ mask], give, "reduce"))
        rounds.append(Round(tuple(sends), f"halving at distance {mask}"))
        mask >>= 1
    mask = 1
    while mask < p2:                                   # recursive doubling
        sends = []
        for v in range(p2):
            base = (v // mask) * mask
            sends.append(Transfer(active[v], active[v ^ mask], (base, base + mask), "copy"))
        rounds.append(Round(tuple(sends), f"doubling at distance {mask}"))
        mask <<= 1
    if fold_out:
        rounds.append(fold_out)
    return Plan("rabenseifner", p, blocks, tuple(rounds), divide_by=p)


EXACT_BUILDERS = {
    "star": star,
    "tree": tree,
    "ring": ring,
    "recursive_doubling": recursive_doubling,
    "rabenseifner": rabenseifner,
}
