"""distlab.engines.progress waits for every future and rejects what is not a future; in a
kernel its output holds a static fallback of the bar's final state, the same on every run."""
import gc

import pytest

import distlab
from distlab.engines.progress import StepsBar, progress

VIEW = "application/vnd.jupyter.widget-view+json"
FULL = "▕" + "█" * 20 + "▏"


class Shown:
    """Stands in for IPython's display: records each bundle shown and each update."""

    def __init__(self):
        self.bundles, self.updates = [], []

    def display(self, bundle, raw=False, display_id=False):
        assert raw and display_id
        self.bundles.append(bundle)
        return self

    def update(self, bundle, raw=False):
        assert raw
        self.updates.append(bundle)


@pytest.fixture
def kernel(monkeypatch):
    """Run the bars as inside a Jupyter kernel, their displays recorded."""
    import IPython.display

    from distlab.engines import dask_private

    shown = Shown()
    monkeypatch.setattr(dask_private, "in_kernel", lambda: True)
    monkeypatch.setattr(IPython.display, "display", shown.display)
    return shown


def test_progress_returns_when_all_futures_are_done(kernel, monkeypatch):
    from distlab.engines import dask_private

    with distlab.connect(n_workers=1) as client:
        monkeypatch.setattr(dask_private, "in_kernel", lambda: False)    # a terminal
        futures = client.map(pow, range(6), [2] * 6)
        assert progress(futures) is None
        assert all(f.status == "finished" for f in futures)
        failing = [client.submit(divmod, 1, 0)]
        progress(failing)                      # a failed task ends the bar too
        assert failing[0].status == "error"
        assert not kernel.bundles              # tqdm on stderr, nothing displayed

        monkeypatch.setattr(dask_private, "in_kernel", lambda: True)     # a notebook
        progress(client.map(pow, range(6), [3] * 6), label="cubes")
        assert kernel.bundles[-1]["text/plain"] == f"cubes {FULL} 6 / 6"
        assert not kernel.updates              # the bar ended as it was first shown
        progress([client.submit(divmod, 1, 0)], label="divide")
        assert kernel.updates[-1]["text/plain"] == f"divide {FULL} 1 / 1, 1 failed"


@pytest.mark.parametrize("bad", [[], [1, 2], None])
def test_progress_wants_futures(bad):
    with pytest.raises(TypeError, match="futures must be a non-empty list of distributed.Future"):
        progress(bad or [])


def test_a_bar_in_a_kernel_holds_its_final_state_for_static_readers(kernel):
    bar = StepsBar("capstone", 3)
    (bundle,) = kernel.bundles
    assert VIEW in bundle                      # JupyterLab draws the live widget
    assert bundle["text/plain"] == f"capstone {FULL} 3 / 3"
    assert bundle["text/html"] == ("<div>capstone <progress value='3' max='3'></progress> "
                                   "3 / 3</div>")
    for done in (1, 2, 3):
        bar.update(done)
    progress_bar, label = bar.bar.box.children
    assert (progress_bar.value, progress_bar.bar_style, label.value) == (3, "success", "3 / 3")
    del bar
    gc.collect()
    assert not kernel.updates                  # what nbval compares is what was saved


def test_the_fallback_is_the_same_for_the_same_bar(kernel):
    StepsBar("tune", 18), StepsBar("tune", 18)
    first, second = kernel.bundles
    assert first["text/plain"] == second["text/plain"]
    assert first["text/html"] == second["text/html"]
    assert first[VIEW]["model_id"] != second[VIEW]["model_id"]


def test_a_bar_that_stops_short_says_so_once_let_go(kernel):
    bar = StepsBar("capstone", 4)
    bar.update(1)
    assert not kernel.updates
    del bar                                    # the caller returns: a lost run
    gc.collect()
    (final,) = kernel.updates
    assert final["text/plain"] == "capstone ▕" + "█" * 5 + "░" * 15 + "▏ 1 / 4, stopped"
    assert "1 / 4, stopped" in final["text/html"] and VIEW in final


def test_a_terminal_bar_is_tqdm():
    bar = StepsBar("benchmark", 2)             # pytest is no kernel
    assert bar.bar.box is None and bar.bar.tqdm is not None
    bar.update(2)
    assert bar.bar.tqdm.disable or bar.bar.tqdm.n == 2
