"""Task partitioning, the load-balancing simulation and the overhead model."""
import math

import pytest
from hypothesis import given, settings, strategies as st

from distlab.concepts import partitioning as P

costs_lists = st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=30)


@given(costs=costs_lists, parts=st.integers(1, 30))
def test_partitions_are_contiguous_cover_every_task_once_and_have_no_empty_part(costs, parts):
    parts = min(parts, len(costs))
    for partition in (P.partition_even(costs, parts), P.partition_cost_aware(costs, parts)):
        assert len(partition) == parts
        assert [i for part in partition for i in part] == list(range(len(costs)))
        assert all(part for part in partition)
        assert sum(P.part_costs(costs, partition)) == pytest.approx(sum(costs))


def best_contiguous(costs, parts):
    """Exhaustive: the smallest largest-part cost over all contiguous partitions."""
    from itertools import combinations
    n = len(costs)
    best = math.inf
    for cuts in combinations(range(1, n), parts - 1):
        bounds = (0, *cuts, n)
        best = min(best, max(sum(costs[a:b]) for a, b in zip(bounds, bounds[1:])))
    return best


@settings(max_examples=200)
@given(costs=st.lists(st.integers(0, 50), min_size=1, max_size=9), parts=st.integers(1, 9))
def test_cost_aware_partition_is_optimal_and_never_worse_than_even(costs, parts):
    parts = min(parts, len(costs))
    aware = max(P.part_costs(costs, P.partition_cost_aware(costs, parts)))
    even = max(P.part_costs(costs, P.partition_even(costs, parts)))
    assert aware == pytest.approx(best_contiguous(costs, parts))
    assert aware <= even + 1e-9


def test_cost_aware_balances_a_skewed_list():
    costs = [10, 1, 1, 1, 1, 1, 1, 1, 1, 10, 1, 1]
    assert P.part_costs(costs, P.partition_even(costs, 3)) == [13, 4, 13]
    assert max(P.part_costs(costs, P.partition_cost_aware(costs, 3))) == 12


@settings(max_examples=200, deadline=None)
@given(d=st.lists(st.floats(0.001, 10), min_size=1, max_size=40), p=st.integers(1, 8),
       strategy=st.sampled_from(P.STRATEGIES))
def test_every_schedule_runs_each_task_once_without_overlap_and_respects_bounds(d, p, strategy):
    s = P.simulate_schedule(d, p, strategy)
    assert len(s.worker) == len(d) and all(0 <= w < p for w in s.worker)
    for w in range(p):
        spans = sorted((a, b) for ww, a, b in zip(s.worker, s.start, s.end) if ww == w)
        assert all(b1 <= a2 + 1e-12 for (_, b1), (a2, _) in zip(spans, spans[1:]))
    assert [b - a for a, b in zip(s.start, s.end)] == pytest.approx(d)
    lb = P.lower_bound(d, p)
    assert s.makespan >= lb - 1e-9
    assert s.idle == pytest.approx(p * s.makespan - sum(d))
    if strategy == "longest_first" and p ** len(d) <= 5000:    # Graham 1969: LPT ≤ 4/3 − 1/(3p)
        assert s.makespan <= (4 / 3 - 1 / (3 * p)) * best_makespan(d, p) + 1e-9
    if strategy == "dynamic":
        assert s.makespan <= (2 - 1 / p) * lb + 1e-9   # Graham 1966/1969 list scheduling


def best_makespan(d, p):
    from itertools import product
    best = math.inf
    for assignment in product(range(p), repeat=len(d)):
        loads = [0.0] * p
        for w, x in zip(assignment, d):
            loads[w] += x
        best = min(best, max(loads))
    return best


def test_graham_example_lpt_gives_10_where_9_is_possible():
    s = P.simulate_schedule([5, 4, 3, 3, 3], 2, "longest_first")
    assert s.makespan == 10 and best_makespan([5, 4, 3, 3, 3], 2) == 9


def test_skewed_tasks_static_round_robin_loses_to_longest_first_and_dynamic():
    d = P.skewed_durations(24, seed=1, mean=0.05)
    spans = {s: P.simulate_schedule(d, 2, s).makespan for s in P.STRATEGIES}
    assert spans["longest_first"] < spans["round_robin"]
    assert spans["dynamic"] < spans["round_robin"]
    assert d == P.skewed_durations(24, seed=1, mean=0.05)
    assert sum(d) == pytest.approx(24 * 0.05, abs=0.01)


def test_the_alternating_case_breaks_round_robin_only():
    d = P.alternating_durations()
    assert d == [0.2, 0.02] * 4
    assert P.simulate_schedule(d, 2, "round_robin").makespan == pytest.approx(0.8)
    assert P.simulate_schedule(d, 2, "longest_first").makespan == pytest.approx(0.44)
    assert P.lower_bound(d, 2) == pytest.approx(0.44)


def test_overhead_adds_to_every_task():
    s = P.simulate_schedule([1, 1, 1, 1], 2, "dynamic", overhead=0.5)
    assert s.makespan == 3.0


@pytest.mark.parametrize("call, error, match", [
    (lambda: P.partition_even([], 2), ValueError, "empty"),
    (lambda: P.partition_even([1, 2], 3), ValueError, "at most the number of tasks"),
    (lambda: P.partition_cost_aware([1, -2], 1), ValueError, "costs\\[1\\]"),
    (lambda: P.partition_cost_aware("abc", 1), TypeError, "list of non-negative"),
    (lambda: P.simulate_schedule([1], 2, "random"), ValueError,
     "'round_robin', 'longest_first', 'dynamic'"),
    (lambda: P.simulate_schedule([], 2), ValueError, "empty"),
    (lambda: P.simulate_schedule([1], 0), ValueError, "workers must be ≥ 1"),
    (lambda: P.simulate_schedule([1], 2, overhead=-1), ValueError, "overhead"),
    (lambda: P.simulate_schedule([1], 2, scheduler=-1), ValueError, "scheduler"),
    (lambda: P.skewed_durations(5, shape=1.0), ValueError, "shape"),
    (lambda: P.alternating_durations(long=0), ValueError, "long must be > 0"),
    (lambda: P.alternating_durations(tasks=0), ValueError, "tasks must be ≥ 1"),
])
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_inputs_are_not_modified():
    d = [3.0, 1.0, 2.0]
    P.simulate_schedule(d, 2, "longest_first")
    P.partition_cost_aware(d, 2)
    assert d == [3.0, 1.0, 2.0]


def test_plots_draw():
    import pandas as pd

    from distlab.present import schedule_plots

    d = P.skewed_durations(12, seed=0)
    fig = schedule_plots.gantt([P.simulate_schedule(d, 2, s) for s in P.STRATEGIES])
    assert len(fig.axes) == 3
    measured = pd.DataFrame([{"tasks": 2, "efficiency": 0.9}, {"tasks": 8, "efficiency": 0.7}])
    assert schedule_plots.overhead_curve(0.2, 2, 0.002, measured).axes
    assert schedule_plots.overhead_curve(0.2, 2, 0.0).axes          # no scheduler cost
    assert schedule_plots.speedup_plot({"workers": 2, "speed-up": 1.8}, 0.9).axes
