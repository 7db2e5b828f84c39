"""distlab.engines.torch_gloo (ranks, their all-reduce and its timing) and the DDP jobs of
distlab.apps.torch_ddp: the document's example and one DDP step with PyTorch Distributed
(gloo, CPU processes on 127.0.0.1), equal to distlab's own results.

PyTorch is optional: without it the tests that need it are skipped with the reason, unless
DISTLAB_REQUIRE_TORCH=1 (as in CI), which turns that skip into a failure."""
import multiprocessing
import socket

import numpy as np
import pytest

from distlab.apps import torch_ddp
from distlab.apps.training import apply_gradient, init_params, load_shard, node_gradient, train
from distlab.engines import torch_gloo
from distlab.engines.allreduce import allreduce




@pytest.fixture(scope="module")
def two_ranks(torch_needed):
    """One spawn of world size 2 serves most tests: forming the group costs seconds."""
    return torch_gloo.run_ranks([
        ("allreduce_mean", {"values": [10.0, 30.0]}),
        (torch_ddp.ddp_step, {"seed": 0, "batch": 32, "lr": 2.0, "steps": 3}),
        ("time_allreduce", {"sizes": (8, 4096), "repeats": 2}),
        (torch_ddp.time_ddp_step, {"repeats": 2}),
    ], world_size=2)


# --- without torch: the launcher's checks and the pure helpers --------------------------

def test_free_port_is_bindable():
    port = torch_gloo.free_port()
    assert 1024 <= port <= 65535
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


@pytest.mark.parametrize("jobs, error, match", [
    ("nope", ValueError, "unknown job 'nope'; known jobs: allreduce_mean"),
    ("ddp_step", ValueError, "unknown job 'ddp_step'"),        # an app's job: pass the function
    ([], TypeError, "non-empty list"),
    ([(torch_ddp.ddp_step, [1])], TypeError, "must be a dict"),
    ([(torch_ddp.ddp_step, {}, 3)], ValueError, "from 1 to world_size"),
    ([("allreduce_mean", {}, 0)], ValueError, "from 1 to world_size"),
    ([(torch_ddp.ddp_step, {"group": None})], ValueError, "group"),
    ([(torch_ddp.ddp_step, {}, 1, 2)], TypeError, "a job must be"),
    ([torch_ddp.ddp_step, torch_ddp.ddp_step], ValueError, "appears twice"),
    ([lambda rank, world_size, group: rank], TypeError, "top level of an importable module"),
])
def test_bad_jobs_are_rejected_before_anything_starts(jobs, error, match):
    with pytest.raises(error, match=match):
        torch_gloo.run_ranks(jobs, world_size=2)


def test_bad_world_size_timeout_and_values():
    with pytest.raises(TypeError, match="world_size must be an int"):
        torch_gloo.run_ranks("allreduce_mean", world_size=2.0)
    with pytest.raises(ValueError, match="world_size must be between 1 and 16"):
        torch_gloo.run_ranks("allreduce_mean", world_size=0)
    with pytest.raises(ValueError, match="timeout must be > 0"):
        torch_gloo.run_ranks("allreduce_mean", timeout=0)
    with pytest.raises(TypeError, match="values must be a list"):
        torch_gloo.allreduce_example("10 20 30")
    with pytest.raises(ValueError, match="values\\[1\\] must be finite"):
        torch_gloo.allreduce_example([1, float("nan")])
    with pytest.raises(TypeError, match="values\\[0\\] must be a number"):
        torch_gloo.allreduce_example([None, 1])
    with pytest.raises(ValueError, match="1 to 16 numbers"):
        torch_gloo.allreduce_example([])


def test_without_torch_the_launcher_says_how_to_install(monkeypatch):
    monkeypatch.setattr(torch_gloo, "available", lambda: False)
    with pytest.raises(ModuleNotFoundError, match="pip install torch"):
        torch_gloo.run_ranks(torch_ddp.ddp_step)


# --- with torch -------------------------------------------------------------------------

def test_the_documents_example_on_three_processes(torch_needed):
    values = [10, 20, 30]
    assert torch_gloo.allreduce_example(values) == [20.0, 20.0, 20.0]
    assert values == [10, 20, 30]                                  # input untouched
    assert not [p for p in multiprocessing.active_children()
                if p.name.startswith("torch-rank")]                 # every rank joined


def test_two_ranks_average(two_ranks):
    assert [r["allreduce_mean"] for r in two_ranks] == [20.0, 20.0]
    assert all(0 <= r["init_s"] <= r["startup_s"] for r in two_ranks)


def _sync_steps_with_distlab(nodes, seed, batch, lr, steps):
    """distlab's synchronous strategy, in-process: each node's gradient on its own
    mini-batch, averaged with distlab's all-reduce (the simulator), the same step."""
    shards = [load_shard(i, nodes, seed) for i in range(nodes)]
    params = init_params()
    for step in range(steps):
        grads = [node_gradient(params, shards[i], i, step, batch, seed) for i in range(nodes)]
        params = apply_gradient(params, allreduce(grads, "ring").values[0], lr)
    return params


def test_one_ddp_step_equals_distlabs_synchronous_step(two_ranks):
    ddp = two_ranks[0]["ddp_step"]
    assert ddp.shape == (3, 65, 10)
    assert np.array_equal(ddp, two_ranks[1]["ddp_step"])           # replicas agree exactly
    np.testing.assert_allclose(ddp[0], _sync_steps_with_distlab(2, 0, 32, 2.0, 1),
                               rtol=0, atol=1e-12)
    single = train("single", nodes=2, rounds=1, seed=0, batch=32, lr=2.0).attrs["params"]
    np.testing.assert_allclose(ddp[0], single, rtol=0, atol=1e-12)
    assert np.abs(ddp[0]).max() > 0.01                            # the step did move


def test_later_ddp_steps_track_distlab(two_ranks):
    """From step 2 on, every rank starts from the averaged model: still equal."""
    ddp = two_ranks[0]["ddp_step"]
    np.testing.assert_allclose(ddp[2], _sync_steps_with_distlab(2, 0, 32, 2.0, 3),
                               rtol=0, atol=1e-12)
    single = train("single", nodes=2, rounds=3, seed=0, batch=32, lr=2.0).attrs["params"]
    np.testing.assert_allclose(ddp[2], single, rtol=0, atol=1e-12)


def test_timings_have_the_shape_asked_for(two_ranks):
    times = two_ranks[0]["time_allreduce"]
    assert sorted(times) == [8, 4096]
    assert all(np.isfinite(t) and t > 0 for t in times.values())
    assert times == two_ranks[1]["time_allreduce"]                 # the slowest rank's time
    assert np.isfinite(two_ranks[0]["time_ddp_step"])


def test_a_failing_rank_reports_its_traceback_and_its_peers_are_stopped(torch_needed):
    """Rank 0 fails alone (a one-rank job); rank 1 would wait for it forever at the final
    barrier, so the launcher must stop it."""
    with pytest.raises(RuntimeError, match="rank 0 failed:(.|\n)*one number per rank"):
        torch_gloo.run_ranks([("allreduce_mean", {"values": [1.0, 2.0]}, 1)], world_size=2)
    assert not [p for p in multiprocessing.active_children()
                if p.name.startswith("torch-rank")]
