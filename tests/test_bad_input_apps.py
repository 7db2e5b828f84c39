"""Issue 16, kind 2, in the applications: a closed, missing or wrong client gets one clear
error (was ``'NoneType' object has no attribute ...``), before any work starts."""
import numpy as np
import pytest
from distributed import Client

from distlab.apps import data_sync, flow, listing, serving, sgd
from distlab.apps import training as T

PARAMS = np.zeros((T.N_FEATURES, T.N_CLASSES))
CALLS = {
    "data_sync": lambda c: listing.data_sync(c, [1.0, 2.0]),
    "parallel_computation": lambda c: listing.parallel_computation(c, np.ones((4, 2))),
    "flow.run": lambda c: flow.run(c, "eventual"),
    "batch_throughput": lambda c: serving.batch_throughput(c, PARAMS, requests=4),
    "serve_stream": lambda c: serving.serve_stream(c, PARAMS, requests=4, kill_after=None),
    "replay": lambda c: data_sync.replay(data_sync.local_writes(2, 2), 1, client=c),
    "one_step_two_ways": lambda c: sgd.one_step_two_ways(2, client=c),
}


@pytest.fixture(scope="module")
def closed(client):
    """A second client of the same cluster, closed: a cell re-run after the last one."""
    other = Client(client.scheduler.address, set_as_default=False)
    other.close()
    return other


@pytest.mark.parametrize("name", list(CALLS))
def test_a_closed_client_says_so(closed, name):
    with pytest.raises(ValueError, match=r"the client is closed: run `distlab.connect\(\)` again"):
        CALLS[name](closed)


@pytest.mark.parametrize("name", [n for n in CALLS if n not in ("replay", "one_step_two_ways")])
@pytest.mark.parametrize("wrong", [None, "tcp://127.0.0.1:8786"])
def test_a_missing_or_wrong_client_is_a_type_error(name, wrong):
    with pytest.raises(TypeError, match="client must be a distributed.Client"):
        CALLS[name](wrong)


def test_a_stream_that_would_run_away_is_refused_before_any_task(client):
    with pytest.raises(ValueError, match="requests × batch must be ≤ 100,000 images"):
        serving.serve_stream(client, PARAMS, requests=100, batch=10**4)
    with pytest.raises(ValueError, match="workers must list one worker address per node"):
        sgd.one_step_two_ways(3, client=client, workers=["tcp://127.0.0.1:1"])
