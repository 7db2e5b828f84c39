"""Soak (issue 15, item 4): over a thousand mixed all-reduce calls on a cluster of its own
(4 workers), every engine, algorithm, size from 0 to 8 MiB (mostly small), 1 to 5 nodes,
with seeded worker kills between calls and during some. Every call that completes equals
the simulator to the last bit and numpy's mean to a few ulps; a call hit by a kill fails
with WorkerLost naming the worker; no call hangs; nothing is left behind."""
import concurrent.futures
import gc
import math
import sys
import threading
import time
from collections import Counter

import cloudpickle
import numpy as np

import pytest

import distlab
from distlab.concepts.gossip import GOSSIP_ALGORITHMS
from distlab.engines import dask_private
from distlab.engines.allreduce import ALGORITHMS, EXACT_ALGORITHMS, allreduce
from distlab.engines.direct import RUN as NAIVE_RUN
from distlab.engines.direct_fast import runner_of
from distlab.engines.inputs import working_dtype
from distlab.engines.result import WorkerLost
from distlab.engines.spmd import run_ranks
from distlab.engines.workers import kill_worker, wait_for_workers

cloudpickle.register_pickle_by_value(sys.modules[__name__])

SEED = 15
CALLS = 1000                 # at least; an SPMD run counts its calls
KILLS_BETWEEN, KILLS_DURING = 16, 4
WORKERS = 4
CALL_TIMEOUT = 30.0          # seconds: a call that takes longer hangs
SIZES = [0, 8, 64, 512, 4096, 32_768, 262_144, 2**20, 8 * 2**20]     # bytes per node
SIZE_WEIGHTS = [0.05, 0.17, 0.17, 0.17, 0.17, 0.12, 0.09, 0.04, 0.02]


@pytest.fixture(scope="module")
def client():
    with distlab.connect(n_workers=WORKERS) as client:
        client.wait_for_workers(WORKERS)
        yield client


def _tables(dask_worker) -> dict:
    fast = runner_of(dask_worker)
    naive = getattr(dask_private.handler_of(dask_worker, NAIVE_RUN), "__self__", None)
    sizes = {"handlers": len(dask_worker.handlers), "fast targets": len(fast.wire.targets)}
    for name, runner in (("fast", fast), ("naive", naive)):
        if runner is not None:
            sizes.update({f"{name} slots": len(runner.mailbox.slots),
                          f"{name} running": len(runner.mailbox.running),
                          f"{name} watched": len(runner.watched)})
    return sizes


def spmd_calls(group, plan):
    """Runs on every rank: the calls in ``plan``, each ``(algorithm, n_bytes, seed)``, on
    the rank's share of :func:`node_values` (made here: sending them would cost more)."""
    return [group.allreduce(node_values(seed, group.size, n_bytes)[group.rank], algorithm)
            for algorithm, n_bytes, seed in plan]


def node_values(seed: int, p: int, n_bytes: int):
    rng = np.random.default_rng(seed)
    dtype = rng.choice([np.float64, np.float64, np.float64, np.float32, np.int16, np.int64])
    n = n_bytes // np.dtype(dtype).itemsize
    if np.dtype(dtype).kind == "f":
        return [(rng.normal(size=n) * 10.0 ** rng.integers(-3, 4)).astype(dtype)
                for _ in range(p)]
    return [rng.integers(-1000, 1000, size=n).astype(dtype) for _ in range(p)]


def check(values, algorithm, got) -> None:
    """``got`` is the simulator's result bit for bit, and numpy's mean to a few ulps."""
    expected = allreduce(values, algorithm).values
    assert all(np.array_equal(e, g) and e.dtype == g.dtype for e, g in zip(expected, got))
    stack = np.stack([np.asarray(v, dtype=np.float64) for v in values])
    work = working_dtype([v.dtype for v in values])
    scale = max(float(np.abs(stack).max(initial=0.0)), np.finfo(work).tiny)
    bound = (len(values) / 2 + 1) * np.finfo(work).eps
    if algorithm in GOSSIP_ALGORITHMS:
        bound += 1e-6 * math.sqrt(len(values))
    worst = max((float(np.abs(np.asarray(g, np.float64) - stack.mean(axis=0)).max(initial=0))
                 for g in got), default=0.0)
    assert worst <= bound * scale, (algorithm, worst / scale, bound)


