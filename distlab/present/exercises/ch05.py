"""Self-checks for chapter 05 (项目实践)."""
from distlab.present.exercises import Exercise, number, register

register(Exercise(
    id="05.submit",
    question="`client.submit(x)` needs x to be what kind of object? (one word)",
    is_correct=lambda a: a.lower().strip(" .") in {"callable", "function"},
    hint="read the TypeError the document's listing raised: 'First input to submit must be a …'",
))
register(Exercise(
    id="05.tasks",
    question="parallel_computation(client, data) with its default partitions on a cluster "
             "of 2 workers: how many summing tasks does it submit for a 100×100 array?",
    is_correct=lambda a: a == 2,
    parse=lambda s: int(number(s)),
    hint="one contiguous block per worker, so each task is big enough to be worth its overhead",
))
register(Exercise(
    id="05.sum-preserved",
    question="After data_sync of the 100 rows of an array (each row one node), what is the "
             "ratio sum(synced rows) / sum(original rows)?",
    is_correct=lambda a: abs(a - 1.0) < 1e-9,
    parse=number,
    hint="every node gets the mean; N copies of the mean add up to the original sum",
))
