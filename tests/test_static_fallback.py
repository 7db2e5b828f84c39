"""Every widget of the book displays with a static fallback, the same on every run.

A committed notebook is read on GitHub, in nbviewer and on the static site, where no kernel
draws a widget: the output must hold what the widget shows as HTML and text, never only
``VBox(...)``. Strict nbval compares ``text/html`` and ``text/plain`` of a fresh run with
the saved ones, so the fallback must not change between two calls with the same arguments.
"""
import ast
import importlib
import inspect
import math
import pkgutil
import re
from pathlib import Path

import pytest

import distlab.present
from distlab.present import calculator, exercises, glossary, quiz, store_plots
from distlab.present.collective_views import cost_explorer, stepper
from distlab.present.static_fallback import _readout, _text, si, with_fallback

VIEW = "application/vnd.jupyter.widget-view+json"

#: Every public function of distlab.present that returns a widget, with a call of it.
WIDGETS = {
    "calculator.calculator": lambda: calculator.calculator(),
    "collective_views.stepper": lambda: stepper([10, 20, 30], "ring"),
    "collective_views.cost_explorer": lambda: cost_explorer(n_nodes=16, n_bytes=4e6,
                                                            alpha=5e-6, bandwidth_gbit=100),
    "exercises.ask": lambda: exercises.ask("00.bytes-back"),
    "glossary.widget": lambda: glossary.widget(),
    "quiz.widget": lambda: quiz.widget(),
    "store_plots.explorer": lambda: store_plots.explorer(),
}


def bundle(widget) -> dict:
    """What IPython sends when the widget is a cell's result (or passed to display)."""
    from IPython.core.formatters import DisplayFormatter

    data, _ = DisplayFormatter().format(widget)
    return data


def check_fallback(data: dict) -> None:
    assert VIEW in data, "the live view is still there for JupyterLab"
    assert data["text/html"].strip() and data["text/plain"].strip()
    assert not re.match(r"\s*[VH]Box\(", data["text/plain"]), data["text/plain"][:80]
    # nothing that changes from run to run: model ids, memory addresses, times
    for text in (data["text/html"], data["text/plain"]):
        assert not re.search(r"[0-9a-f]{32}|0x[0-9a-f]{6,}|\d\d:\d\d:\d\d", text)
        assert "nan" not in text.lower().split()


@pytest.mark.parametrize("name", sorted(WIDGETS))
def test_every_widget_has_a_static_fallback_that_is_the_same_twice(name):
    first, second = bundle(WIDGETS[name]()), bundle(WIDGETS[name]())
    check_fallback(first)
    assert first["text/html"] == second["text/html"]
    assert first["text/plain"] == second["text/plain"]
    assert first[VIEW]["model_id"] != second[VIEW]["model_id"]     # two live widgets


def _widget_functions():
    """Public functions of distlab.present whose source builds an ipywidgets widget."""
    package = Path(distlab.present.__file__).parent
    for info in pkgutil.iter_modules([str(package)]):
        module = importlib.import_module(f"distlab.present.{info.name}")
        for name, obj in vars(module).items():
            if (inspect.isfunction(obj) and not name.startswith("_")
                    and obj.__module__ == module.__name__
                    and "ipywidgets" in inspect.getsource(obj)):
                yield f"{info.name}.{name}"


def test_the_list_holds_every_widget_of_the_package():
    found = set(_widget_functions()) - {"static_fallback.with_fallback"}
    assert found == set(WIDGETS), f"add to WIDGETS: {sorted(found - set(WIDGETS))}"


def test_only_presentation_and_the_progress_bar_draw_widgets():
    package = Path(distlab.present.__file__).parents[1]
    users = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) else [])
            if any((n or "").split(".")[0] == "ipywidgets" for n in names):
                users.add(str(path.relative_to(package)))
    outside = {u for u in users if not u.startswith("present/")}
    assert outside == {"engines/progress.py"}, outside


@pytest.mark.parametrize("exercise_id", sorted(exercises.EXERCISES))
def test_every_exercise_prompt_shows_its_question(exercise_id):
    data = bundle(exercises.ask(exercise_id))
    check_fallback(data)
    first_words = " ".join(exercises.get(exercise_id).question.split()[:6])
    assert exercise_id in data["text/plain"] and first_words in data["text/plain"]


def test_the_fallback_is_the_state_at_display_time():
    widget = cost_explorer(n_nodes=8)
    assert "8 nodes" in bundle(widget)["text/plain"]
    widget.children[0].children[0].value = 64
    assert "64 nodes" in bundle(widget)["text/plain"]


def test_the_widget_stays_the_widget():
    import ipywidgets

    box = ipywidgets.VBox([ipywidgets.HTML("<b>hi</b>")])
    assert with_fallback(box) is box and isinstance(box, ipywidgets.VBox)
    assert bundle(box)["text/plain"] == "hi"
    box.children[0].value = "<i>there</i>"
    assert bundle(box)["text/html"] == "<div><i>there</i></div>"
    custom = with_fallback(ipywidgets.HTML("x"), lambda: "<p>a table</p>")
    assert bundle(custom)["text/plain"] == "a table"


@pytest.mark.parametrize("bad, message", [(None, "widget must be"), (5, "widget must be")])
def test_with_fallback_refuses_what_is_not_a_widget(bad, message):
    with pytest.raises(TypeError, match=message):
        with_fallback(bad)


