"""Pipeline stages on the workers (distlab.apps.pipeline_ranks): GPipe and 1F1B with
point-to-point sends. Asserted: the steps each stage ran, the micro-batches in flight, the
bytes sent and the gradients (equal to the unsplit model's); the wall-time bubble is only
checked to be a share, never compared with the formula."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distlab.apps import pipeline_ranks
from distlab.apps.pipeline_ranks import PipelineSettings
from distlab.concepts import pipeline

SMALL = PipelineSettings(layers=3, width=16, batch=32, micro_batches=4)


@pytest.fixture(scope="module")
def both(client):
    return pipeline_ranks.run(client, settings=SMALL)


def test_each_stage_runs_its_schedule(both):
    summary, timelines = both
    for name, timeline in timelines.items():
        order = pipeline.schedule(name, 2, 4)
        assert len(timeline) == 2 * 2 * 4
        for stage in (0, 1):
            ran = timeline[timeline.stage == stage]
            assert [pipeline.Step(stage, j, k) for j, k in zip(ran.micro_batch, ran.kind)] \
                == order[stage]
            assert (ran.end >= ran.start).all() and (ran.start.diff().dropna() > 0).all()


def test_peaks_bytes_and_gradients(both):
    summary, _ = both
    assert summary["peak in flight"].tolist() == summary["peak (formula)"].tolist()
    assert summary.loc["gpipe", "peak in flight"] == [4, 4]
    assert summary.loc["1f1b", "peak in flight"] == [2, 1]
    assert summary["bytes sent"].tolist() == summary["bytes (formula)"].tolist()
    assert summary.loc["1f1b", "bytes sent"] == [32 * 17 * 8] * 2
    assert (summary["gradient gap"] <= 1e-12).all()
    assert ((summary["bubble (wall time)"] >= 0) & (summary["bubble (wall time)"] < 1)).all()
    assert (summary["(p−1)/(m+p−1)"] == 1 / 5).all()


@settings(max_examples=4, deadline=None)
@given(layers=st.integers(2, 5), m=st.integers(1, 6), width=st.integers(1, 12),
       name=st.sampled_from(pipeline.SCHEDULES))
def test_any_depth_and_micro_batch_count(client, layers, m, width, name):
    s = PipelineSettings(layers=layers, width=width, batch=12, micro_batches=m)
    summary, timelines = pipeline_ranks.run(client, [name], s)
    assert summary.loc[name, "peak in flight"] == pipeline.in_flight_formula(name, 2, m)
    assert summary.loc[name, "bytes sent"] == [12 * (width + 1) * 8] * 2
    assert summary.loc[name, "gradient gap"] <= 1e-12
    assert len(timelines[name]) == 4 * m


def test_one_stage_sends_nothing(client):
    summary, _ = pipeline_ranks.run(client, ["gpipe"], SMALL, stages=1)
    assert summary.loc["gpipe", "bytes sent"] == [0]
    assert summary.loc["gpipe", "gradient gap"] <= 1e-12


@pytest.mark.parametrize("make, error, match", [
    (lambda c: pipeline_ranks.run(c, settings=PipelineSettings(layers=1)), ValueError,
     "stages must be ≤ layers = 1"),
    (lambda c: pipeline_ranks.run(c, settings=SMALL, stages=3), ValueError,
     "stages must be ≤ 2, the cluster's workers"),
    (lambda c: pipeline_ranks.run(c, settings=SMALL, stages=0), ValueError,
     "stages must be ≥ 1"),
    (lambda c: pipeline_ranks.run(c, ["pipedream"], SMALL), ValueError, "schedules must be one of"),
    (lambda c: pipeline_ranks.run(c, settings={"layers": 2}), TypeError, "PipelineSettings"),
    (lambda c: PipelineSettings(micro_batches=0), ValueError, "micro_batches must be ≥ 1"),
    (lambda c: PipelineSettings(batch=4, micro_batches=5), ValueError, "micro_batches must be ≤ 4"),
    (lambda c: PipelineSettings(width=0), ValueError, "width must be ≥ 1"),
    (lambda c: PipelineSettings(layers=-1), ValueError, "layers must be ≥ 1"),
    (lambda c: pipeline_ranks.run(c, settings=PipelineSettings(batch=5000)), ValueError,
     "batch must be ≤"),
])
def test_bad_input_is_refused_before_anything_runs_and_the_next_call_works(client, make, error,
                                                                           match):
    with pytest.raises(error, match=match):
        make(client)
    assert not any(client.processing().values())
    summary, _ = pipeline_ranks.run(client, ["1f1b"], SMALL)
    assert summary.loc["1f1b", "gradient gap"] <= 1e-12


def test_the_rank_function_checks_its_arguments():
    with pytest.raises(TypeError, match="group must be the Group"):
        pipeline_ranks._stage_rank(None, ["gpipe"], SMALL)
    with pytest.raises(TypeError, match="settings must be a PipelineSettings"):
        pipeline_ranks.boundary_bytes({"batch": 4})
    assert pipeline_ranks.boundary_bytes(SMALL) == 32 * 17 * 8
