"""Amdahl, Gustafson, Karp–Flatt, and availability arithmetic."""
import math

import pytest
from hypothesis import given, strategies as st

from distlab.concepts import availability as A
from distlab.concepts import scaling as S

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