def test_with_fallback_refuses_a_fallback_that_is_not_callable():
    import ipywidgets

    with pytest.raises(TypeError, match="fallback must be"):
        with_fallback(ipywidgets.HTML(), "<p>not callable</p>")


def test_controls_read_as_their_state():
    import ipywidgets as w

    box = w.VBox([w.Text(description="Answer:", placeholder="your answer"),
                  w.Button(description="Check"),
                  w.RadioButtons(options=[("yes", 1), ("no", 2)], value=2),
                  w.Dropdown(options=["a", "b"], value="b", description="pick"),
                  w.IntSlider(value=16, description="nodes"),
                  w.Checkbox(value=True, description="on")])
    assert bundle(with_fallback(box))["text/plain"].splitlines() == [
        "Answer: (your answer)", "○ yes", "● no", "pick: b", "nodes: 16", "☑ on"]


# --------------------------------------------------------------------------------------
# the cost explorer: opens at its call, numbers for people (issue 14, item 7)
# --------------------------------------------------------------------------------------

def test_cost_explorer_opens_at_exactly_its_call():
    widget = cost_explorer(n_nodes=16, n_bytes=4e6, alpha=5e-6, bandwidth_gbit=100)
    (nodes, size), (lat, bw) = (box.children for box in widget.children[:2])
    assert (nodes.value, size.value, lat.value, bw.value) == (16, 4e6, 5e-6, 100)
    # the browser snaps a slider's start to its step grid and sends back what it drew:
    # no grid, and nothing sent until the learner lets go
    for slider in (size, lat, bw):
        assert slider.step is None and slider.continuous_update is False
    text = bundle(widget)["text/plain"]
    assert "bytes/node: 4.00M" in text and "α (s): 5.00µ" in text
    assert "16 nodes, 4 MB per node, α = 5 µs, 100 Gb/s links" in text


def test_calculator_opens_at_the_models_own_numbers():
    widget = calculator.calculator()
    params, tokens = widget.children[2], widget.children[3]
    assert (params.value, tokens.value) == (175e9, 300e9)
    for slider in (params, tokens):
        assert slider.step is None and slider.continuous_update is False


def test_cost_explorer_prints_numbers_for_people():
    text = bundle(cost_explorer(n_nodes=16, n_bytes=4e6))["text/plain"]
    assert re.search(r"^ring \| 30 \| 7\.5 MB \| 1 \| 750 µs$", text, re.M), text
    assert not re.search(r"\de[+-]\d", text), "no scientific notation"
    row = next(line for line in text.splitlines() if line.startswith("gossip_random"))
    assert "MB (mean)" in row and "nan" not in row.lower()
    assert "busiest node's bytes change from seed to seed" in text


def test_gossip_random_mean_bytes_follow_from_its_rounds():
    from distlab.concepts.cost import Network, closed_form

    rounds = closed_form("gossip_random", 16, 4e6, Network())["rounds"]
    mean = si(2 * rounds * 4e6 / 16, "B")
    assert f"| {mean} (mean) |" in bundle(cost_explorer(n_nodes=16))["text/plain"]


# --------------------------------------------------------------------------------------
# numbers for people, the readout, HTML as text
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, unit, digits, expected", [
    (5.929271e6, "B", 3, "5.93 MB"), (7.5e-4, "s", 3, "750 µs"), (4e6, "", 3, "4M"),
    (0, "B", 3, "0 B"), (999.6, "B", 3, "1 kB"), (1200, "s", 3, "1200 s"),
    (2.128e9, "B", 3, "2.13 GB"), (-3e-3, "s", 3, "-3 ms"), (12.5e9 * 8, "b/s", 3, "100 Gb/s"),
    (1e-20, "", 3, "1.00e-20"), (123456, "B", 2, "120 kB")])
def test_si(value, unit, digits, expected):
    assert si(value, unit, digits) == expected


@pytest.mark.parametrize("kwargs, error", [
    (dict(value=math.nan), ValueError), (dict(value=math.inf), ValueError),
    (dict(value="3"), TypeError), (dict(value=True), TypeError),
    (dict(value=1.0, unit=5), TypeError), (dict(value=1.0, digits=0), ValueError),
    (dict(value=1.0, digits=2.5), TypeError)])
def test_si_refuses_bad_input_naming_the_argument(kwargs, error):
    name = [k for k in kwargs if k != "value"] or ["value"]
    with pytest.raises(error, match=name[-1]):
        si(**kwargs)


@pytest.mark.parametrize("value, spec, expected", [     # as d3-format prints them
    (4e6, ".3s", "4.00M"), (5e-6, ".3s", "5.00µ"), (175e9, ".3s", "175G"),
    (100, ".3g", "100"), (0.1, ".3g", "0.100"), (80, ".2f", "80.00"), (16, "d", "16"),
    (1234567, ",d", "1,234,567"), (0.25, ".0%", "25%"), (3.5, "", "3.5")])
def test_a_slider_reads_as_its_readout(value, spec, expected):
    assert _readout(value, spec) == expected


def test_html_as_text():
    page = ("<p>a <b>b</b>\n   c</p><table><tr><th>x</th><th>y</th></tr>"
            "<tr><td>1<br>2</td><td>3</td></tr></table><pre>p\n  q</pre>&lt;ok&gt;")
    assert _text(page) == "a b c\nx | y\n1 · 2 | 3\np\n  q\n<ok>"
