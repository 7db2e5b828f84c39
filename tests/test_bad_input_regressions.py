"""Issue 16: one regression test per kind of bad case the public-API walk
(tests/test_public_api.py) found in concepts, apps and present before they were fixed —
silent nonsense, a closed or missing client, a hang or a run-away size, a leaked internal.
Each case below returned nonsense, hung, or raised something else before; now it raises
the ValueError or TypeError named here, at once, naming the argument."""
import math
import signal
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest
from distributed import Client

from distlab.apps import faults, recsys, training, tuning
from distlab.apps.raft import RaftCluster, RaftWorkload
from distlab.concepts import (gossip, linearizability, memory, partitioning, pipeline,
                              scaling, sizing, task_overhead, tensor_parallel, zero)
from distlab.present import collective_views


@contextmanager
def within(seconds: float):
    """Fail, rather than hang, if the block takes longer than ``seconds`` (main thread)."""
    def expired(*_):
        raise TimeoutError(f"still running after {seconds} s: refused too late or not at all")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


JOB = tuning.Job(rows=8, inputs=4, features=16)
NAN_MATRIX = np.full((2, 4), np.nan)

SILENT_NONSENSE = [
    (lambda: pipeline.Step(0, 0, "X"), ValueError, "kind must be one of 'F', 'B'"),
    (lambda: pipeline.Step(0.5, 0, "F"), TypeError, "stage must be an int"),
    (lambda: sizing.Model("m", math.nan, 1e9, "paper"), ValueError, "parameters must be finite"),
    (lambda: sizing.Accelerator("chip", -1, 300, "datasheet"), ValueError,
     "memory_gb must be > 0"),
    (lambda: scaling.amdahl(0.9, True), TypeError, "p must be"),
    (lambda: linearizability.Op("A", "write", 1, -1.0, 1.0), ValueError, "invoke must be ≥ 0"),
    (lambda: gossip.disagreement(np.full((3, 2), np.nan), np.ones(2)), ValueError,
     "buffers must be finite"),
    (lambda: tensor_parallel.forward(NAN_MATRIX, np.ones((4, 8)), np.ones((8, 4))),
     ValueError, "x must be finite"),
    (lambda: tuning.check_config(tuning.Config(1, 4, "none"), JOB, None), TypeError,
     "n_workers must be an int"),
    (lambda: recsys.route([0, 1, 5], 2, hot=None), TypeError, "hot must be a list"),
    (lambda: memory.per_device(7.5e9, dp=None), TypeError, "dp must be an int"),
]

RUN_AWAY = [
    (lambda: pipeline.gpipe(2, 10**12), ValueError, "micro_batches must be ≤"),
    (lambda: pipeline.one_f_one_b(10**12, 2), ValueError, "stages must be ≤"),
    (lambda: memory.per_device(7.5e9, pp=10**12), ValueError, "pp must be ≤"),
    (lambda: memory.configurations(memory.shape("GPT-3 175B"), 10**12), ValueError,
     "devices must be ≤"),
    (lambda: partitioning.alternating_durations(10**12), ValueError, "tasks must be ≤"),
    (lambda: tuning.candidates(JOB, 10**12), ValueError, "n_workers must be ≤"),
    (lambda: tuning.make_rows(JOB, 0, 10**12), ValueError, "stop must be ≤"),
    (lambda: collective_views.gossip_table([4], seeds=10**12), ValueError, "seeds must be ≤"),
]

LEAKED_INTERNALS = [
    (lambda: training.batch_rows(100, 0, 0, 0, 0), ValueError, "batch must be ≥ 1"),
    (lambda: tuning.partition_sizes(8, 0), ValueError, "workers must be ≥ 1"),
    (lambda: tuning.predict_table(JOB, -1), ValueError, "n_workers must be ≥ 1"),
    (lambda: tuning.predict_seconds(None, JOB, tuning.REFERENCE), TypeError,
     "config must be a tuning.Config"),
    (lambda: RaftCluster(None, RaftWorkload(), 0), TypeError, "config must be a RaftConfig"),
    (lambda: partitioning.skewed_durations(10**12), ValueError, "n must be ≤"),
    (lambda: task_overhead.fit_overhead(pd.DataFrame(), 2), ValueError,
     "measurements must have the columns"),
    (lambda: collective_views.projection(n_params=math.inf), ValueError,
     "n_params must be finite"),
    (lambda: collective_views.cost_table(4, 1e6, algorithms=[]), ValueError,
     "algorithms must hold at least one"),
    (lambda: collective_views.rounds_to(pd.DataFrame(), 0.1), TypeError,
     "curve must be a DataFrame from convergence"),
    (lambda: zero.shard(np.arange(8.0), 10**12, 1), ValueError, "ranks must be ≤"),
]


@pytest.mark.parametrize("call, error, match", SILENT_NONSENSE + RUN_AWAY + LEAKED_INTERNALS)
def test_bad_input_is_refused_at_once_naming_the_argument(call, error, match):
    with within(10), pytest.raises(error, match=match):
        call()


def test_a_failed_adam_step_leaves_the_states_as_they_were():
    states = zero.shard(np.arange(8.0), 2, 1)
    before = [s.master.copy() for s in states]
    with pytest.raises(ValueError, match="gradients must be finite"):
        zero.adam_step(states, np.full((2, 8), np.nan), step=1)
    assert all(np.array_equal(s.master, b) for s, b in zip(states, before))


# -- a closed, missing or wrong client ------------------------------------------------------

@pytest.fixture(scope="module")
def closed(client):
    """A second client of the same cluster, closed: a cell re-run after the last one."""
    other = Client(client.scheduler.address, set_as_default=False)
    other.close()
    return other


CLIENT_CALLS = {
    "train single": lambda c: training.train("single", c, rounds=1),
    "Placement": lambda c: training.Placement(c, (), ()),
}


@pytest.mark.parametrize("name", list(CLIENT_CALLS))
def test_a_closed_client_says_so(closed, name):
    with within(10), pytest.raises(ValueError, match=r"the client is closed: run "
                                                    r"`distlab.connect\(\)` again"):
        CLIENT_CALLS[name](closed)


@pytest.mark.parametrize("wrong", [None, "tcp://127.0.0.1:8786"])
def test_a_missing_or_wrong_client_is_a_type_error(wrong):
    with within(10), pytest.raises(TypeError, match="client must be a distributed.Client"):
        training.Placement(wrong, (), ())
    with within(10), pytest.raises(TypeError, match="client must be a distributed.Client"):
        training.train("single", "tcp://127.0.0.1:8786", rounds=1)


def test_work_that_would_run_away_on_the_cluster_is_refused_before_any_task(client):
    with within(10), pytest.raises(ValueError, match="tasks must be ≤"):
        faults.survive_worker_loss(client, tasks=10**12)
    with within(10), pytest.raises(ValueError, match="darts must be ≤"):
        faults.survive_worker_loss(client, tasks=2, darts=10**12)
    with within(10), pytest.raises(TypeError, match="tasks must be an int"):
        tuning.probe(client, JOB, tasks=True)
