"""The direct engines (workers exchange the chunks themselves), naive and fast: the
simulator's results to the last bit, for every algorithm, on 2 workers; bytes counted;
inputs and failures."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distlab.concepts.cost import lower_bound_bytes
from distlab.concepts.kernel import SumOverflow, run_plan, scale_exponent
from distlab.engines.allreduce import ALGORITHMS, EXACT_ALGORITHMS, allreduce, make_plan
from distlab.engines.direct_fast_buffer import NodeBuffer
from distlab.engines.direct_fast_call import message_counts
from distlab.engines.direct_fast_plan import plan_from
from distlab.engines.direct_fast_wire import STREAM_BYTES

DIRECT_ENGINES = ("direct", "direct_naive")


# ------------------------------------------------------------------ without a cluster

def emulate(plan, buffers, dtype=np.float64):
    """The engine's node steps run round by round in one process: every node's messages
    of a round are read before any node applies its own (the plan's semantics); again,
    scaled, when a sum overflows (as the engine does)."""
    try:
        return emulate_run(plan, buffers, dtype, 0)
    except SumOverflow:
        return emulate_run(plan, buffers, dtype, scale_exponent(plan.n_nodes))


def emulate_run(plan, buffers, dtype, scale):
    on_worker = plan_from(plan)
    nodes = {i: NodeBuffer(b, dtype, plan.blocks, plan.divide_by, scale)
             for i, b in enumerate(buffers)}
    steps = {i: {s.round: s for s in on_worker.node(i)} for i in nodes}
    for k in range(plan.n_rounds):
        mail = {}
        for i in nodes:
            step = steps[i].get(k)
            for t, slot in (step.outgoing if step else []):
                mail[slot] = nodes[i].read(*t.chunk).copy()
        for i in nodes:
            step = steps[i].get(k)
            if step:
                messages = [mail[slot] for _, slot in step.incoming]
                nodes[i].apply(step, messages, [False] * len(messages))
    return [nodes[i].finish((len(buffers[i]),)) for i in nodes]


@settings(max_examples=60, deadline=None)
@given(algorithm=st.sampled_from(ALGORITHMS), p=st.integers(1, 9), n=st.integers(1, 40),
       seed=st.integers(0, 2**16))
def test_node_steps_give_the_plain_kernels_bits(algorithm, p, n, seed):
    """The fast variant of the kernel (copy on write, in-place arithmetic, early
    division) agrees with the plain one (:func:`run_plan`) bit for bit."""
    rng = np.random.default_rng(seed)
    values = [rng.normal(size=n) * 10.0 ** rng.integers(-3, 4) for _ in range(p)]
    plan = make_plan(algorithm, p)
    expected, _ = run_plan(plan, values, np.float64)
    got = emulate(plan, [np.asarray(v) for v in values])
    assert all(np.array_equal(a, b) for a, b in zip(expected, got))


@settings(max_examples=80, deadline=None)
@given(algorithm=st.sampled_from(EXACT_ALGORITHMS), p=st.integers(1, 9), n=st.integers(1, 12),
       seed=st.integers(0, 2**16), float32=st.booleans())
def test_node_steps_give_the_kernels_bits_where_sums_overflow(algorithm, p, n, seed, float32):
    """At the top of the range, where the kernel runs the plan again scaled, the fast
    variant (scaled the same way, divided early and scaled back there) agrees bit for
    bit, and every mean is finite."""
    dtype = np.float32 if float32 else np.float64
    rng = np.random.default_rng(seed)
    top = np.finfo(dtype).max
    values = [(rng.uniform(-0.2, 1.0, n) * rng.choice([1.0, 1e-20], n)).astype(dtype) * top
              for _ in range(p)]
    plan = make_plan(algorithm, p)
    expected, _ = run_plan(plan, values, dtype)
    got = emulate(plan, values, dtype)
    assert all(np.array_equal(a, b) for a, b in zip(expected, got))
    assert all(np.all(np.isfinite(b)) for b in got)


@pytest.mark.parametrize("algorithm", EXACT_ALGORITHMS)
@pytest.mark.parametrize("p", [2, 3, 4, 5, 8])
def test_every_sum_is_divided_exactly_once(algorithm, p):
    """Early division: a block is divided where its sum completes, and every copy of it
    after that is a copy of the quotient; no block is divided twice or never."""
    plan = make_plan(algorithm, p)
    values = [np.full(2 * p + 1, float(2 ** i)) for i in range(p)]     # exact in binary
    assert all(np.array_equal(v, np.full(2 * p + 1, (2 ** p - 1) / p))
               for v in emulate(plan, values))


def test_node_buffer_never_writes_its_input():
    own = np.arange(6.0)
    own.setflags(write=False)                       # as Dask may hand it over
    buffer = NodeBuffer(own, np.float64, 3, 2)
    assert buffer.read(0, 1).base is own or np.shares_memory(buffer.read(0, 1), own)
    step = plan_from(make_plan("ring", 3)).node(0)[0]
    buffer.apply(step, [np.ones(2)], [False])
    assert np.array_equal(own, np.arange(6.0))


# ------------------------------------------------------------------ on 2 workers

@pytest.fixture(scope="module")
def workers(client):                                   # client: tests/conftest.py
    return sorted(client.nthreads())       # not the cached scheduler_info()


BIG = STREAM_BYTES // 8 * 2 + 3            # above the raw-stream threshold, odd length


@pytest.mark.parametrize("engine", DIRECT_ENGINES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("values", [
    [7.0],
    [10.0, 20.0],
    [np.arange(7.0) * 1.1, np.linspace(-3, 5, 7) ** 3],               # N does not divide 7
    [np.random.default_rng(1).normal(size=BIG), np.random.default_rng(2).normal(size=BIG)],
    [np.ones((3, 5), np.float32) / 3, np.arange(15, dtype=np.float32).reshape(3, 5)],
], ids=["one node", "scalars", "7 elements", "large, odd length", "float32 matrix"])
def test_direct_engine_gives_the_simulators_results(client, algorithm, values, engine):
    sim = allreduce(values, algorithm)
    live = allreduce(values, algorithm, client=client, dask_engine=engine)
    assert live.engine == "dask" and live.dask_engine == engine
    assert all(np.array_equal(a, b) and a.dtype == b.dtype and a.shape == b.shape
               for a, b in zip(sim.values, live.values))
    assert (live.bytes_counted == sim.bytes_sent).all()        # counted = the plan's
    assert live.wall_time > 0 and live.worker_time > 0


@pytest.mark.parametrize("engine", DIRECT_ENGINES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_direct_engine_with_future_inputs(client, workers, algorithm, engine):
    rng = np.random.default_rng(3)
    arrays = [rng.normal(size=BIG) for _ in range(5)]          # 5 nodes on 2 workers
    before = [a.copy() for a in arrays]
    homes = [workers[i % 2] for i in range(5)]
    futures = [client.scatter(a, workers=[w], direct=True, hash=False)
               for a, w in zip(arrays, homes)]
    result = allreduce(futures, algorithm, client=client, workers=homes, dask_engine=engine)
    assert result._values is None                               # nothing gathered yet
    assert result.dtype == np.float64 and result.shape == (BIG,)
    who = client.who_has(result.futures)
    assert [sorted(who[f.key]) for f in result.futures] == [[w] for w in homes]
    expected = allreduce(arrays, algorithm).values
    assert all(np.array_equal(a, b) for a, b in zip(result.values, expected))
    assert all(np.array_equal(a, b) for a, b in zip(client.gather(futures), before))
    # the results are ordinary futures: a task can use them
    total = client.submit(np.sum, result.futures[0], workers=[homes[0]], pure=False)
    assert np.isclose(total.result(), expected[0].sum())


def test_engines_agree_and_the_direct_one_sends_straight(client, workers):
    values = [np.random.default_rng(i).normal(size=BIG) for i in range(2)]
    before = message_counts(client)
    direct = allreduce(values, "ring", client=client)                 # the default
    tasks = allreduce(values, "ring", client=client, dask_engine="tasks")
    naive = allreduce(values, "ring", client=client, dask_engine="direct_naive")
    after = message_counts(client)
    assert direct.dask_engine == "direct" and tasks.dask_engine == "tasks"
    assert all(np.array_equal(a, b) and np.array_equal(a, c)
               for a, b, c in zip(direct.values, tasks.values, naive.values))
    # two rounds, two messages each, all large: raw stream, the copies straight home
    sent = {k: after[k] - before[k] for k in after}
    assert sent["message"] == sent["local"] == 0
    assert sent["pooled"] + sent["landed"] == 4 and sent["landed"] >= 1


@pytest.mark.parametrize("engine", DIRECT_ENGINES)
def test_bytes_counted_meet_the_lower_bound(client, workers, engine):
    n = 4 * 1024
    values = [np.ones(n) * i for i in range(4)]
    homes = [workers[i % 2] for i in range(4)]
    for algorithm in ("ring", "rabenseifner"):
        result = allreduce(values, algorithm, client=client, workers=homes,
                           dask_engine=engine)
        assert (result.bytes_counted == lower_bound_bytes(4, n * 8)).all()
    star = allreduce(values, "star", client=client, workers=homes, dask_engine=engine)
    assert star.bytes_counted.max() / lower_bound_bytes(4, n * 8) == 2.0     # p/2


@pytest.mark.parametrize("engine", DIRECT_ENGINES)
def test_an_input_held_by_another_worker_is_fetched(client, workers, engine):
    a = client.scatter(np.arange(5.0), workers=[workers[1]], direct=True, hash=False)
    b = client.scatter(np.ones(5), workers=[workers[1]], direct=True, hash=False)
    result = allreduce([a, b], "ring", client=client, workers=workers,   # node 0 on w0
                       dask_engine=engine)
    assert np.array_equal(result.values[0], (np.arange(5.0) + 1) / 2)


def _allreduce_keys(client):
    return client.run_on_scheduler(
        lambda dask_scheduler: sorted(k for k in dask_scheduler.tasks
                                      if str(k).startswith("allreduce-")))


@pytest.mark.parametrize("engine", DIRECT_ENGINES)
def test_bad_inputs_fail_cleanly(client, workers, engine):
    held = _allreduce_keys(client)

    def place(*arrays):
        return [client.scatter(x, workers=[w], direct=True, hash=False)
                for x, w in zip(arrays, workers)]

    def run(futures, algorithm="ring"):
        return allreduce(futures, algorithm, client=client, dask_engine=engine)

    # the fast engine checks each input on its worker during the call (the naive one
    # describes them first): the same answers and the same errors
    r = run(place(np.ones(3), np.zeros(3)))
    assert np.array_equal(r.values[0], np.full(3, 0.5))
    del r
    with pytest.raises(ValueError, match=r"values\[1\] must be finite"):
        run(place(np.ones(3), np.array([1.0, np.inf, 0.0])))
    with pytest.raises(ValueError, match=r"values\[0\] must be finite"):
        run(place(np.array([np.nan, 0, 0]), np.ones(3)))
    with pytest.raises(TypeError, match="real numeric"):
        run(place(np.array(["a", "b", "c"]), np.ones(3)))
    r = run(place(np.ones((2, 2)), np.zeros((2, 2))), "rabenseifner")
    assert r.values[1].shape == (2, 2) and np.array_equal(r.values[1], np.full((2, 2), 0.5))
    r = run(place(np.ones(4, np.float32), np.zeros(4, np.float32)), "star")
    assert r.values[0].dtype == np.float32
    # nodes of different dtypes: the common one, as on the simulator
    mixed = [np.arange(4, dtype=np.float32), np.linspace(0, 1, 4)]
    r = run(place(*mixed), "ring")
    expected = allreduce(mixed, "ring").values
    assert r.values[0].dtype == np.float64 and all(
        np.array_equal(a, b) for a, b in zip(r.values, expected))
    del r
    with pytest.raises(ValueError, match="one shape"):
        run(place(np.ones(4, np.float32), np.zeros(5, np.float32)), "star")
    with pytest.raises(ValueError, match="one shape"):         # one size, two shapes
        run(place(np.ones(4), np.zeros((2, 2))), "ring")
    with pytest.raises(ValueError, match="dask_engine must be one of"):
        allreduce([1.0, 2.0], "ring", client=client, dask_engine="fast")
    # nothing of the failed calls is left on the cluster
    import gc
    import time
    gc.collect()
    deadline = time.monotonic() + 10
    while set(_allreduce_keys(client)) - set(held) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not set(_allreduce_keys(client)) - set(held)


def test_the_task_engine_does_not_wait_for_a_worker_that_left(client):
    """Tasks pinned to a worker that is gone (allow_other_workers=False) can never run:
    waiting for them raises instead of hanging."""
    from distlab.engines.tasks import _wait_pinned
    gone = "tcp://127.0.0.1:9"                         # no worker there
    future = client.submit(np.ones, 3, workers=[gone], allow_other_workers=False,
                           pure=False)
    with pytest.raises(RuntimeError, match="left the cluster"):
        _wait_pinned(client, [future], [gone], poll=0.2)