def test_soak(client):
    rng = np.random.default_rng(SEED)
    pool = concurrent.futures.ThreadPoolExecutor(1)

    def within_timeout(run):
        return pool.submit(run).result(timeout=CALL_TIMEOUT)

    for engine in ("direct", "direct_naive"):           # installs both engines' handlers
        allreduce([1.0, 2.0], "ring", client=client, dask_engine=engine)
    survivors = set(client.nthreads())
    handlers = {w: s["handlers"] for w, s in client.run(_tables).items()}
    # after which call each kill comes: between calls, or during the next direct call
    between = sorted(rng.choice(np.arange(20, CALLS), KILLS_BETWEEN, replace=False))
    during = sorted(rng.choice(np.arange(20, CALLS), KILLS_DURING, replace=False))
    done, killed, lost, due, counts, seconds = 0, 0, 0, 0, Counter(), Counter()
    start = time.monotonic()
    while done < CALLS or due:
        while during and during[0] <= done:
            due += 1
            during.pop(0)
        kill_now = bool(between) and between[0] <= done
        live = sorted(client.nthreads())
        if due or kill_now:
            if len(live) < 3:                          # keep two at least
                wait_for_workers(client, 3)
                live = sorted(client.nthreads())
        tick = time.monotonic()
        if kill_now:
            between.pop(0)
            victim = str(rng.choice(live))
            kill_worker(client, victim, wait_for_replacement=False)
            survivors.discard(victim)
            killed += 1
            live.remove(victim)
        n_bytes = int(rng.choice(SIZES, p=SIZE_WEIGHTS))
        engine = str(rng.choice(["direct", "direct_naive", "tasks", "spmd"],
                                p=[0.55, 0.15, 0.15, 0.15]))
        algorithm = str(rng.choice(ALGORITHMS if n_bytes <= 65536 else EXACT_ALGORITHMS))
        if engine == "tasks" and algorithm == "gossip_random":
            algorithm = "ring"                         # hundreds of tasks per call
        if engine == "spmd":
            p = int(rng.integers(1, len(live) + 1))
            plan = [(str(rng.choice(ALGORITHMS if n_bytes <= 65536 else EXACT_ALGORITHMS)),
                     n_bytes, int(rng.integers(2**31))) for _ in range(2)]
            ranks = [str(w) for w in rng.choice(live, p, replace=False)]
            out = within_timeout(lambda: run_ranks(client, spmd_calls, plan, workers=ranks,
                                                   timeout=20))
            for k, (algorithm, n_bytes, seed) in enumerate(plan):
                check(node_values(seed, p, n_bytes), algorithm, [out[r][k] for r in range(p)])
            done += len(plan)
            counts["spmd"] += len(plan)
            seconds["spmd"] += time.monotonic() - tick
            continue
        hit = due and engine != "tasks"       # a large call, to be killed in the middle
        if hit:
            n_bytes, algorithm = SIZES[-1], str(rng.choice(EXACT_ALGORITHMS))
        p = 4 if hit else int(rng.integers(1, 6))
        homes = [str(w) for w in rng.choice(live, p, replace=p > len(live))]
        values = node_values(int(rng.integers(2**31)), p, n_bytes)
        as_futures = rng.random() < 0.2 and not hit   # plain values: gathered in the call
        inputs = ([client.scatter(v, workers=[h], direct=True, hash=False)
                   for v, h in zip(values, homes)] if as_futures else values)
        timer = None
        if hit:
            due -= 1
            victim = homes[-1]
            timer = threading.Timer(0.0, kill_worker, (client, victim),
                                    {"wait_for_replacement": False})
            timer.start()
        try:
            result = within_timeout(lambda: allreduce(inputs, algorithm, client=client,
                                                      workers=homes, dask_engine=engine))
            check(values, algorithm, result.values)
        except WorkerLost as error:
            assert timer is not None, f"a call failed without a fault: {error!r}"
            assert victim in str(error)
            lost += 1
        if timer is not None:
            timer.join()
            assert settled(lambda: victim not in client.nthreads())
            survivors.discard(victim)
            killed += 1
        result = inputs = None
        done += 1
        counts[engine] += 1
        seconds[engine] += time.monotonic() - tick
    elapsed = time.monotonic() - start
    print(f"soak: {done} calls {dict(counts)}, {killed} kills ({lost} calls lost), "
          f"{elapsed:.0f} s ({ {k: round(v) for k, v in seconds.items()} })")
    assert done >= CALLS and killed == KILLS_BETWEEN + KILLS_DURING >= 20

    # nothing is left behind: no keys on the scheduler, no entries in any worker's tables,
    # and the survivors have the handlers they started with
    wait_for_workers(client, WORKERS)
    gc.collect()
    assert settled(lambda: not client.run_on_scheduler(
        lambda dask_scheduler: [str(k) for k in dask_scheduler.tasks])), \
        client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.tasks))[:10]
    now = client.run(_tables)
    for address, sizes in now.items():
        assert not {k: v for k, v in sizes.items() if k != "handlers" and v}, (address, sizes)
    for address in survivors & set(now):
        assert now[address]["handlers"] == handlers[address]


def settled(condition, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
