"""Faults from the field on a real cluster (issue 15, items 1, 4 and 5): sums that overflow
give the simulator's bits on every engine; a worker SIGKILLed in the middle of a direct,
task-engine or SPMD all-reduce ends the call at once with an error naming it, leaves
nothing behind, and the next call works; ranks that disagree are told so."""
import sys
import threading
import time

import cloudpickle
import numpy as np
import pytest

import distlab
from distlab.engines import dask_private
from distlab.engines.allreduce import DASK_ENGINES, EXACT_ALGORITHMS, allreduce
from distlab.engines.direct import RUN as NAIVE_RUN
from distlab.engines.direct_fast import runner_of
from distlab.engines.result import WorkerLost
from distlab.engines.spmd import run_ranks
from distlab.engines.workers import kill_worker, submit_on, wait_for_workers

# the workers cannot import this file: send its functions by value
cloudpickle.register_pickle_by_value(sys.modules[__name__])

#: Seconds from the scheduler's noticing a loss to the call's error (the issue's bound).
PROMPT = 5.0


@pytest.fixture(scope="module")
def client():
    """A cluster of its own: these tests kill its workers."""
    with distlab.connect(n_workers=2) as client:
        client.wait_for_workers(2)
        yield client


def workers_of(client) -> list[str]:
    return sorted(client.nthreads())


# ------------------------------------------------------------------ what a call leaves

def _tables(dask_worker) -> dict:
    """Runs on a worker: the sizes of both direct engines' per-call tables."""
    sizes = {"handlers": len(dask_worker.handlers)}
    fast = runner_of(dask_worker)
    naive = getattr(dask_private.handler_of(dask_worker, NAIVE_RUN), "__self__", None)
    for name, runner in (("fast", fast), ("naive", naive)):
        if runner is None:
            continue
        sizes[f"{name} slots"] = len(runner.mailbox.slots)
        sizes[f"{name} running"] = len(runner.mailbox.running)
        sizes[f"{name} watched"] = len(runner.watched)
    sizes["fast targets"] = len(fast.wire.targets)
    return sizes


def tables(client) -> dict:
    return client.run(_tables)


def scheduler_keys(client) -> set:
    return set(client.run_on_scheduler(
        lambda dask_scheduler: [str(k) for k in dask_scheduler.tasks]))


