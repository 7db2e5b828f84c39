"""The per-task overhead model: the scheduler's share is serial over the whole graph, the
workers' share parallel; the task-by-task simulation agrees; the fit recovers it."""
import math

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from distlab.concepts import partitioning as P
from distlab.concepts import task_overhead as O


@given(total=st.floats(0.01, 100), tasks=st.integers(1, 10_000), workers=st.integers(1, 64),
       scheduler=st.floats(0, 0.01), worker=st.floats(0, 0.01))
def test_the_scheduler_is_a_floor_however_many_workers(total, tasks, workers, scheduler,
                                                       worker):
    m = O.overhead_model(total, tasks, workers, scheduler, worker)
    assert m["predicted (s)"] >= tasks * scheduler                  # serial over the graph
    assert m["predicted (s)"] >= m["ideal (s)"] * (1 - 1e-12)
    assert 0 < m["efficiency"] <= 1 + 1e-9
    assert m["predicted (s)"] == max(m["scheduler (s)"], m["workers (s)"])
    assert m["workers (s)"] == pytest.approx(math.ceil(tasks / workers) * (total / tasks + worker))
    assert m["bound"] == ("scheduler" if m["scheduler (s)"] > m["workers (s)"] else "workers")
    # more workers never lower the scheduler's floor
    more = O.overhead_model(total, tasks, workers * 2, scheduler, worker)
    assert more["predicted (s)"] >= tasks * scheduler


@settings(max_examples=200, deadline=None)
@given(total=st.floats(0.01, 10), tasks=st.integers(1, 150), workers=st.integers(1, 16),
       scheduler=st.floats(0, 0.01), worker=st.floats(0, 0.01))
def test_the_simulation_lies_between_the_bound_and_the_sum(total, tasks, workers, scheduler,
                                                           worker):
    task = total / tasks
    s = P.simulate_schedule([task] * tasks, workers, "dynamic", overhead=worker,
                            scheduler=scheduler)
    bound = O.tasks_seconds(tasks, workers, task, worker, scheduler)
    total_sum = math.ceil(tasks / workers) * (task + worker) + tasks * scheduler
    assert bound * (1 - 1e-9) <= s.makespan <= total_sum * (1 + 1e-9)
    if scheduler == 0:                                   # no scheduler: exactly the model
        assert s.makespan == pytest.approx(bound, rel=1e-9)


def test_ten_thousand_tasks_cost_ten_seconds_on_64_workers_too():
    """Dask's best-practices page: the per-task cost adds up over the whole graph."""
    for workers in (2, 64):
        m = O.overhead_model(0.2, 10_000, workers, 0.001)
        assert m["predicted (s)"] == pytest.approx(10.0) and m["bound"] == "scheduler"
    assert O.overhead_model(0.2, 2, 2, 0.001)["bound"] == "workers"


def test_the_scheduler_hands_out_tasks_one_at_a_time():
    s = P.simulate_schedule([1.0] * 4, 4, "dynamic", scheduler=0.5)
    assert s.start == (0.5, 1.0, 1.5, 2.0) and s.makespan == 3.0
    assert O.tasks_seconds(4, 4, 1.0, 0.0, 0.5) == 2.0                  # the throughput bound
    static = P.simulate_schedule([1.0] * 4, 2, "round_robin", scheduler=0.5)
    assert static.start == (0.5, 1.0, 1.5, 2.0) and static.makespan == 3.0


def test_break_even_task_size():
    # one worker: the task must outlast its own overhead, or the scheduler's hand-out
    assert O.break_even_task_seconds(0.0, worker_per_task=0.002) == pytest.approx(0.002)
    assert O.break_even_task_seconds(0.0, 0.9, worker_per_task=0.002) == pytest.approx(0.018)
    # w workers: the scheduler must hand out w tasks while one runs: t = E · w · s
    assert O.break_even_task_seconds(0.001, workers=64) == pytest.approx(0.032)
    assert O.break_even_task_seconds(0.001, workers=2) == pytest.approx(0.001)
    for workers, scheduler, worker in ((1, 0.0, 0.002), (64, 0.001, 0.0), (8, 0.001, 0.003)):
        t = O.break_even_task_seconds(scheduler, workers=workers, worker_per_task=worker)
        m = O.overhead_model(t * workers * 10, workers * 10, workers, scheduler, worker)
        assert m["efficiency"] == pytest.approx(0.5)


@settings(max_examples=100, deadline=None)
@given(scheduler=st.floats(1e-4, 0.01), workers=st.integers(1, 8),
       counts=st.lists(st.integers(1, 4000), min_size=1, max_size=6, unique=True))
def test_fit_overhead_recovers_the_scheduler_cost(scheduler, workers, counts):
    counts = sorted(counts) + [10_000]                   # at least one scheduler-bound row
    rows = [{"tasks": k, "ideal (s)": 0.4 / workers,
             "measured (s)": O.overhead_model(0.4, k, workers, scheduler)["predicted (s)"]}
            for k in counts]
    assert O.fit_overhead(pd.DataFrame(rows), workers) == pytest.approx(scheduler, rel=1e-9)


def test_fit_overhead_is_the_least_squares_point():
    rows = pd.DataFrame({"tasks": [2, 8, 32, 128, 256], "ideal (s)": [0.1] * 5,
                         "measured (s)": [0.114, 0.122, 0.205, 0.432, 0.864]})
    s = O.fit_overhead(rows, 2)
    compute = [0.1, 0.1, 0.1, 0.1, 0.1]

    def error(x):
        return sum((m - max(c, k * x)) ** 2
                   for k, c, m in zip(rows["tasks"], compute, rows["measured (s)"]))
    assert all(error(s) <= error(s + d) + 1e-15 for d in (-1e-4, -1e-6, 1e-6, 1e-4))
    assert 0.003 < s < 0.004                            # the whole graph's cost per task
    faster = rows.iloc[:1].assign(**{"measured (s)": 0.09})     # under the ideal: noise
    assert O.fit_overhead(faster, 2) == 0.0


def test_partitioning_keeps_the_names():
    assert P.overhead_model is O.overhead_model and P.fit_overhead is O.fit_overhead


@pytest.mark.parametrize("call, error, match", [
    (lambda: O.overhead_model(1, 0, 2, 0.001), ValueError, "tasks"),
    (lambda: O.overhead_model(1, 2, 2, -1), ValueError, "scheduler_per_task"),
    (lambda: O.overhead_model(1, 2, 2, 0.001, worker_per_task=-1), ValueError,
     "worker_per_task"),
    (lambda: O.tasks_seconds(2, 0, 1.0), ValueError, "workers"),
    (lambda: O.tasks_seconds(2.0, 1, 1.0), TypeError, "tasks must be an int"),
    (lambda: O.break_even_task_seconds(0.001, 1.0), ValueError, "efficiency"),
    (lambda: O.break_even_task_seconds(0.001, workers=0), ValueError, "workers"),
    (lambda: O.fit_overhead(pd.DataFrame({"tasks": [], "measured (s)": [],
                                          "ideal (s)": []}), 2), ValueError, "at least one"),
])
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
