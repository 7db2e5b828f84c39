"""distlab.collectives on a real Dask cluster: the same plans, the same results."""
import numpy as np
import pytest

import distlab
from distlab.engines.allreduce import ALGORITHMS, allreduce
from distlab.engines.calibrate_tasks import measure, ping_pong


@pytest.fixture(scope="module")
def client():
    c = distlab.connect()
    c.wait_for_workers(2)
    yield c
    c.close()


@pytest.fixture(scope="module")
def workers(client):
    return sorted(client.nthreads())       # not the cached scheduler_info()


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("values", [
    [7.0],
    [10.0, 20.0],
    [np.arange(7.0) * 1.1, np.linspace(-3, 5, 7) ** 3],      # 7 elements, 2 nodes
])
def test_both_engines_give_identical_results(client, algorithm, values):
    sim = allreduce(values, algorithm)
    live = allreduce(values, algorithm, client=client)
    assert live.engine == "dask" and sim.engine == "simulator"
    assert all(np.array_equal(a, b) for a, b in zip(sim.values, live.values))
    assert live.rounds == sim.rounds
    assert (live.bytes_sent == sim.bytes_sent).all()
    assert (live.bytes_received == sim.bytes_received).all()
    assert live.time == sim.time
    assert live.wall_time > 0


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_more_nodes_than_workers_when_placed_explicitly(client, workers, algorithm):
    values = [np.array([1.0, 2.0, 3.0]) * i for i in range(5)]
    homes = [workers[i % 2] for i in range(5)]
    sim = allreduce(values, algorithm)
    live = allreduce(values, algorithm, client=client, workers=homes)
    assert all(np.array_equal(a, b) for a, b in zip(sim.values, live.values))


def test_future_inputs_stay_on_the_cluster(client, workers):
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(3, 4)) for _ in workers]
    before = [a.copy() for a in arrays]
    futures = [client.scatter(a, workers=[w], direct=True) for a, w in zip(arrays, workers)]
    result = allreduce(futures, "ring", client=client)
    # node i's result lives on node i's worker
    who = client.who_has(result.futures)
    assert [sorted(who[f.key]) for f in result.futures] == [[w] for w in workers]
    assert result._values is None                       # not gathered yet
    expected = allreduce(arrays, "ring").values
    assert all(np.array_equal(a, b) for a, b in zip(result.values, expected))
    assert result.values[0].shape == (3, 4)
    assert all(np.array_equal(a, b) for a, b in zip(client.gather(futures), before))
    # the replayed trace ends where the workers ended
    last = result.trace[result.trace["round"] == result.trace["round"].max()]
    assert np.array_equal(last[[c for c in last.columns if c.startswith("x[")]].to_numpy(),
                          np.stack([v.reshape(-1) for v in result.values]))


def test_results_can_feed_the_next_allreduce(client, workers):
    futures = [client.scatter(np.full(5, float(i)), workers=[w], direct=True)
               for i, w in enumerate(workers)]
    first = allreduce(futures, "recursive_doubling", client=client)
    second = allreduce(first.futures, "rabenseifner", client=client)
    assert all(np.allclose(v, 0.5) for v in second.values)       # idempotent


def test_float32_futures_stay_float32(client, workers):
    futures = [client.scatter(np.ones(4, np.float32) * i, workers=[w], direct=True)
               for i, w in enumerate(workers)]
    result = allreduce(futures, "ring", client=client)
    assert result.values[0].dtype == np.float32
    assert result.bytes_sent.sum() == 2 * 1 * 4 * 4        # 2(p-1)·n elements · 4 bytes


def test_bad_input_with_a_client(client, workers):
    with pytest.raises(ValueError, match="only 2 workers"):
        allreduce([1.0, 2.0, 3.0], "ring", client=client)
    nan = [client.scatter(np.array([1.0, np.nan]), workers=[workers[0]], direct=True),
           client.scatter(np.array([1.0, 2.0]), workers=[workers[1]], direct=True)]
    with pytest.raises(ValueError, match=r"values\[0\] must be finite"):
        allreduce(nan, "ring", client=client)
    shapes = [client.scatter(np.ones(2), workers=[workers[0]], direct=True),
              client.scatter(np.ones(3), workers=[workers[1]], direct=True)]
    with pytest.raises(ValueError, match="one shape"):
        allreduce(shapes, "ring", client=client)
    with pytest.raises(TypeError, match="client"):
        allreduce(shapes, "ring")
    with pytest.raises(TypeError, match="mix"):
        allreduce([shapes[0], 1.0], "ring", client=client)
    with pytest.raises(ValueError, match="one worker per node"):
        allreduce([1.0, 2.0], "ring", client=client, workers=workers[:1])
    with pytest.raises(ValueError, match="not workers"):
        allreduce([1.0, 2.0], "ring", client=client, workers=["tcp://1.2.3.4:1", workers[0]])


def test_calibration_and_predicted_vs_measured_table(client):
    cal = ping_pong(client, sizes=(8, 256 * 1024), hops=4, repeats=1)
    assert cal.alpha > 0 and cal.beta > 0 and cal.overhead >= 0
    assert list(cal.samples.columns) == ["bytes", "seconds_per_hop"]
    table = measure(client, cal, algorithms=("star", "ring"), sizes=(1024,), repeats=1)
    assert list(table["algorithm"]) == ["star", "ring"]
    assert set(table.columns) >= {"algorithm", "nodes", "bytes", "rounds", "predicted_s",
                                  "predicted_tasks_s", "measured_s", "measured/predicted (tasks)"}
    assert (table["nodes"] == 2).all()


@pytest.mark.parametrize("dask_engine", ["direct", "tasks"])
def test_future_inputs_are_checked_on_the_workers(client, workers, dask_engine):
    def place(*arrays):
        return [client.scatter(a, workers=[w], direct=True, hash=False)
                for a, w in zip(arrays, workers)]

    def run(futures, algorithm):
        return allreduce(futures, algorithm, client=client, dask_engine=dask_engine)

    r = run(place(np.ones(3), np.zeros(3)), "ring")
    assert np.array_equal(r.values[0], np.full(3, 0.5))
    # a bad input is found on its worker; the client never fetches it
    with pytest.raises(ValueError, match=r"values\[1\] must be finite"):
        run(place(np.ones(3), np.array([1.0, np.inf, 0.0])), "ring")
    # another shape or dtype: still the right answer
    r = run(place(np.ones((2, 2)), np.zeros((2, 2))), "rabenseifner")
    assert r.values[1].shape == (2, 2) and np.array_equal(r.values[1], np.full((2, 2), 0.5))
    r = run(place(np.ones(4, np.float32), np.zeros(4, np.float32)), "star")
    assert r.values[0].dtype == np.float32
    with pytest.raises(ValueError, match="one shape"):
        run(place(np.ones(4, np.float32), np.zeros(5, np.float32)), "star")
