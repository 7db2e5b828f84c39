"""Self-checks for chapter 06 (实际应用场景)."""
from distlab.present.exercises import Exercise, number, register, yes

register(Exercise(
    id="06.equivalence",
    question="With plain SGD and the same mini-batches, does averaging the *parameters* "
             "after every single step (local SGD with H = 1) give the same model as "
             "averaging the *gradients* (synchronous SGD)? (yes/no)",
    is_correct=yes,
    hint="write node i's step as θ − η·g_i and take the mean over i: the mean of "
         "θ − η·g_i is θ − η·mean(g_i)",
))
register(Exercise(
    id="06.local-rounds",
    question="Local SGD with H = 16 local steps per round, 4 nodes: after 6 communication "
             "rounds, how many SGD steps has each node taken?",
    is_correct=lambda a: a == 96,
    parse=lambda s: int(number(s)),
    hint="every round is H steps on the node's own shard, then one all-reduce: look at "
         "the 'steps' column of the local-SGD history",
))
register(Exercise(
    id="06.hedge-load",
    question="Hedged requests sent after the 95th-percentile latency: about what "
             "percentage of requests go out twice?",
    is_correct=lambda a: 4 <= a <= 6,
    parse=lambda s: number(s.rstrip("% ")),
    hint="a request is duplicated only if its first answer is later than the threshold; "
         "by definition of the 95th percentile, that is 100 − 95 of every 100",
))
register(Exercise(
    id="06.hot-load",
    question="After replicating the hot items and sending their updates to the "
             "least-loaded replica, what is the smallest possible max/mean shard load?",
    is_correct=lambda a: abs(a - 1.0) < 1e-9,
    parse=number,
    hint="the max can never be below the mean; perfect balance means every shard gets "
         "exactly the mean",
))
