"""Chapter 04's package side: SGD equivalence, widgets, calibration model, self-checks."""
import numpy as np
import pytest

from distlab.present import exercises
from distlab.engines.allreduce import allreduce, make_plan
from distlab.concepts.cost import bytes_per_node, lower_bound_bytes
from distlab.engines.calibrate import Calibration
from distlab.engines.calibrate_tasks import predict
from distlab.engines.tasks import critical_path
from distlab.present.collective_views import cost_explorer, step_view, stepper
from distlab.apps.sgd import one_step_two_ways


@pytest.mark.parametrize("algorithm", ["star", "ring", "rabenseifner"])
@pytest.mark.parametrize("n_nodes", [1, 3, 4])
def test_parameter_averaging_equals_gradient_averaging(algorithm, n_nodes):
    a, b = one_step_two_ways(n_nodes=n_nodes, lr=0.05, algorithm=algorithm).values()
    assert np.allclose(a, b, rtol=1e-14, atol=1e-15)


def test_sgd_bad_input():
    with pytest.raises(ValueError):
        one_step_two_ways(n_nodes=0)
    with pytest.raises(ValueError):
        one_step_two_ways(lr=-1)


def test_stepper_widget_walks_the_rounds():
    widget = stepper([10, 20, 30], "star")
    pick, slider = widget.children[0].children
    assert slider.max == 3                      # start, 2 rounds, divide
    slider.value = 2
    pick.value = "ring"
    assert slider.value == 0 and slider.max == 5


def test_step_view_last_row_is_the_mean():
    r = allreduce([10, 20, 30], "tree")
    view = step_view(r, r.rounds + 1)
    assert view["table"].iloc[-1].tolist() == [20.0, 20.0, 20.0]
    assert view["transfers"] == []


def test_cost_explorer_widget_redraws():
    widget = cost_explorer(n_nodes=8)
    nodes = widget.children[0].children[0]
    nodes.value = 64                             # fires the callback without error


def test_critical_path_counts_tasks():
    assert critical_path(make_plan("recursive_doubling", 2)).tolist() == [1, 0]
    assert critical_path(make_plan("ring", 2)).tolist() == [2, 2, 0]
    assert critical_path(make_plan("star", 1)).tolist() == [1]


def test_tasks_prediction_adds_overhead_and_hops():
    cal = Calibration(alpha=1e-3, beta=1e-9, overhead=5e-3, samples=None)
    pred = predict(make_plan("ring", 2), 1000, cal)
    # overhead + 4 dependent tasks + each round's busiest node's 4000 bytes
    assert pred["predicted_tasks_s"] == pytest.approx(5e-3 + 4e-3 + 2 * 4000 * 1e-9)
    assert pred["predicted_s"] == pytest.approx(2 * (1e-3 + 4000 * 1e-9))


def test_chapter_04_answers_follow_from_the_plans():
    assert exercises.check("04.mean", float(allreduce([10, 20, 30], "ring").values[2])).correct
    assert exercises.check("04.ring-rounds", make_plan("ring", 8).n_rounds).correct
    assert exercises.check("04.ring-bytes",
                           bytes_per_node(make_plan("ring", 4), 10**6 // 8)[0][0] / 1e6).correct
    root = bytes_per_node(make_plan("star", 64), 1024)[0][0]
    assert exercises.check("04.star-root", root / lower_bound_bytes(64, 1024 * 8)).correct
    even_ring = (np.roll(np.eye(6), 1, axis=1) + np.roll(np.eye(6), -1, axis=1)) / 2
    assert exercises.check("04.gossip-ring", float(np.linalg.eigvalsh(even_ring).min())).correct
    assert not exercises.check("04.gossip-ring", "1").correct
    assert not exercises.check("04.ring-rounds", "7").correct


def test_widgets_render_into_html_values():
    widget = stepper([10, 20, 30], "ring")
    slider, view = widget.children[0].children[1], widget.children[1]
    slider.value = 1
    assert "reduce-scatter 1/2" in view.value and "0→1" in view.value
    explorer = cost_explorer(n_nodes=8)
    assert "rabenseifner" in explorer.children[2].value
