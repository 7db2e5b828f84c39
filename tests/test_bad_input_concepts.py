"""Issue 16, kinds 1, 3 and 5, in the concepts and the applications that need no cluster:
impossible numbers, sizes that would run away, and leaked internals (KeyError,
ZeroDivisionError, numpy's own messages) become a ValueError or TypeError that names the
argument, at once. Each case below returned nonsense, ran away or leaked before."""
import math

import numpy as np
import pytest
from conftest import within

from distlab.apps import data_sync, flow, hedging, serving, sgd
from distlab.cli import bench, notebooks
from distlab.concepts import availability, cost, darts, events, gossip, plans, sizing
from distlab.concepts.linearizability import Op
from distlab.engines.allreduce import make_plan
from distlab.present import calculator


CASES = [
    # -- silent nonsense for impossible numbers ----------------------------------------
    (lambda: darts.estimate_pi([785], darts=-1), ValueError, "darts must be ≥ 1, got -1"),
    (lambda: darts.estimate_pi([2000], darts=1000), ValueError, r"counts\[0\] must be ≤ darts"),
    (lambda: darts.estimate_pi([1.5], 10), TypeError, r"counts\[0\] must be an int"),
    (lambda: darts.darts_in_circle(0, 2.0), TypeError, "darts must be an int"),
    (lambda: cost.lower_bound_bytes(-1, 1e6), ValueError, "p must be ≥ 1, got -1"),
    (lambda: cost.lower_bound_bytes(4, -8), ValueError, "n_bytes must be ≥ 0"),
    (lambda: cost.lower_bound_bytes(2.5, 8), TypeError, "p must be an int"),
    (lambda: cost.closed_form("ring", 4, math.inf), ValueError, "n_bytes must be finite"),
    (lambda: gossip.predicted_rounds("gossip_ring", 4, tolerance=1.5), ValueError,
     r"tolerance must be a number in \(0, 1\), got 1.5"),
    (lambda: plans.star(4, root=7), ValueError, r"root must be a node, 0 … 3; got 7"),
    (lambda: sizing.matmul_tflops(64, repeats=0), ValueError, "repeats must be ≥ 1"),
    (lambda: sizing.training_days(1e20, 2.0, 312), TypeError, "devices must be an int"),
    (lambda: availability.table(replicas=[]), ValueError, "replicas must hold at least one"),
    (lambda: availability.table(mtbf_hours=0), ValueError, "mtbf_hours must be > 0"),
    (lambda: Op("A", "append", 1, 0, 1), ValueError, "kind must be one of 'read', 'write'"),
    (lambda: Op("A", "write", 1, math.nan, 1), ValueError, "invoke must be finite"),
    (lambda: Op("A", "write", 1, 2, 1), ValueError, "completes .* before it is invoked"),
    (lambda: cost.Network(alpha="1"), TypeError, "alpha must be a number"),
    (lambda: data_sync.local_writes(2.0, 3), TypeError, "n_nodes must be an int"),
    (lambda: data_sync.replay(np.full((2, 2, 2), np.nan), 1), ValueError,
     "writes must be finite"),
    (lambda: sgd.one_step_two_ways(lr=math.inf), ValueError, "lr must be finite"),
    (lambda: serving.request_rows(-1, 5), ValueError, "first must be ≥ 0"),
    (lambda: flow.mermaid(highlight="AB"), TypeError, "highlight must be a list of stage ids"),
    (lambda: notebooks.chapters("05"), TypeError, "names must be a list of chapter names"),
    (lambda: bench.run(quick="yes"), TypeError, "quick must be True or False"),
    # -- sizes that would run away: refused, with the limit named -------------------------
    (lambda: darts.darts_in_circle(0, darts=10**12), ValueError,
     r"darts must be ≤ 1,000,000,000 \(the limit of this function\)"),
    (lambda: make_plan("ring", 10**12), ValueError, "n_nodes must be ≤ 512"),
    (lambda: plans.ring(10**6), ValueError, "p must be ≤ 512"),
    (lambda: gossip.gossip_random(10**6), ValueError, "p must be ≤ 512"),
    (lambda: cost.closed_form("gossip_ring", 10**6, 8), ValueError, "n must be ≤ 512"),
    (lambda: sizing.matmul_tflops(10**6), ValueError, "n must be ≤ 4,096"),
    (lambda: availability.quorum(0.9, 2000, 1001), ValueError,
     r"n \(replicas\) must be ≤ 1,000"),
    (lambda: data_sync.local_writes(2, 10**6, 10**6), ValueError,
     "n_writes × n_nodes × size must be ≤ 16,777,216"),
    (lambda: sgd.one_step_two_ways(n_nodes=10**12), ValueError, "n_nodes must be ≤ 512"),
    (lambda: hedging.simulate_service(requests=10**9), ValueError,
     "requests must be ≤ 100,000"),
    (lambda: serving.request_rows(0, 10**12), ValueError, "count must be ≤ 100,000"),
    # -- leaked internals ------------------------------------------------------------------
    (lambda: gossip.predicted_rounds("ring", 8), ValueError,
     "algorithm must be one of 'gossip_ring', 'gossip_complete', 'gossip_random'; got 'ring'"),
    (lambda: darts.estimate_pi([785], darts=0), ValueError, "darts must be ≥ 1, got 0"),
    (lambda: darts.darts_in_circle(0, darts=0), ValueError, "darts must be ≥ 1, got 0"),
    (lambda: gossip.gossip_ring(4, tolerance=0), ValueError, r"tolerance must be a number in \(0, 1\)"),
    (lambda: gossip.gossip_complete(4, tolerance=0), ValueError, "tolerance"),
    (lambda: gossip.gossip_random(4, tolerance=0), ValueError, "tolerance"),
    (lambda: gossip.rounds_to_tolerance(0.5, 0), ValueError, "tolerance"),
    (lambda: cost.closed_form("gossip_ring", 4, 8, tolerance=0), ValueError, "tolerance"),
    (lambda: gossip.gossip_random(4, seed=-1), ValueError, "seed must be ≥ 0"),
    (lambda: gossip.ring_matrix(-1), ValueError, "n must be ≥ 1, got -1"),
    (lambda: gossip.predicted_rounds("gossip_ring", 0), ValueError, "n must be ≥ 1, got 0"),
    (lambda: plans.ring(2.0), TypeError, "p must be an int, got float"),
    (lambda: cost.round_times(plans.ring(2), 4, network="fast"), TypeError,
     "network must be a Network"),
    (lambda: sizing.table(accelerator="A100"), TypeError, "accelerator must be an Accelerator"),
    (lambda: data_sync.local_writes(2, 3, seed=-1), ValueError, "seed must be ≥ 0"),
    (lambda: data_sync.replay(data_sync.local_writes(2, 3), 1, client="tcp://x:1"),
     TypeError, "client must be a distributed.Client"),
    (lambda: sgd.one_step_two_ways(lr="0.1"), TypeError, "lr must be a number"),
    (lambda: flow.mermaid(edges=5), TypeError, "edges must be a list"),
    (lambda: calculator.plot_models(accelerator="A100"), TypeError,
     "accelerator must be an Accelerator"),
    (lambda: calculator.plot_models(models=[]), ValueError, "models must hold at least one"),
]


