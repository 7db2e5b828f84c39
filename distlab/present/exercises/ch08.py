"""Self-checks for chapter 08 (总结：未来发展趋势与挑战)."""
from distlab.present.exercises import Exercise, number, register

register(Exercise(
    id="08.efficiency",
    question="A step costs 1 s of compute on one node. On 4 nodes the compute splits "
             "evenly and the all-reduce adds 0.25 s. What is the parallel efficiency "
             "T₁ / (N · T_N)?",
    is_correct=lambda a: abs(a - 0.5) < 1e-9,
    parse=number,
    hint="T_N = 1/4 + 0.25 = 0.5 s, so the speed-up is 2 on 4 nodes",
))
register(Exercise(
    id="08.tasks",
    question="A job of 256 rows cut into partitions of 32 rows, run on 2 workers: how many "
             "compute tasks does it submit?",
    is_correct=lambda a: a == 8,
    parse=lambda s: int(number(s)),
    hint="one task per partition, whatever the number of workers: 256 / 32",
))
register(Exercise(
    id="08.star-growth",
    question="Star all-reduce of n bytes: the root sends (p − 1)·n. Going from 8 to 64 "
             "nodes, by what factor does the root's traffic grow?",
    is_correct=lambda a: abs(a - 9) < 1e-9,
    parse=number,
    hint="(64 − 1) / (8 − 1); the ring's per-node traffic 2(p − 1)/p · n barely changes",
))