def settled(check, timeout: float = 10.0):
    """``check()`` once it is true (releases travel asynchronously), else its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def assert_clean(client, before_keys: set) -> None:
    """Nothing of a failed call is left: no keys on the scheduler, no slots, landing
    targets, running nodes or watched calls on any worker."""
    import gc
    gc.collect()
    assert settled(lambda: not scheduler_keys(client) - before_keys), \
        scheduler_keys(client) - before_keys
    for address, sizes in tables(client).items():
        assert not {k: v for k, v in sizes.items() if k != "handlers" and v}, (address, sizes)


def in_thread(run):
    """Start ``run()`` in a thread; its outcome lands in the returned dict with the
    monotonic time it ended."""
    out = {}

    def target():
        try:
            out["value"] = run()
        except BaseException as exc:                 # the error is what we test
            out["error"] = exc
        out["ended"] = time.monotonic()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, out


def hog(mib: int, dask_worker=None) -> None:
    """Runs on a worker: hold ``mib`` MiB, as a task that needs too much memory would."""
    dask_worker.distlab_test_hog = np.ones(mib * 2**20 // 8)


def kill_during(client, victim: str, thread, out, by_memory: bool = False,
                join: float = PROMPT + 30) -> BaseException:
    """Kill ``victim`` while ``thread``'s call runs (SIGKILL, or ``by_memory``: make its
    Nanny restart it for passing 95 % of its memory limit); the call's error, checked to
    come within :data:`PROMPT` seconds of the scheduler's noticing the loss and to name
    the victim."""
    time.sleep(1.0)
    assert thread.is_alive(), f"the call ended before the kill: {out}"
    if by_memory:
        limit = client.run(lambda dask_worker: dask_worker.memory_manager.memory_limit,
                           workers=[victim])[victim]
        try:
            client.run(hog, int(limit / 2**20), workers=[victim])
        except OSError:                          # killed before it could answer
            pass
        assert settled(lambda: victim not in client.nthreads(), timeout=30)
    else:
        kill_worker(client, victim, wait_for_replacement=False)
    lost = time.monotonic()
    thread.join(join)
    assert "error" in out, f"the call did not fail: {out}"
    error = out["error"]
    assert out["ended"] - lost < PROMPT, f"{out['ended'] - lost:.1f} s: {error!r}"
    assert victim in str(error), repr(error)
    assert "left the cluster" in str(error)
    wait_for_workers(client, 2)
    return error


# ------------------------------------------------------------------ 1. overflow, on a cluster

@pytest.mark.parametrize("dask_engine", list(DASK_ENGINES))
def test_sums_that_overflow_give_the_simulators_bits_on_every_engine(client, dask_engine):
    a, b = workers_of(client)
    f32 = [np.float32([3e38, 1.0, 2e-38]), np.float32([3e38, 2.0, 3e-38]),
           np.float32([-1.5e38, 4.0, 1e-45])]
    f64 = [np.array([1e308, -1e308, 3.0]), np.array([1e308, -1e307, 5e-324])]
    for values, homes in ((f32, [a, b, a]), (f64, [a, b])):
        for algorithm in EXACT_ALGORITHMS:
            sim = allreduce(values, algorithm)
            live = allreduce(values, algorithm, client=client, workers=homes,
                             dask_engine=dask_engine)
            assert all(np.array_equal(s, v) and np.all(np.isfinite(v))
                       for s, v in zip(sim.values, live.values)), (algorithm, live.values)


def overflow_ranks(group, values, algorithm):
    return group.allreduce(values[group.rank], algorithm)


def test_sums_that_overflow_give_the_simulators_bits_on_the_ranks(client):
    values = [np.array([1e308, 1.0, 7e-310]), np.array([1e308, 2.0, 3e-310])]
    for algorithm in EXACT_ALGORITHMS:
        expected = allreduce(values, algorithm).values
        got = run_ranks(client, overflow_ranks, values, algorithm)
        assert all(np.array_equal(e, g) for e, g in zip(expected, got)), algorithm
    f32 = [np.float32([3e38, 3e38]), np.float32([3e38, -3e38])]
    assert all(np.array_equal(e, g) for e, g in zip(
        allreduce(f32, "ring").values, run_ranks(client, overflow_ranks, f32, "ring")))


# ------------------------------------------------------------------ 4. a worker killed

@pytest.mark.parametrize("dask_engine", ["direct", "direct_naive"])
def test_a_worker_killed_during_a_direct_call_fails_it_at_once(client, dask_engine):
    """Gossip on 32 nodes over both workers runs for seconds, message after message:
    the kill lands in the middle. The client's connection to the victim closes, the
    survivors are told, and the call raises WorkerLost naming it."""
    keys = scheduler_keys(client)
    a, b = workers_of(client)
    values = [np.full(4, float(i)) for i in range(32)]
    homes = [(a, b)[i % 2] for i in range(32)]
    thread, out = in_thread(lambda: allreduce(values, "gossip_ring", client=client,
                                              workers=homes, dask_engine=dask_engine))
    error = kill_during(client, b, thread, out)
    assert isinstance(error, WorkerLost) and error.workers == [b]
    assert_clean(client, keys)
    again = allreduce([1.0, 3.0], "ring", client=client, dask_engine=dask_engine)
    assert [float(v) for v in again.values] == [2.0, 2.0]


def test_results_lost_with_their_worker_after_the_call_are_named(client):
    """The soak's one failure: a kill that lands after the workers have answered but
    before the client has fetched the results (plain inputs) cancelled the results'
    futures, and ``allreduce`` raised Dask's ``FutureCancelledError: allreduce-...-3
    cancelled for reason: unknown`` instead of naming the worker."""
    from distlab.engines.direct_client import DirectEngine
    a, b = workers_of(client)
    # results as the engine leaves them: data on one worker, no task to recompute it from
    futures = [client.scatter(np.full(4, float(i)), workers=[w], hash=False)
               for i, w in enumerate((a, b))]
    kill_worker(client, b, wait_for_replacement=False)
    with pytest.raises(WorkerLost) as lost:
        DirectEngine(client).gather(futures, [a, b])
    assert lost.value.workers == [b]
    del futures
    wait_for_workers(client, 2)


def test_a_worker_restarted_for_its_memory_is_named_not_a_closed_stream(client):
    """What the issue saw once in six loops of 64 MiB calls (torch loaded in 512 MiB
    workers): the Nanny restarted a worker past 95 % of its memory limit, the worker
    count came back at once, and the call ended in a bare ``CommClosedError: ...
    ConnectionPool.distlab_allreduce ... Stream is closed``. Now it names the worker."""
    keys = scheduler_keys(client)
    a, b = workers_of(client)
    values = [np.full(4, float(i)) for i in range(32)]
    homes = [(a, b)[i % 2] for i in range(32)]
    thread, out = in_thread(lambda: allreduce(values, "gossip_ring", client=client,
                                              workers=homes))
    error = kill_during(client, b, thread, out, by_memory=True)
    assert isinstance(error, WorkerLost) and "memory" in str(error)
    assert_clean(client, keys)
    assert [float(v) for v in allreduce([1.0, 3.0], "ring", client=client).values] == [2.0] * 2


def test_repeated_64_MiB_calls_on_fresh_inputs_never_fail(client):
    """The issue's loop, shortened: fresh 64 MiB inputs scattered from the client, every
    exact algorithm in turn; no call fails and no worker is restarted."""
    workers = workers_of(client)
    for k in range(2 * len(EXACT_ALGORITHMS)):
        algorithm = EXACT_ALGORITHMS[k % len(EXACT_ALGORITHMS)]
        arrays = [np.linspace(k, k + i + 1, 8 * 2**20) for i in range(2)]
        futures = [client.scatter(x, workers=[w], direct=True, hash=False)
                   for x, w in zip(arrays, workers)]
        result = allreduce(futures, algorithm, client=client)
        assert np.array_equal(result.futures[0].result(), (arrays[0] + arrays[1]) / 2)
        del result, futures
    assert workers_of(client) == workers


def test_a_worker_killed_during_a_task_engine_call_fails_it_at_once(client):
    """The task engine's tasks for the victim wait behind a long task there: the kill
    lands while the graph waits, and the client's watch cancels it."""
    keys = scheduler_keys(client)
    a, b = workers_of(client)
    blocker = submit_on(client, time.sleep, 60, worker=b, strict=True)
    values = [np.arange(5.0), np.ones(5)]
    thread, out = in_thread(lambda: allreduce(values, "ring", client=client,
                                              dask_engine="tasks"))
    error = kill_during(client, b, thread, out)
    assert isinstance(error, WorkerLost) and error.workers == [b]
    client.cancel([blocker])
    del blocker
    assert_clean(client, keys)
    again = allreduce(values, "ring", client=client, dask_engine="tasks")
    assert np.array_equal(again.values[0], (np.arange(5.0) + 1) / 2)