@pytest.mark.parametrize("call, error, match", CASES)
def test_bad_input_is_refused_at_once_naming_the_argument(call, error, match):
    with within(10), pytest.raises(error, match=match):
        call()


def test_a_message_size_must_be_a_whole_number_of_bytes():
    sim = events.Simulator()
    net = events.MessageNetwork(sim)
    net.add_node("a", lambda m: None)
    with pytest.raises(TypeError, match="size must be an int, got float 2.5"):
        net.send("a", "a", 1, size=2.5)


def test_execute_refuses_a_bad_timeout_and_a_missing_file(tmp_path):
    with pytest.raises(ValueError, match="timeout must be ≥ 1, got 0"):
        notebooks.execute(tmp_path / "x.ipynb", timeout=0)
    with pytest.raises(FileNotFoundError, match="path must be a notebook file"):
        notebooks.execute(tmp_path / "missing.ipynb")


def test_the_limits_still_allow_what_the_chapters_use():
    assert plans.ring(plans.MAX_NODES).n_rounds == 2 * (plans.MAX_NODES - 1)
    assert gossip.predicted_rounds("gossip_ring", 64) > 0
    assert darts.estimate_pi([785], darts=1000) == pytest.approx(3.14)
    assert availability.quorum(0.9, availability.MAX_REPLICAS, 501) <= 1
    assert cost.closed_form("ring", 1024, 350e9)["rounds"] == 2046     # no plan needed
    assert cost.chunk_elements(plans.ring(4), 4e6 // 8)[-1] == 500_000  # a whole float
