"""Reference solutions of the coding exercises, written the way a learner would write them.

Each function here is the ``answer_from`` of one exercise in ``data/exercises.toml``; the
tests check that it passes its checker (:mod:`distlab.present.exercise_checks` or
:mod:`distlab.present.exercise_model_checks`), and the chapter's hidden solution cell
prints its source with ``inspect.getsource``. They use the
package's public functions and plain numpy, nothing the chapter has not shown.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from distlab.apps.training import gradient
from distlab.concepts import plans, sizing
from distlab.concepts.cost import bytes_per_node, plan_time
from distlab.concepts.pipeline import Step


def throw(seed, darts):
    """00.seeded-task: how many of `darts` seeded points of the unit square land in the
    quarter circle. Its own generator, seeded: the same count on any worker, any time."""
    rng = np.random.default_rng(seed)
    x, y = rng.random(darts), rng.random(darts)
    return int(np.count_nonzero(x * x + y * y <= 1.0))


def devices_needed(parameters, tokens, days, device_gb=80, peak_tflops=312, utilization=0.4):
    """01.plan-devices: enough devices to hold the training state AND to finish in time."""
    for_memory = sizing.devices_for_memory(sizing.memory_bytes(parameters), device_gb)
    flops = sizing.training_flops(parameters, tokens)                       # 6 N D
    per_device = peak_tflops * 1e12 * utilization * days * 86_400           # FLOPs in `days`
    return max(for_memory, math.ceil(flops / per_device))


def partition(costs, parts):
    """02.partition: consecutive runs of tasks whose largest total cost is smallest.
    Dynamic programming: best[k][i] is the smallest largest part when the first i tasks
    are cut into k parts; O(parts · n²), fine for a chapter's tens of tasks."""
    n = len(costs)
    prefix = [0.0]
    for c in costs:
        prefix.append(prefix[-1] + c)
    best = [[math.inf] * (n + 1) for _ in range(parts + 1)]
    cut = [[0] * (n + 1) for _ in range(parts + 1)]
    best[0][0] = 0.0
    for k in range(1, parts + 1):
        for i in range(k, n + 1):
            for j in range(k - 1, i):                     # the last part is tasks j … i-1
                largest = max(best[k - 1][j], prefix[i] - prefix[j])
                if largest < best[k][i]:
                    best[k][i], cut[k][i] = largest, j
    result, i = [], n
    for k in range(parts, 0, -1):
        result.append(list(range(cut[k][i], i)))
        i = cut[k][i]
    return result[::-1]


def read_gaps(writes, sync_every):
    """03.read-gaps: the data-sync algorithm, write → (sync) → read, for every write; the
    read gap is how far any replica is from the mean of all of them."""
    state = np.zeros(writes.shape[1:])                 # (nodes, size): one replica per node
    gaps = []
    for k, write in enumerate(writes):
        state = state + write                                       # step 2: write
        if (k + 1) % sync_every == 0 or k == len(writes) - 1:       # step 3: sync (and last)
            state = np.tile(state.mean(axis=0), (len(state), 1))
        gaps.append(float(np.abs(state - state.mean(axis=0)).max()))  # step 4: read
    return gaps


def ring_rounds(p):
    """04.ring-plan: p − 1 reduce-scatter rounds, then p − 1 all-gather rounds; in each,
    node i sends one chunk to its right neighbour."""
    rounds = []
    for k in range(p - 1):              # after it, node i holds the sum of chunk (i + 1) % p
        rounds.append([(i, (i + 1) % p, (i - k) % p, "reduce") for i in range(p)])
    for k in range(p - 1):              # pass the finished chunks on around the ring
        rounds.append([(i, (i + 1) % p, (i + 1 - k) % p, "copy") for i in range(p)])
    return rounds


def average(client, futures):
    """05.average-futures: submit the function, with the futures as its arguments; Dask
    brings their values to one worker and runs np.mean there."""
    return client.submit(np.mean, futures, axis=0)


