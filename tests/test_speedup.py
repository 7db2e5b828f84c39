"""distlab.apps.speedup.measure_scaling on the live cluster: every engine, p and cut throws
the same darts; timings are only checked to be there, never for their values (Karp–Flatt
e is not even guaranteed to lie in [0, 1] on a busy machine)."""
import numpy as np
import pytest

from distlab.apps import speedup


def test_measure_scaling_runs_every_engine_p_and_cut(client):
    t = speedup.measure_scaling(client, darts=40_000, task_counts=(2, 4), repeats=1)
    assert t["same result"].all()
    assert set(t["engine"]) == {"Dask", "processes"}
    assert sorted(set(t["workers"])) == [1, 2] and sorted(set(t["tasks"])) == [2, 4]
    assert len(t) == 8 and (t["seconds"] > 0).all()
    one = t[t["workers"] == 1]
    assert (one["speed-up"] == 1).all() and one["Karp-Flatt e"].isna().all()
    two = t[t["workers"] == 2]
    np.testing.assert_allclose(two["Karp-Flatt e"],
                               (1 / two["speed-up"] - 1 / 2) / (1 - 1 / 2))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(darts=1, task_counts=(2,)), ValueError, "task_counts\\[i\\] must be ≤ 1"),
    (dict(task_counts=()), ValueError, "at least one count"),
    (dict(repeats=0), ValueError, "repeats must be ≥ 1"),
    (dict(darts=2.5), TypeError, "darts must be an int"),
])
def test_bad_input(client, kwargs, error, match):
    with pytest.raises(error, match=match):
        speedup.measure_scaling(client, **kwargs)
