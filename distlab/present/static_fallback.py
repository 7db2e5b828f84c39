"""A widget shown with its static fallback: what it shows, for readers who do not run it.

A committed notebook is read where no kernel runs: on GitHub, in nbviewer, on the static
site, in a diff. The output of an ipywidgets widget holds its live view
(``application/vnd.jupyter.widget-view+json``, drawn by a widget manager from a kernel or
from the widget state saved in the notebook) and a ``text/plain`` repr, such as
``VBox(children=(HTML(value='<b>04.mean</b> …``. :func:`with_fallback` makes a widget
display as one mime bundle holding three representations of the same output:

- ``application/vnd.jupyter.widget-view+json``: the live view. JupyterLab draws it, as the
  richest type it knows (its widget renderer ranks first);
- ``text/html``: the widget's state at display time as plain HTML (a table, a list of
  choices), for renderers without the widget: GitHub, nbconvert when the widget's state
  is not saved, a site whose theme puts HTML first;
- ``text/plain``: the same as text, for text views and diffs.

Several representations of one output are what a ``display_data`` message carries
(Jupyter messaging, https://jupyter-client.readthedocs.io/en/stable/messaging.html
#display-data); IPython asks an object for them through ``_repr_mimebundle_``
(https://ipython.readthedocs.io/en/stable/config/integrating.html).

The fallback is deterministic: no model ids, no times, numbers as the widget's readout
rounds them. Strict nbval compares the ``text/plain`` and ``text/html`` of every output
(and the streams) of a fresh run with the saved ones; it skips only the widget view (its
model id is random), ``image/png``, ``image/jpeg`` and metadata (nbval 0.11,
``IPyNbFile.skip_compare``).

    box = with_fallback(ipywidgets.VBox([...]))     # the same widget, now with a fallback
    si(5.929271e6, "B")                             # '5.93 MB'
"""
from __future__ import annotations

import html
import math
import re
from html.parser import HTMLParser

from distlab import checks

__all__ = ["with_fallback", "si"]

#: SI prefixes by power of ten, p to P.
PREFIXES = {-12: "p", -9: "n", -6: "µ", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T",
            15: "P"}


def si(value: float, unit: str = "", digits: int = 3) -> str:
    """``value`` for people: ``digits`` significant digits and an SI prefix, trailing zeros
    dropped. ``si(5.929271e6, "B")`` → ``'5.93 MB'``, ``si(7.5e-4, "s")`` → ``'750 µs'``,
    ``si(4e6)`` → ``'4M'`` (no unit, no space, as a slider's readout). Prefixes from p
    (10⁻¹²) to P (10¹⁵), none above one for seconds (1200 s); SI brochure, 9th edition,
    §3 (https://www.bipm.org/en/publications/si-brochure).

    ``value`` a finite number, ``unit`` a string, ``digits`` an int in [1, 17]. Raises
    ``TypeError``/``ValueError`` naming the argument otherwise."""
    value = checks.number("value", value)
    if not isinstance(unit, str):
        raise TypeError(f"unit must be a string, got {type(unit).__name__} {unit!r}")
    digits = checks.count("digits", digits, minimum=1, maximum=17)
    text, prefix = _si_parts(value, digits, seconds=unit == "s")
    if "." in text and "e" not in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} {prefix}{unit}" if unit else f"{text}{prefix}"


def _si_parts(value: float, digits: int, seconds: bool = False) -> tuple[str, str]:
    """(mantissa with ``digits`` significant digits, trailing zeros kept; prefix); no
    prefix above one for ``seconds``."""
    if value == 0:
        return f"{0:.{digits - 1}f}", ""
    rounded = float(f"{value:.{digits - 1}e}")      # round first: 999.6 → 1.00e3 → "1 k"
    if not 1e-12 <= abs(rounded) < 1e18:
        return f"{rounded:.{digits - 1}e}", ""      # beyond the prefixes
    power = min(max(3 * math.floor(math.log10(abs(rounded)) / 3), -12), 15)
    if seconds:
        power = min(power, 0)                       # 1200 s, not 1.2 ks
    mantissa = rounded / 10.0 ** power
    decimals = max(digits - 1 - math.floor(math.log10(abs(mantissa))), 0)
    return f"{mantissa:.{decimals}f}", PREFIXES[power]


def with_fallback(widget, fallback=None):
    """``widget`` itself, which from now on displays as its live view plus a static
    fallback of its state at display time (``text/html`` and ``text/plain``).

    ``widget`` an ipywidgets ``Widget``; ``fallback`` ``None`` (draw the widget's tree:
    boxes stacked, HTML as it is, each control as its description and value, a choice as
    its options with the chosen one marked, buttons left out) or a callable of no
    arguments returning the HTML of what the widget shows now. Raises ``TypeError``
    naming the argument otherwise."""
    import ipywidgets

    if not isinstance(widget, ipywidgets.Widget):
        raise TypeError(f"widget must be an ipywidgets Widget, got {type(widget).__name__}")
    if fallback is not None and not callable(fallback):
        raise TypeError(f"fallback must be None or a callable returning HTML, got "
                        f"{type(fallback).__name__}")

    def _repr_mimebundle_(include=None, exclude=None):
        live = type(widget)._repr_mimebundle_(widget)     # the view and ipywidgets' repr
        page = fallback() if fallback is not None else _html(widget)
        return {**live, "text/html": page, "text/plain": _text(page)}

    # An instance attribute, as ipywidgets itself sets one when a widget is closed; the
    # widget stays what the caller and the tests hold (its children, its values).
    widget._repr_mimebundle_ = _repr_mimebundle_
    return widget


