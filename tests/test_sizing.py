"""Chapter 01 arithmetic: bytes per parameter, 6ND, devices and days, and the calculator."""
import math

import pytest
from hypothesis import given, strategies as st

from distlab.concepts import sizing
from distlab.present import calculator


def test_mixed_precision_adam_is_16_bytes_per_parameter_as_in_zero():
    parts = sizing.bytes_per_parameter("bf16", "adam")
    assert parts == {"weights": 2, "gradients": 2, "master weights": 4, "optimizer state": 8}
    assert sum(sizing.bytes_per_parameter("fp32", "adam").values()) == 16
    assert sum(sizing.bytes_per_parameter("fp32", "sgd").values()) == 8
    assert sum(sizing.bytes_per_parameter("fp16", "momentum").values()) == 12
    assert sum(sizing.bytes_per_parameter("int4", training=False).values()) == 0.5


def test_gpt3_compute_matches_the_papers():
    # Brown et al. 2020, Table D.1: 3.14e23 FLOPs for GPT-3 175B.
    assert sizing.training_flops(175e9, 300e9) == pytest.approx(3.14e23, rel=0.01)
    # Narayanan et al. 2021: 1,024 A100s at 140 TFLOP/s, with recomputation: about 34 days.
    flops = sizing.training_flops(175e9, 300e9, recompute=True)
    assert sizing.training_days(flops, 1024, 140, utilization=1.0) == pytest.approx(34, abs=0.5)


def test_gpt3_needs_2800_gb_and_35_a100s_just_to_hold_its_training_state():
    plan = sizing.plan(175e9, 300e9)
    assert plan.memory_gb == pytest.approx(2800)
    assert plan.devices == 35
    assert sizing.memory_bytes(175e9, "bf16", training=False) == pytest.approx(350e9)


def test_devices_round_up_and_exact_fit_is_not_rounded():
    assert sizing.devices_for_memory(80e9, 80) == 1
    assert sizing.devices_for_memory(80e9 + 1, 80) == 2
    assert sizing.devices_for_memory(1, 80) == 1


@given(params=st.floats(1e6, 1e13), tokens=st.floats(1e8, 1e14),
       devices=st.integers(1, 100_000))
def test_days_scale_inversely_with_devices_and_linearly_with_work(params, tokens, devices):
    flops = sizing.training_flops(params, tokens)
    one = sizing.training_days(flops, 1, 312)
    assert sizing.training_days(flops, devices, 312) == pytest.approx(one / devices)
    assert sizing.training_days(2 * flops, devices, 312) == pytest.approx(2 * one / devices)
    plan = sizing.plan(params, tokens)
    assert plan.devices * 80 >= plan.memory_gb - 1e-6
    assert (plan.devices - 1) * 80 < plan.memory_gb


def test_table_has_every_named_model_from_bert_base_to_175b():
    table = sizing.table()
    assert list(table.index) == [m.name for m in sizing.MODELS]
    assert table.loc["BERT-base", "parameters"] == "110M"
    assert table.loc["GPT-3 175B", "A100 80GB to hold it"] == 35
    assert all(m.source for m in sizing.MODELS) and all(a.source for a in sizing.ACCELERATORS)


def test_calculator_renders_the_plan_and_explains_bad_input():
    html = calculator.render(175e9, 300e9, "bf16", "adam", 80, 312, 0.4)
    assert "2,800 GB" in html and "<b>35</b>" in html and "16 (2 weights" in html
    assert "utilization must be a number in" in calculator.render(
        1e9, 1e9, "bf16", "adam", 80, 312, 2.0)
    widget = calculator.calculator()
    out = widget.children[-1]
    assert "2,800 GB" in out.value
    widget.children[1].value = sizing.MODELS[0]           # pick BERT-base
    assert "110M parameters" in out.value
    assert calculator.plot_models().axes


def test_human_counts():
    assert [sizing.human(x) for x in (110e6, 1.3e9, 2e12, 500)] == ["110M", "1.3B", "2T", "500"]


@pytest.mark.parametrize("call, error, match", [
    (lambda: sizing.bytes_per_parameter("fp8"), ValueError, "precision must be one of"),
    (lambda: sizing.bytes_per_parameter("bf16", "lion"), ValueError, "optimizer must be one of"),
    (lambda: sizing.bytes_per_parameter("int8", training=True), ValueError, "inference"),
    (lambda: sizing.memory_bytes(-1), ValueError, "parameters must be > 0, got -1"),
    (lambda: sizing.memory_bytes("7B"), TypeError, "parameters must be a number"),
    (lambda: sizing.training_flops(1e9, math.inf), ValueError, "tokens"),
    (lambda: sizing.training_days(1e20, 0, 312), ValueError, "devices"),
    (lambda: sizing.training_days(1e20, 8, 312, utilization=1.5), ValueError, "utilization"),
    (lambda: sizing.devices_for_memory(1e9, 0), ValueError, "device_memory_gb"),
    (lambda: sizing.table([]), ValueError, "at least one Model"),
])
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
