"""Self-checks for chapter 09 (附录：常见问题与解答)."""
from distlab.present.exercises import Exercise, number, register

register(Exercise(
    id="09.quorum",
    question="N = 5 replicas, writes wait for W = 3 of them. What is the smallest read "
             "quorum R that makes every read see the latest completed write?",
    is_correct=lambda a: a == 3,
    parse=lambda s: int(number(s)),
    hint="a read and the last write must share a replica: R + W > N",
))
register(Exercise(
    id="09.term",
    question="What is the Chinese term the document uses for 'eventual consistency'?",
    is_correct=lambda a: str(a).strip() == "最终一致性",
    hint="look it up: glossary.lookup('eventual consistency').chinese",
))
register(Exercise(
    id="09.amdahl",
    question="A job whose parallel part is 95 % of the single-worker time: what is the "
             "largest speed-up any number of workers can give?",
    is_correct=lambda a: abs(a - 20) < 1e-6,
    parse=number,
    hint="Amdahl: S(∞) = 1 / (1 − f)",
))