# --------------------------------------------------------------------------------------
# the widget tree as HTML
# --------------------------------------------------------------------------------------

def _html(widget) -> str:
    """What ``widget`` shows now, as HTML that needs no script."""
    import ipywidgets as w

    if isinstance(widget, w.Box):
        return "".join(f"<div>{part}</div>" for part in map(_html, widget.children) if part)
    if isinstance(widget, (w.HTML, w.HTMLMath)):
        return widget.value
    if isinstance(widget, w.Label):
        return html.escape(widget.value)
    if isinstance(widget, w.Button) or not hasattr(widget, "value"):
        return ""                                   # nothing to press on a page
    name = html.escape((getattr(widget, "description", "") or "").rstrip(": "))
    lead = f"{name}: " if name else ""
    if isinstance(widget, (w.RadioButtons, w.ToggleButtons, w.Select)):
        marks = [("●" if i == widget.index else "○") + " " + html.escape(label)
                 for i, label in enumerate(_labels(widget.options))]
        return (f"{lead}<br>" if lead else "") + "<br>".join(marks)
    if isinstance(widget, (w.Dropdown, w.SelectionSlider)):
        return f"{lead}<b>{html.escape(str(widget.label or '—'))}</b>"
    if isinstance(widget, (w.IntProgress, w.FloatProgress)):
        return (f"{lead}<progress value='{widget.value:g}' max='{widget.max:g}'></progress> "
                f"{widget.value:g} / {widget.max:g}")
    if isinstance(widget, (w.Checkbox, w.ToggleButton)):
        return ("☑ " if widget.value else "☐ ") + name
    if isinstance(widget, (w.Text, w.Textarea)):
        shown = (f"<code>{html.escape(widget.value)}</code>" if widget.value
                 else f"<i>({html.escape(widget.placeholder)})</i>")
        return lead + shown
    readout = getattr(widget, "readout_format", None)
    value = _readout(widget.value, readout) if readout else html.escape(str(widget.value))
    return f"{lead}<b>{value}</b>"


def _labels(options) -> list[str]:
    """The labels of a selection widget's options: {label: value}, (label, value) pairs
    or plain values (labelled by str)."""
    if isinstance(options, dict):
        return [str(label) for label in options]
    return [str(o[0]) if isinstance(o, tuple) and len(o) == 2 else str(o) for o in options]


_FORMAT = re.compile(r"(,)?(?:\.(\d+))?([defgs%]?)")


def _readout(value: float, spec: str) -> str:
    """``value`` as a slider's readout shows it: the d3-format ``spec`` ipywidgets gives
    its front end (https://d3js.org/d3-format), the part of it the book uses: a comma,
    a precision and one of the types d, e, f, g, s, % (none: like g, zeros trimmed)."""
    match = _FORMAT.fullmatch(spec)
    if not match:
        return f"{value:g}"
    comma, precision, kind = match.groups()
    p = int(precision) if precision is not None else (12 if not kind else 6)
    group = "," if comma else ""
    if kind == "d":
        return f"{round(value):{group}d}"
    if kind == "s":
        text, prefix = _si_parts(float(value), max(p, 1))
    elif kind in "ef%":
        scaled = value * 100 if kind == "%" else value
        text = f"{scaled:{group}.{p}{'f' if kind == '%' else kind}}"
        prefix = "%" if kind == "%" else ""
    else:                                           # g, or no type: like g
        text, prefix = f"{value:{group}#.{max(p, 1)}g}", ""
    if not kind:
        text = re.sub(r"\.?0+(?=e|$)", "", text) if "." in text else text
    return text.rstrip(".") + prefix


# --------------------------------------------------------------------------------------
# the same as text
# --------------------------------------------------------------------------------------

class _TextOf(HTMLParser):
    """HTML to readable text: a line per block, table cells apart by " | " (a line break
    in a cell becomes " · "), ``pre`` kept as it is, every other run of white space one
    space."""

    BLOCKS = {"p", "div", "br", "tr", "li", "pre", "table", "ul", "ol", "h1", "h2", "h3",
              "h4", "thead", "tbody", "caption"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.lines, self.line, self.in_pre, self.cells = [], "", 0, 0

    def _break(self):
        if self.line.strip():
            self.lines.append(self.line.rstrip())
        self.line, self.cells = "", 0

    def handle_starttag(self, tag, attrs):
        if tag == "br" and self.cells:              # a line break inside a table cell
            self.line = self.line.rstrip() + " · "
            return
        if tag in self.BLOCKS:
            self._break()
        if tag == "pre":
            self.in_pre += 1
        if tag in ("td", "th"):
            self.line = self.line.rstrip() + (" | " if self.cells else "")
            self.cells += 1

    def handle_endtag(self, tag):
        if tag == "pre":
            self.in_pre -= 1
        if tag in self.BLOCKS and not (tag == "br" and self.cells):
            self._break()

    def handle_data(self, data):
        if self.in_pre:
            first, *rest = data.split("\n")
            self.line += first
            for part in rest:
                self.lines.append(self.line.rstrip())
                self.line = part
        else:
            data = re.sub(r"\s+", " ", data)
            self.line += data if self.line.strip() else data.lstrip()

    def text(self) -> str:
        self.close()
        self._break()
        return "\n".join(self.lines)


def _text(page: str) -> str:
    """``page`` (HTML) as plain text."""
    parser = _TextOf()
    parser.feed(page)
    return parser.text()
