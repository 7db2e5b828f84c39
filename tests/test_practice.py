"""The corrected chapter-5 functions on a real cluster, and their handling of bad input."""
import numpy as np
import pytest
from distributed import get_task_stream
from hypothesis import given, settings, strategies as st

from distlab.apps import listing


def test_worked_example(client):
    assert listing.data_sync(client, [10, 20, 30]) == [20.0, 20.0, 20.0]


def test_single_node_keeps_its_value(client):
    assert listing.data_sync(client, [7.5]) == [7.5]


def test_vectors_average_and_leave_the_input_untouched(client):
    nodes = [np.array([1.0, 2.0]), np.array([3.0, 6.0]), np.array([5.0, 10.0])]
    before = [n.copy() for n in nodes]
    synced = listing.data_sync(client, nodes)
    assert len(synced) == 3
    for s in synced:
        np.testing.assert_array_equal(s, [3.0, 6.0])
    synced[0][0] = -1.0                       # every node gets its own copy
    assert synced[1][0] == 3.0
    for n, b in zip(nodes, before):
        np.testing.assert_array_equal(n, b)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=7))
def test_every_node_gets_the_mean(client, values):
    synced = listing.data_sync(client, values)
    assert len(synced) == len(values)
    assert len(set(synced)) == 1
    assert synced[0] == pytest.approx(np.mean(values), rel=1e-12, abs=1e-9)


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 40), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_parallel_sum_equals_numpy(client, rows, cols, seed):
    data = np.random.default_rng(seed).normal(size=(rows, cols))
    for partitions in {None, 1, rows}:
        total = listing.parallel_computation(client, data, partitions=partitions)
        assert total == pytest.approx(data.sum(), rel=1e-12, abs=1e-12)


def test_document_array_and_sum_preserved_by_sync(client):
    data = np.random.default_rng(2024).random((100, 100))
    synced = listing.data_sync(client, list(data))
    assert listing.parallel_computation(client, data) == pytest.approx(data.sum(), rel=1e-12)
    assert listing.parallel_computation(client, np.array(synced)) == pytest.approx(data.sum(), rel=1e-12)


def test_default_partitions_one_task_per_worker(client):
    with get_task_stream(client) as stream:
        listing.parallel_computation(client, np.ones((100, 100)))
    summed = [t for t in stream.data if t["key"].startswith("sum-")]
    assert len(summed) == 2 == len(client.nthreads())   # not the cached scheduler_info()


@pytest.mark.parametrize("values, exc, words", [
    ([], ValueError, "at least one node"),
    ([1.0, float("nan")], ValueError, r"node_values\[1\] must be finite"),
    ([1.0, float("inf")], ValueError, "must be finite"),
    ([[1.0, 2.0], [1.0]], ValueError, "one shape"),
    (["ten", "twenty"], TypeError, r"node_values\[0\] must be a number"),
    ([None], TypeError, "must be a number"),
    (10, TypeError, "node_values must be a list"),
    ("10 20", TypeError, "node_values must be a list"),
])
def test_data_sync_rejects_bad_input(client, values, exc, words):
    with pytest.raises(exc, match=words):
        listing.data_sync(client, values)


@pytest.mark.parametrize("data, kwargs, exc, words", [
    (np.array([]), {}, ValueError, "non-empty"),
    (3.0, {}, ValueError, "non-empty"),
    ([[1.0, np.nan]], {}, ValueError, "data must be finite"),
    ([["a"]], {}, TypeError, "data must be a number or a numeric array"),
    (np.ones((4, 2)), {"partitions": 5}, ValueError, "between 1 and 4"),
    (np.ones((4, 2)), {"partitions": 0}, ValueError, "between 1 and 4"),
    (np.ones((4, 2)), {"partitions": 2.0}, TypeError, "partitions must be an int"),
])
def test_parallel_computation_rejects_bad_input(client, data, kwargs, exc, words):
    with pytest.raises(exc, match=words):
        listing.parallel_computation(client, data, **kwargs)


def test_a_client_is_required():
    with pytest.raises(TypeError, match="client must be a distributed.Client"):
        listing.data_sync(None, [1.0])
    with pytest.raises(TypeError, match="client must be a distributed.Client"):
        listing.parallel_computation("tcp://127.0.0.1:8786", [1.0])


def test_the_document_listing_fails_as_the_chapter_says(client):
    import dask
    namespace = {"__name__": "__main__"}
    with dask.config.set({"scheduler-address": client.scheduler.address}):
        with pytest.raises(TypeError, match="First input to submit must be a callable"):
            exec(listing.DOCUMENT_LISTING, namespace)
    namespace["client"].close()   # the listing's own Client(), connected to our cluster
    assert "progress" in namespace and "np.mean([node.data for node in data]" in listing.DOCUMENT_LISTING
