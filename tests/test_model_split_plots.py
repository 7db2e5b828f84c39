"""The split-model pictures: the Gantt chart draws the timeline it is given, the memory
bars are ZeRO's Figure 1."""
import pytest
from matplotlib.figure import Figure

from distlab.concepts import memory, pipeline
from distlab.present import model_split_plots as plots

#: Rajbhandari et al. 2020, Figure 1: Ψ = 7.5B, N_d = 64, mixed-precision Adam.
ZERO_FIGURE_1 = {0: 120.0, 1: 31.4, 2: 16.6, 3: 1.9}


def timelines(p=4, m=8):
    return {name: pipeline.run(pipeline.schedule(name, p, m)) for name in pipeline.SCHEDULES}


def test_gantt_draws_one_bar_per_step_where_the_timeline_puts_it():
    runs = timelines()
    fig = plots.pipeline_gantt(runs)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    for ax, frame in zip(fig.axes, runs.values()):
        frame = frame.sort_values(["stage", "start"], ignore_index=True)
        bars = ax.patches
        assert len(bars) == len(frame) == 2 * 4 * 8
        for bar, row in zip(bars, frame.itertuples()):
            assert bar.get_x() == pytest.approx(row.start)
            assert bar.get_width() == pytest.approx(row.end - row.start)
            assert bar.get_y() + bar.get_height() / 2 == pytest.approx(row.stage)
        bubble = pipeline.bubble_fraction(frame)
        assert f"bubble {bubble:.1%}" in ax.get_title(loc="left")


@pytest.mark.parametrize("p, m", [(2, 1), (2, 4), (4, 4), (4, 8), (3, 7)])
def test_stage_peaks_read_off_the_timeline_equal_the_formula(p, m):
    for name, frame in timelines(p, m).items():
        assert plots.stage_peaks(frame) == pipeline.in_flight_formula(name, p, m)
        assert plots.stage_peaks(frame) == pipeline.peak_in_flight(
            pipeline.schedule(name, p, m))


def test_gantt_rejects_what_is_not_a_timeline():
    with pytest.raises(ValueError, match="timelines"):
        plots.pipeline_gantt({})
    with pytest.raises(TypeError, match="timelines"):
        plots.pipeline_gantt({"x": [1, 2]})
    empty = timelines()["gpipe"].iloc[:0]
    with pytest.raises(ValueError, match="timelines"):
        plots.pipeline_gantt({"empty": empty})


def test_memory_by_stage_is_zero_figure_1():
    table = plots.memory_by_stage(7.5e9, dp=64)
    assert list(table.index) == [0, 1, 2, 3]
    assert table["total"].round(1).to_dict() == ZERO_FIGURE_1
    assert table["activations"].isna().all()
    for stage, row in table.iterrows():
        used = memory.per_device(7.5e9, dp=64, zero_stage=stage)
        assert row["total"] == pytest.approx(used.total / memory.GB)
        assert row["optimizer state"] == pytest.approx(used.optimizer_state / memory.GB)


def test_memory_bars_stack_the_parts_to_the_total():
    table = plots.memory_by_stage(7.5e9, dp=64)
    fig = plots.memory_bars(table)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    tops = {}
    for bar in ax.patches:
        x = round(bar.get_x() + bar.get_width() / 2)
        tops[x] = max(tops.get(x, 0), bar.get_y() + bar.get_height())
    assert [tops[x] for x in range(4)] == pytest.approx(list(table["total"]))
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["120.0 GB", "31.4 GB", "16.6 GB", "1.9 GB"]


def test_memory_with_a_model_counts_activations():
    table = plots.memory_by_stage(model=memory.shape("GPT-3 175B"), dp=8, tp=8, pp=16,
                                  recompute=True)
    assert (table["activations"] > 0).all()
    assert len(plots.memory_bars(table).axes[0].patches) == 4 * 4


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="dp"):
        plots.memory_by_stage(7.5e9, dp=0)
    with pytest.raises(TypeError, match="table"):
        plots.memory_bars({"total": [1]})
    with pytest.raises(ValueError, match="device_memory_gb"):
        plots.memory_bars(plots.memory_by_stage(1e9), device_memory_gb=0)