def one_rank_sleeps(group):
    if group.rank == 1:
        time.sleep(60)
    return group.allreduce(np.ones(3), "ring")


def rank_tasks(client, rank: int) -> dict:
    """The scheduler's state and error text of every SPMD rank ``rank`` task."""
    return client.run_on_scheduler(lambda dask_scheduler: {
        str(k): (ts.state, str(ts.exception_text or ""))
        for k, ts in dask_scheduler.tasks.items() if str(k).startswith(f"rank-{rank}-")})


def test_a_worker_killed_during_an_spmd_call_ends_the_other_ranks_at_once(client):
    """Rank 0 waits in its all-reduce for rank 1, whose worker is killed: rank 0's worker
    finds it gone from the scheduler's list and ends the call; rank 0 fails at once,
    naming the worker, and its worker keeps nothing of the call."""
    from distributed import Future
    a, b = workers_of(client)
    before = set(rank_tasks(client, 0))
    thread, out = in_thread(lambda: run_ranks(client, one_rank_sleeps, timeout=60))
    time.sleep(1.0)
    kill_worker(client, b, wait_for_replacement=False)
    lost = time.monotonic()
    assert settled(lambda: any(state == "erred" for k, (state, _) in
                               rank_tasks(client, 0).items() if k not in before),
                   timeout=PROMPT)
    assert time.monotonic() - lost < PROMPT
    (text,) = [t for k, (_, t) in rank_tasks(client, 0).items() if k not in before]
    assert b in text and "left the cluster" in text
    keys = [k for r in (0, 1) for k in rank_tasks(client, r) if k not in before]
    client.cancel([Future(k, client) for k in keys])     # run_ranks may still wait
    thread.join(PROMPT)
    wait_for_workers(client, 2)
    for address, sizes in tables(client).items():
        assert not {k: v for k, v in sizes.items() if k != "handlers" and v}, (address, sizes)
    assert [float(x[0]) for x in run_ranks(client, overflow_ranks, [[1.0], [3.0]],
                                           "ring")] == [2.0, 2.0]


def test_run_ranks_raises_at_once_when_a_worker_is_killed(client):
    from distributed import Future
    a, b = workers_of(client)
    thread, out = in_thread(lambda: run_ranks(client, one_rank_sleeps, timeout=60))
    try:
        kill_during(client, b, thread, out, join=PROMPT + 1)
    finally:
        client.cancel([Future(k, client) for r in (0, 1) for k in rank_tasks(client, r)])
        thread.join(PROMPT)
        wait_for_workers(client, 2)


# ------------------------------------------------------------------ 4. ranks that disagree

def disagree(group, what):
    kind = {"algorithm": lambda r: ({}, "ring" if r == 0 else "star"),
            "dtype": lambda r: ({"dtype": np.float32 if r == 0 else np.float64}, "ring"),
            "size": lambda r: ({"n": 3 + r}, "ring")}[what]
    options, algorithm = kind(group.rank)
    x = np.ones(options.get("n", 4), options.get("dtype", np.float64))
    try:
        group.allreduce(x, algorithm)
    except Exception as exc:                          # report, not raise: see both ranks
        return type(exc).__name__, str(exc)
    return "no error", ""


@pytest.mark.parametrize("what, words", [("algorithm", "ranks called different algorithms"),
                                         ("dtype", "ranks called with different dtypes"),
                                         ("size", "same size")])
def test_ranks_that_disagree_are_told_so(client, what, words):
    (kind0, message0), (kind1, message1) = run_ranks(client, disagree, what, timeout=30)
    assert {kind0, kind1} <= {"ValueError", "Aborted"}, (message0, message1)
    assert words in message0 and words in message1
    assert "broadcast" not in message0 + message1
    for address, sizes in tables(client).items():
        assert not {k: v for k, v in sizes.items() if k != "handlers" and v}, (address, sizes)
