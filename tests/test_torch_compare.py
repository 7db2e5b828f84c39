"""distlab.apps.torch_compare: chapter 07's table and the Dask side of the comparison."""
import numpy as np
import pytest

from distlab.apps import torch_compare
from distlab.engines import torch_gloo

FAKE_TORCH = [
    {"startup_s": 4.0, "init_s": 0.1, "allreduce_mean": 20.0,
     "time_allreduce": {8: 0.0002, 1 << 20: 0.002}, "time_ddp_step": 0.001},
    {"startup_s": 5.0, "init_s": 0.1, "allreduce_mean": 20.0,
     "time_allreduce": {8: 0.0002, 1 << 20: 0.002}, "time_ddp_step": 0.001},
    {"startup_s": 9.0, "init_s": 0.1, "allreduce_mean": 20.0},
]
DASK = {"startup_s": 2.0, "allreduce_s": {8: 0.004, 1 << 20: 0.008}, "step_s": 0.03}


def test_table_with_both_tools():
    t = torch_compare.table(DASK, FAKE_TORCH)
    assert list(t.columns) == ["Dask + distlab", "PyTorch + gloo", "Dask ÷ PyTorch"]
    assert list(t.index) == ["start-up: cluster ready (s)", "all-reduce 8 B, 2 processes (ms)",
                             "all-reduce 1 MiB, 2 processes (ms)",
                             "one data-parallel training step (ms)"]
    assert t.loc["start-up: cluster ready (s)", "PyTorch + gloo"] == 5.0   # 2 ranks compared
    assert t.loc["all-reduce 8 B, 2 processes (ms)", "Dask ÷ PyTorch"] == 20.0
    assert t.loc["one data-parallel training step (ms)", "Dask + distlab"] == 30.0


def test_table_without_torch_leaves_its_column_empty():
    t = torch_compare.table(DASK, None)
    assert t["PyTorch + gloo"].isna().all() and t["Dask ÷ PyTorch"].isna().all()
    assert t["Dask + distlab"].notna().all()


def test_run_torch_without_torch_says_how_to_install(monkeypatch, capsys):
    monkeypatch.setattr(torch_gloo, "available", lambda: False)
    monkeypatch.delenv("DISTLAB_REQUIRE_TORCH", raising=False)
    assert torch_compare.run_torch() is None
    assert torch_gloo.INSTALL_COMMAND in capsys.readouterr().out


def test_run_torch_without_torch_fails_when_ci_requires_it(monkeypatch):
    monkeypatch.setattr(torch_gloo, "available", lambda: False)
    monkeypatch.setenv("DISTLAB_REQUIRE_TORCH", "1")
    with pytest.raises(ModuleNotFoundError, match="DISTLAB_REQUIRE_TORCH=1 but PyTorch"):
        torch_compare.run_torch()


def test_run_torch_rejects_bad_values(monkeypatch):
    monkeypatch.setattr(torch_gloo, "available", lambda: True)
    with pytest.raises(ValueError, match="at least 2 numbers"):
        torch_compare.run_torch([1.0])
    with pytest.raises(TypeError, match="values must be a list"):
        torch_compare.run_torch(7)


def test_dask_side_has_the_shape_asked_for(client):
    times = torch_compare.dask_allreduce_seconds(client, sizes=(8, 4096), repeats=1)
    assert sorted(times) == [8, 4096] and all(np.isfinite(v) and v > 0 for v in times.values())
    assert torch_compare.dask_step_seconds(client, rounds=2) > 0


def test_measure_dask_fills_the_table(client):
    dask = torch_compare.measure_dask(client, 1.5, sizes=(8,), repeats=1, rounds=1)
    assert dask["startup_s"] == 1.5 and list(dask["allreduce_s"]) == [8]
    t = torch_compare.table(dask, None)
    assert t["Dask + distlab"].notna().all() and len(t) == 3
