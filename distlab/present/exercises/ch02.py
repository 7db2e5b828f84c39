"""Self-checks for chapter 02 (核心概念与联系)."""
from distlab.present.exercises import Exercise, number, register

register(Exercise(
    id="02.quorum",
    question="A store has N = 5 replicas and write quorum W = 3. What is the smallest read "
             "quorum R for which every read quorum meets every write quorum?",
    is_correct=lambda a: a == 3,
    parse=lambda s: int(number(s)),
    hint="two sets of R and W out of N replicas must share one: R + W > N",
))
register(Exercise(
    id="02.nines",
    question="Each replica is up 99 % of the time, independently of the others. How many "
             "nines of availability has a service that needs any one of 3 replicas up?",
    is_correct=lambda a: abs(a - 6) < 0.05,
    parse=number,
    hint="it is down only when all 3 are down: 1 − 0.01³; nines = −log10(1 − availability)",
))
register(Exercise(
    id="02.amdahl",
    question="A job is 90 % parallel (f = 0.9). By Amdahl's law, what is the largest "
             "speed-up any number of workers can give it?",
    is_correct=lambda a: abs(a - 10) < 1e-6,
    parse=number,
    hint="with p → ∞, S = 1 / ((1 − f) + f/p) → 1 / (1 − f)",
))
register(Exercise(
    id="02.lpt",
    question="Tasks of 5, 4, 3, 3 and 3 seconds run on 2 workers, longest first, each task "
             "going to the least-loaded worker. What is the makespan in seconds? (Is it the "
             "best possible?)",
    is_correct=lambda a: abs(a - 10) < 1e-9,
    parse=number,
    hint="5 → w0, 4 → w1, then each 3 to whichever has less so far; the optimum is 9 "
         "({5, 4} and {3, 3, 3}): Graham's rule is good, not perfect",
))
