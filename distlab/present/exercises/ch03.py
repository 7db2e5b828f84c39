"""Self-checks for chapter 03 (核心算法原理 & 具体操作步骤)."""
from distlab.present.exercises import Exercise, number, register, yes

register(Exercise(
    id="03.sync-count",
    question="Each node makes 12 writes. Syncing after every write (strong consistency) "
             "takes how many all-reduces? (Batching them takes 1.)",
    is_correct=lambda a: a == 12,
    parse=lambda s: int(number(s)),
    hint="replay(writes, sync_every=1) counts one all-reduce per write: look at the last "
         "row of its history",
))
register(Exercise(
    id="03.linear",
    question="With averaging as the sync step, do the replicas end with the same values "
             "whether you sync after every write or once after all of them? (yes/no)",
    is_correct=yes,
    hint="the mean of sums is the sum of means: compare replay(w, 1)['final'] with "
         "replay(w, len(w))['final']",
))
register(Exercise(
    id="03.partition",
    question="Step 1 of the parallelisation algorithm cuts 10 rows into 4 partitions with "
             "numpy.array_split. How many rows has the largest partition?",
    is_correct=lambda a: a == 3,
    parse=lambda s: int(number(s)),
    hint="10 = 4 × 2 + 2: the first 10 % 4 partitions get one row more",
))
