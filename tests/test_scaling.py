"""Amdahl, Gustafson, Karp–Flatt, the data-parallel step's efficiency, and availability
arithmetic."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from distlab.concepts import availability as A
from distlab.concepts import scaling as S
from distlab.concepts.cost import Network

fractions = st.floats(0, 1)
workers = st.integers(2, 4096)


@given(f=fractions, p=workers)
def test_amdahl_is_between_1_and_p_and_below_its_limit(f, p):
    s = S.amdahl(f, p)
    assert 1 - 1e-12 <= s <= p + 1e-9
    if f < 1:
        assert s <= 1 / (1 - f) + 1e-9


@given(f=fractions, p=workers)
def test_karp_flatt_of_an_amdahl_speedup_is_the_serial_fraction(f, p):
    assert S.karp_flatt(S.amdahl(f, p), p) == pytest.approx(1 - f, abs=1e-9)


@given(f=st.floats(0, 0.999), ps=st.lists(workers, min_size=1, max_size=5))
def test_fit_amdahl_recovers_f_exactly_from_clean_data(f, ps):
    ps = [1] + ps
    assert S.fit_amdahl(ps, [S.amdahl(f, p) for p in ps]) == pytest.approx(f, abs=1e-9)


@given(f=st.floats(0, 1), p=workers)
def test_gustafson_with_the_parallel_runs_serial_fraction_matches_amdahl_at_that_p(f, p):
    """Both laws describe the same run at the p it was measured on."""
    s = S.serial_fraction_on_parallel(f, p)
    assert S.gustafson(s, p) == pytest.approx(S.amdahl(f, p), rel=1e-9)


def test_known_values_and_predictions_table():
    assert S.amdahl(0.9, 10**9) == pytest.approx(10, rel=1e-6)
    assert S.gustafson(0.1, 64) == pytest.approx(57.7)
    assert S.karp_flatt(1.8, 2) == pytest.approx(1 / 9)
    table = S.predictions(0.9, measured_at=2)
    assert list(table.index) == [1, 2, 4, 8, 16, 32, 64]
    assert table.loc[1, "Amdahl speed-up (prediction)"] == 1.0
    assert all("prediction" in c for c in table.columns)


def test_the_gustafson_column_names_its_serial_share():
    """f = 0.95 measured at p = 2: the p = 2 run is 9.5 % serial, so S(64) = 58.0; a
    serial share of 5 % of the scaled run would give 60.85. The column says which."""
    table = S.predictions(0.95, measured_at=2)
    s = table.attrs["gustafson s"]
    assert s == pytest.approx(0.05 / 0.525)
    column = "Gustafson scaled speed-up (prediction, s = 0.095)"
    assert table.loc[64, column] == 58.0
    assert S.gustafson(0.05, 64) == pytest.approx(60.85)


def test_karp_flatt_table_separates_serial_code_from_overhead():
    """Serial code gives one e at every p and task count; a per-task overhead (serial, on
    the scheduler) gives an e that grows with the tasks; an overhead that grows with p
    (messages to every worker) an e that grows with p; Amdahl's fit to p = 1, 2 is e."""
    work, serial, per_task = 8.0, 0.1, 0.01
    rows = []
    for tasks in (2, 8, 32):
        for p in (1, 2, 4):
            rows.append({"engine": "serial code", "tasks": tasks, "workers": p,
                         "seconds": work * (serial + (1 - serial) / p)})
            rows.append({"engine": "overhead", "tasks": tasks, "workers": p,
                         "seconds": work / p + tasks * per_task})
            rows.append({"engine": "messages", "tasks": tasks, "workers": p,
                         "seconds": work / p + 0.05 * (p - 1)})
    t = S.karp_flatt_table(rows)
    e = t[t.workers > 1].set_index(["engine", "tasks", "workers"])["Karp-Flatt e"]
    np.testing.assert_allclose(e["serial code"], serial)
    assert e["overhead"].loc[2, 2] < e["overhead"].loc[8, 2] < e["overhead"].loc[32, 2]
    assert e["messages"].loc[2, 2] < e["messages"].loc[2, 4]            # grows with p
    fit = t.set_index(["engine", "tasks"])["Amdahl 1 - f (fit)"]
    np.testing.assert_allclose(fit["serial code"], serial)
    two = S.karp_flatt_table([r for r in rows if r["workers"] < 4])
    two = two[two.workers == 2]
    np.testing.assert_allclose(two["Amdahl 1 - f (fit)"], two["Karp-Flatt e"])
    assert t.loc[t.workers == 1, "Karp-Flatt e"].isna().all()
    np.testing.assert_allclose(t["efficiency"], t["speed-up"] / t["workers"])


