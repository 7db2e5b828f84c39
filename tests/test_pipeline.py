"""Pipeline schedules as data: GPipe and 1F1B, run in virtual time, bubble and memory."""
import pytest
from hypothesis import given, settings, strategies as st

from distlab.concepts import pipeline
from distlab.concepts.pipeline import Step

sizes = dict(p=st.integers(1, 8), m=st.integers(1, 16), name=st.sampled_from(pipeline.SCHEDULES))


@settings(max_examples=60, deadline=None)
@given(f=st.integers(1, 4), b=st.integers(1, 4), **sizes)
def test_bubble_measured_in_virtual_time_equals_the_formula(p, m, name, f, b):
    timeline = pipeline.run(pipeline.schedule(name, p, m), forward_time=f, backward_time=b)
    assert len(timeline) == 2 * p * m
    assert timeline["end"].max() == (m + p - 1) * (f + b)
    assert pipeline.bubble_fraction(timeline) == pytest.approx(pipeline.bubble_formula(p, m),
                                                               abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(**sizes)
def test_peak_in_flight_activations_per_stage(p, m, name):
    order = pipeline.schedule(name, p, m)
    assert pipeline.peak_in_flight(order) == pipeline.in_flight_formula(name, p, m)
    if m >= p:
        expected = [m] * p if name == "gpipe" else [p - i for i in range(p)]
        assert pipeline.peak_in_flight(order) == expected


def test_the_orders_read_as_in_the_papers():
    assert [" ".join(map(str, s)) for s in pipeline.gpipe(2, 3)] == [
        "F0 F1 F2 B0 B1 B2", "F0 F1 F2 B0 B1 B2"]
    assert [" ".join(map(str, s)) for s in pipeline.one_f_one_b(4, 6)] == [
        "F0 F1 F2 F3 B0 F4 B1 F5 B2 B3 B4 B5",
        "F0 F1 F2 B0 F3 B1 F4 B2 F5 B3 B4 B5",
        "F0 F1 B0 F2 B1 F3 B2 F4 B3 F5 B4 B5",
        "F0 B0 F1 B1 F2 B2 F3 B3 F4 B4 F5 B5"]


def test_timeline_respects_dependencies_and_is_gantt_data():
    timeline = pipeline.run(pipeline.one_f_one_b(3, 4), 1.0, 2.0, transfer_time=0.5)
    assert list(timeline.columns) == ["stage", "micro_batch", "kind", "start", "end"]
    end = {(r.stage, r.micro_batch, r.kind): r.end for r in timeline.itertuples()}
    for r in timeline.itertuples():
        if r.kind == "F" and r.stage > 0:
            assert r.start >= end[(r.stage - 1, r.micro_batch, "F")] + 0.5
        if r.kind == "B":
            assert r.start >= end[(r.stage, r.micro_batch, "F")]
            if r.stage < 2:
                assert r.start >= end[(r.stage + 1, r.micro_batch, "B")] + 0.5
    for _, stage in timeline.groupby("stage"):          # one step at a time per stage
        assert (stage["start"].to_numpy()[1:] >= stage["end"].to_numpy()[:-1]).all()
    # transfers add idle time: the bubble grows beyond the formula
    assert pipeline.bubble_fraction(timeline) > pipeline.bubble_formula(3, 4)


def test_unequal_stage_times_make_the_slowest_stage_the_pace():
    timeline = pipeline.run(pipeline.gpipe(2, 4), forward_time=[1, 3], backward_time=[2, 6])
    assert timeline["end"].max() == 1 + 4 * 3 + 4 * 6 + 2


def test_split_layers_is_even_and_contiguous():
    assert pipeline.split_layers(10, 4) == [range(0, 3), range(3, 6), range(6, 8),
                                            range(8, 10)]
    assert pipeline.split_layers(3, 3) == [range(0, 1), range(1, 2), range(2, 3)]


@pytest.mark.parametrize("call, name", [
    (lambda: pipeline.split_layers(3, 4), "stages"),
    (lambda: pipeline.split_layers(0, 1), "layers"),
    (lambda: pipeline.gpipe(0, 4), "stages"),
    (lambda: pipeline.gpipe(2, 0), "micro_batches"),
    (lambda: pipeline.one_f_one_b(2, -1), "micro_batches"),
    (lambda: pipeline.schedule("zb", 2, 2), "name"),
    (lambda: pipeline.bubble_formula(2, 0), "micro_batches"),
    (lambda: pipeline.in_flight_formula("gpipe", -2, 2), "stages"),
    (lambda: pipeline.run(pipeline.gpipe(2, 2), forward_time=0), "forward_time"),
    (lambda: pipeline.run(pipeline.gpipe(2, 2), backward_time=-1), "backward_time"),
    (lambda: pipeline.run(pipeline.gpipe(2, 2), forward_time=[1, 2, 3]), "forward_time"),
    (lambda: pipeline.run(pipeline.gpipe(2, 2), transfer_time=-1), "transfer_time"),
    (lambda: pipeline.run([]), "order"),
    (lambda: pipeline.run([[]]), "order"),
    (lambda: pipeline.run([[Step(0, 0, "B"), Step(0, 0, "F")]]), "deadlocks"),
    (lambda: pipeline.run([[Step(0, 0, "F"), Step(0, 0, "F")]]), "order"),
])
def test_bad_values_name_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_wrong_types_raise_type_error():
    with pytest.raises(TypeError, match="stages"):
        pipeline.gpipe(2.0, 4)
    with pytest.raises(TypeError, match="micro_batches"):
        pipeline.one_f_one_b(2, True)