def pick_h(budget_bytes):
    """06.pick-h: the smallest H dividing 96 whose 96 / H all-reduces fit the budget."""
    model = 65 * 10                                                   # float64 parameters
    plan = plans.recursive_doubling(4)                                # chapter 06's all-reduce
    per_round = int(bytes_per_node(plan, model, 8)[0].sum())          # all 4 nodes: 41,600
    for h in range(1, 97):
        if 96 % h == 0 and 96 // h * per_round <= budget_bytes:
            return h
    return None                                          # not even one all-reduce fits


def ddp_step(group, params, X, y, lr):
    """07.ddp-step: every rank runs this (SPMD): its own gradient, the mean over the ranks
    (the all-reduce DDP runs in its backward hooks), the same step everywhere."""
    g = gradient(params, X, y)
    return params - lr * group.allreduce(g)


def fastest(p, n_bytes, network):
    """08.autotune: price every exact plan with the α-β model, keep the cheapest."""
    times = {name: plan_time(build(p), n_bytes // 8, 8, network)
             for name, build in plans.EXACT_BUILDERS.items()}
    return min(times, key=times.get)


def linearizable(history):
    """09.linearizable: try every order of the operations; one that respects real time and
    in which every read returns the latest write (or the initial None) is enough."""
    for order in itertools.permutations(history):
        if any(b.precedes(a) for i, a in enumerate(order) for b in order[i + 1:]):
            continue                                   # b finished before a began
        value, legal = None, True
        for op in order:
            if op.kind == "write":
                value = op.value
            elif op.value != value:
                legal = False
                break
        if legal:
            return True
    return False


def replicas_for(mtbf_hours, mttr_hours, nines, need):
    """02.replicas: add replicas until the service reaches the nines. A node is up
    A = MTBF / (MTBF + MTTR); "any" is down only when all n are; "majority" needs
    n // 2 + 1 of them up, a binomial sum."""
    a = mtbf_hours / (mtbf_hours + mttr_hours)
    for n in range(1, 100):
        if need == "any":
            up = 1 - (1 - a) ** n
        else:
            up = sum(math.comb(n, k) * a ** k * (1 - a) ** (n - k)
                     for k in range(n // 2 + 1, n + 1))
        if up == 1 or -math.log10(1 - up) >= nines:
            return n
    return None                                     # not even 99 replicas will do


def session_violations(history, versions):
    """02.sessions: walk each client's operations in order (c0' is c0 after a timeout),
    remembering the newest value it wrote and the newest it read; a read older than
    either breaks read your writes or monotonic reads."""
    def age(value):                                  # the initial None is the oldest
        return (0,) if value is None else (1, versions[value])

    found = []
    clients = {op.process.rstrip("'") for op in history}
    for client in sorted(clients):
        wrote = read = None
        for op in sorted((o for o in history if o.process.rstrip("'") == client
                          and o.complete is not None), key=lambda o: o.invoke):
            if op.kind == "write":
                if wrote is None or age(op.value) > age(wrote):
                    wrote = op.value
                continue
            if wrote is not None and age(op.value) < age(wrote):
                found.append(("read your writes", op))
            if read is not None and age(op.value) < age(read):
                found.append(("monotonic reads", op))
            if read is None or age(op.value) > age(read):
                read = op.value
    return found


def capped_one_f_one_b(p, m, cap):
    """10.capped-1f1b: 1F1B whose warm-up stops at the cap. Stage i holds at most
    warm + 1 micro-batches, so it warms up with min(cap, p − i, m) − 1 forwards; stages
    near the end of the pipe need fewer than the cap, and warming them up more only
    delays the backward passes the stages before them wait for."""
    order = []
    for i in range(p):
        warm = min(cap, p - i, m) - 1              # forwards ahead of the first backward
        forwards = [Step(i, j, "F") for j in range(m)]
        backwards = [Step(i, j, "B") for j in range(m)]
        steps = forwards[:warm]
        for forward, backward in zip(forwards[warm:], backwards):    # one forward, one backward
            steps += [forward, backward]
        order.append(steps + backwards[m - warm:])                   # drain the rest
    return order