def test_karp_flatt_table_bad_input():
    with pytest.raises(ValueError, match="missing \\['seconds'\\]"):
        S.karp_flatt_table([{"engine": "x", "tasks": 1, "workers": 1}])
    with pytest.raises(ValueError, match="no run on 1 worker"):
        S.karp_flatt_table([{"engine": "x", "tasks": 1, "workers": 2, "seconds": 1.0}])


@pytest.mark.parametrize("call, match", [
    (lambda: S.amdahl(1.5, 2), "f \\(parallel fraction\\)"),
    (lambda: S.amdahl(0.5, 0), "worker counts"),
    (lambda: S.karp_flatt(1.5, 1), "more than 1 worker"),
    (lambda: S.karp_flatt(-1, 2), "speedup"),
    (lambda: S.fit_amdahl([1, 1], [1, 1]), "p > 1"),
    (lambda: S.fit_amdahl([1, 2], [1]), "same length"),
])
def test_bad_scaling_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@settings(max_examples=30, deadline=None)
@given(gradient_bytes=st.floats(1e3, 1e10), compute_s=st.floats(1e-3, 100),
       alpha=st.floats(0, 1e-2), bandwidth=st.floats(1e6, 1e11))
def test_efficiency_invariants(gradient_bytes, compute_s, alpha, bandwidth):
    t = S.efficiency(nodes=(1, 2, 4, 8, 16), gradient_bytes=gradient_bytes,
                     compute_s=compute_s, network=Network(alpha=alpha, bandwidth=bandwidth))
    assert ((t["efficiency"] > 0) & (t["efficiency"] <= 1 + 1e-12)).all()
    np.testing.assert_allclose(t["speed-up"], t["nodes"] * t["efficiency"])
    assert (t.loc[t["nodes"] == 1, "efficiency"] == 1).all()
    star = t[t.algorithm == "star"].set_index("nodes")["efficiency"]
    assert star.is_monotonic_decreasing                   # the root's load grows with p


def test_efficiency_with_bandwidth_bound_gradients():
    t = S.efficiency()
    e = t.pivot(index="nodes", columns="algorithm", values="efficiency")
    assert (e["ring"] >= e["star"] - 1e-12).all()
    assert e.loc[64, "star"] < 0.05 and e.loc[64, "ring"] > 0.7
    np.testing.assert_allclose(e["ring"], e["rabenseifner"], atol=2e-3)


def test_efficiency_rejects_bad_input():
    with pytest.raises(ValueError, match="compute_s must be > 0"):
        S.efficiency(compute_s=0)
    with pytest.raises(TypeError, match="algorithms must be a non-empty list"):
        S.efficiency(algorithms="ring")
    with pytest.raises(TypeError, match="network must be"):
        S.efficiency(network=None)
    with pytest.raises(ValueError, match="unknown algorithm"):
        S.efficiency(algorithms=("bus",))


def test_efficiency_plot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from distlab.present import schedule_plots

    fig = schedule_plots.efficiency_plot(S.efficiency(nodes=(1, 2, 4)))
    assert len(fig.axes[0].lines) == 4
    plt.close(fig)
    with pytest.raises(TypeError, match="efficiency"):
        schedule_plots.efficiency_plot({"nodes": [1]})


def test_availability_arithmetic():
    assert A.availability(990, 10) == pytest.approx(0.99)
    assert A.any_of(0.99, 3) == pytest.approx(1 - 1e-6)
    assert A.nines(A.any_of(0.99, 3)) == pytest.approx(6)
    assert A.quorum(0.99, 3, 2) == pytest.approx(3 * 0.99**2 - 2 * 0.99**3)
    assert A.quorum(0.9, 5, 1) == pytest.approx(A.any_of(0.9, 5))
    assert A.quorum(0.9, 4, 4) == pytest.approx(0.9**4)
    assert A.nines(1.0) == math.inf
    assert A.downtime_hours_per_year(0.999) == pytest.approx(8.766)


@given(a=st.floats(0, 1), n=st.integers(1, 9), q=st.integers(1, 9))
def test_quorum_availability_falls_as_the_quorum_grows(a, n, q):
    q = min(q, n)
    assert 0 <= A.quorum(a, n, q) <= A.any_of(a, n) + 1e-12
    if q < n:
        assert A.quorum(a, n, q + 1) <= A.quorum(a, n, q) + 1e-12


def test_availability_table_and_bad_input():
    table = A.table(1000, 10, replicas=(1, 3))
    assert table.loc[3, "any 1 up: nines"] > table.loc[3, "majority up: nines"] > \
        table.loc[1, "any 1 up: nines"]
    with pytest.raises(ValueError, match="mtbf"):
        A.availability(0, 1)
    with pytest.raises(ValueError, match="q \\(quorum\\) must be at most n=3"):
        A.quorum(0.9, 3, 4)
    with pytest.raises(TypeError, match="n \\(replicas\\) must be an int"):
        A.any_of(0.9, 2.0)
    with pytest.raises(ValueError, match="a \\(availability\\)"):
        A.nines(1.2)
