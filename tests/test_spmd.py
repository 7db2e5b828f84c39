"""All-reduce called by the ranks themselves (run_ranks / Group.allreduce): the simulator's
results to the last bit, bytes at the bound, many calls in step, and failures that end
every rank's call instead of leaving one waiting."""
import sys

import cloudpickle
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distlab.engines.allreduce import ALGORITHMS, EXACT_ALGORITHMS, allreduce
from distlab.concepts.cost import lower_bound_bytes
from distlab.engines.direct_fast_wire import Aborted
from distlab.engines.spmd import Group, run_ranks, time_allreduce

# the workers are other processes that cannot import this file: send its functions by value
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def rank_values(n, seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=n) * 10.0 ** rng.integers(-3, 4) for _ in range(2)]


def reduce_mine(group, values, algorithm):
    mine = values[group.rank]
    before = mine.copy()
    out = group.allreduce(mine, algorithm)
    assert np.array_equal(mine, before)              # the input is not touched
    return out, group.bytes_sent


@settings(max_examples=25, deadline=None)
@given(algorithm=st.sampled_from(ALGORITHMS), n=st.integers(1, 3000),
       seed=st.integers(0, 2**16))
def test_every_rank_gets_the_simulators_result_bit_for_bit(client, algorithm, n, seed):
    values = rank_values(n, seed)
    expected = allreduce(values, algorithm).values
    results = run_ranks(client, reduce_mine, values, algorithm)
    for rank, (out, _) in enumerate(results):
        assert out.shape == (n,) and out.dtype == np.float64
        assert np.array_equal(out, expected[rank])


@pytest.mark.parametrize("algorithm", EXACT_ALGORITHMS)
def test_bytes_sent_per_rank(client, algorithm):
    n = 2**15                                         # large enough for the raw stream
    values = rank_values(n, 1)
    results = run_ranks(client, reduce_mine, values, algorithm)
    sent = [b for _, b in results]
    if algorithm in ("ring", "rabenseifner"):
        assert sent == [lower_bound_bytes(2, n * 8)] * 2
    else:
        assert sum(sent) >= 2 * lower_bound_bytes(2, n * 8)
    assert np.array_equal(results[0][0], np.mean(values, axis=0))


def average_many_times(group, steps):
    """A training loop's pattern: every step averages a different vector."""
    x = np.arange(5.0) + group.rank
    history = []
    for step in range(steps):
        x = group.allreduce(x * (step + 1 + group.rank), ["ring", "tree", "star"][step % 3])
        history.append(x.copy())
    group.barrier()
    return history


def test_many_calls_in_step_stay_consistent(client):
    steps = 30
    a, b = run_ranks(client, average_many_times, steps)
    expected = [np.arange(5.0), np.arange(5.0) + 1]
    for step in range(steps):
        expected = [np.mean([expected[r] * (step + 1 + r) for r in range(2)], axis=0)] * 2
        assert np.array_equal(a[step], expected[0]) and np.array_equal(b[step], expected[0])


def test_float32_and_integers_and_shapes(client):
    def go(group):
        return (group.allreduce(np.full((2, 3), group.rank, dtype=np.float32)),
                group.allreduce(group.rank + 1))
    (f32, ints), _ = run_ranks(client, go)
    assert f32.dtype == np.float32 and f32.shape == (2, 3) and (f32 == 0.5).all()
    assert ints.dtype == np.float64 and ints.shape == () and float(ints) == 1.5


def one_rank_passes(group, bad):
    try:
        group.allreduce(bad if group.rank == 0 else np.ones(3), "ring")
    except Exception as exc:                          # report, not raise: see both ranks
        return type(exc).__name__, str(exc)
    return "no error", ""


@pytest.mark.parametrize("bad, kind, words", [
    (np.array([1.0, np.nan, 2.0]), "ValueError", "finite"),
    ("text", "TypeError", "numeric"),
    (np.ones(4), "ValueError", ""),                   # a shape the other rank lacks
])
def test_bad_input_on_one_rank_ends_the_call_on_every_rank(client, bad, kind, words):
    (kind0, message0), (kind1, message1) = run_ranks(client, one_rank_passes, bad,
                                                     timeout=30)
    if words:
        assert kind0 == kind and words in message0
        assert kind1 == "Aborted" and "rank 0" in message1 and words in message1
    else:                         # the mismatch is found by whichever rank meets it first
        assert sorted([kind0, kind1]) in (["Aborted", "ValueError"], ["ValueError"] * 2)
        assert "same size" in message0 + message1


def only_rank_zero_calls(group):
    if group.rank == 0:
        return group.allreduce(np.ones(3))
    return None


def test_a_rank_that_never_calls_gives_a_timeout_not_a_hang(client):
    with pytest.raises(TimeoutError, match="within 1 s"):
        run_ranks(client, only_rank_zero_calls, timeout=1)


def test_the_group_after_a_failure_still_works(client):
    def go(group):
        try:
            group.allreduce(np.nan if group.rank == 0 else 1.0)
        except (ValueError, Aborted):
            pass
        return group.allreduce(float(group.rank))
    assert [float(x) for x in run_ranks(client, go)] == [0.5, 0.5]


def test_time_allreduce_returns_one_time_per_call(client):
    per_rank = run_ranks(client, time_allreduce, 8192, "recursive_doubling", 5)
    assert len(per_rank) == 2 and all(len(t) == 5 and min(t) > 0 for t in per_rank)


def test_run_ranks_on_one_worker_and_bad_arguments(client):
    worker = sorted(client.nthreads())[0]
    (out,) = run_ranks(client, reduce_mine, [np.arange(3.0)], "ring", workers=[worker])
    assert np.array_equal(out[0], np.arange(3.0))
    with pytest.raises(TypeError, match="fn must be a function"):
        run_ranks(client, 42)
    with pytest.raises(ValueError, match="timeout"):
        run_ranks(client, reduce_mine, timeout=0)
    with pytest.raises(ValueError, match="distinct workers"):
        run_ranks(client, reduce_mine, workers=[worker, worker])
    with pytest.raises(ValueError, match="distinct workers"):
        run_ranks(client, reduce_mine, workers=["tcp://127.0.0.1:1"])
    with pytest.raises(TypeError, match="workers must be a list"):
        run_ranks(client, reduce_mine, workers=worker)
    assert "rank 1 of 2" in repr(Group(1, ["a", "b"], "g", 1.0))


def readme_step(group, x):
    return group.allreduce(x[group.rank], "ring")


def test_the_readme_example(client):
    out = run_ranks(client, readme_step, [[10.0], [30.0]])
    assert [a.tolist() for a in out] == [[20.0], [20.0]]
