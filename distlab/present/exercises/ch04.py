"""Self-checks for chapter 04 (数学模型和公式)."""
from distlab.present.exercises import Exercise, number, register

register(Exercise(
    id="04.mean",
    question="Nodes hold 10, 20 and 30. What does node 3 hold after X_i' = (1/N) Σ_j X_j?",
    is_correct=lambda a: abs(a - 20) < 1e-9,
    parse=number,
    hint="add the three values and divide by the number of nodes",
))
register(Exercise(
    id="04.ring-rounds",
    question="How many communication rounds does the ring all-reduce take on 8 nodes?",
    is_correct=lambda a: a == 14,
    parse=lambda s: int(number(s)),
    hint="p − 1 rounds of reduce-scatter, then p − 1 of all-gather",
))
register(Exercise(
    id="04.ring-bytes",
    question="Ring all-reduce on 4 nodes, each holding 1 MB: how many MB does each node "
             "send in total?",
    is_correct=lambda a: abs(a - 1.5) < 1e-9,
    parse=number,
    hint="2(p − 1)/p · n: each of 2(p − 1) rounds sends one chunk of n/p",
))
register(Exercise(
    id="04.star-root",
    question="Star (parameter server) on 64 nodes: the root sends how many times the "
             "lower bound 2(p − 1)/p · n?",
    is_correct=lambda a: abs(a - 32) < 1e-9,
    parse=number,
    hint="the root sends (p − 1)·n; divide by 2(p − 1)/p · n",
))
register(Exercise(
    id="04.gossip-ring",
    question="Pure neighbour averaging on an even ring (W = A/2, no self-weight) never "
             "converges. Which eigenvalue of W causes it?",
    is_correct=lambda a: abs(a + 1) < 1e-9,
    parse=number,
    hint="alternate +1, −1 around an even ring: what does W do to that vector?",
))
