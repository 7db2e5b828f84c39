"""Chapter 01's calculator widget and plot; the arithmetic is ``distlab.concepts.sizing``."""
from __future__ import annotations

import html

from distlab.concepts import sizing
from distlab.concepts.sizing import human
from distlab.present.figures import closed_figure
from distlab.present.static_fallback import with_fallback


def render(parameters: float, tokens: float, precision: str, optimizer: str,
           device_memory_gb: float, peak_tflops: float, utilization: float) -> str:
    """The calculator's answer as an HTML table (what the widget shows; tests call this).
    Never raises for bad input: the error, which names the argument, is the answer."""
    try:
        result = sizing.plan(parameters, tokens, precision=precision, optimizer=optimizer,
                             device_memory_gb=device_memory_gb, peak_tflops=peak_tflops,
                             utilization=utilization)
    except (TypeError, ValueError) as exc:
        return f"<p style='color:#b00'>{html.escape(str(exc))}</p>"
    per = sizing.bytes_per_parameter(precision, optimizer)
    parts = " + ".join(f"{v:g} {k}" for k, v in per.items() if v)
    rows = [("model", f"{human(parameters)} parameters, {human(tokens)} tokens"),
            ("bytes per parameter", f"{sum(per.values()):g} ({parts})")] + result.rows()
    body = "".join(f"<tr><td style='text-align:left'>{html.escape(k)}</td>"
                   f"<td style='text-align:right'><b>{html.escape(v)}</b></td></tr>"
                   for k, v in rows)
    return f"<table>{body}</table>"


def calculator():
    """Model size, tokens, precision, optimizer, accelerator → memory, devices, days: an
    ipywidgets ``VBox`` whose output also holds the table it shows as static HTML and
    text (:func:`~distlab.present.static_fallback.with_fallback`). Raises nothing."""
    import ipywidgets as w

    style = {"description_width": "150px"}
    layout = w.Layout(width="460px")
    preset = w.Dropdown(options=[(m.name, m) for m in sizing.MODELS], value=sizing.MODELS[-1],
                        description="model", style=style, layout=layout)
    # The browser's log slider snaps its start to its step grid and, while "continuous",
    # sends what it drew back (175e9 came back as 10^11.25 = 178e9). No step and no
    # continuous update: it opens at the model's own numbers (as in collective_views).
    log = dict(base=10, step=None, continuous_update=False, style=style, layout=layout,
               readout_format=".3s")
    params = w.FloatLogSlider(value=preset.value.parameters, min=7, max=13,
                              description="parameters", **log)
    tokens = w.FloatLogSlider(value=preset.value.tokens, min=9, max=14,
                              description="training tokens", **log)
    precision = w.Dropdown(options=["bf16", "fp16", "fp32"], value="bf16",
                           description="precision", style=style, layout=layout)
    optimizer = w.Dropdown(options=list(sizing.OPTIMIZERS), value="adam",
                           description="optimizer", style=style, layout=layout)
    device = w.Dropdown(options=[(a.name, a) for a in sizing.ACCELERATORS],
                        value=sizing.ACCELERATORS[1], description="accelerator", style=style,
                        layout=layout)
    memory = w.FloatSlider(value=80, min=8, max=192, step=8, description="memory (GB)",
                           style=style, layout=layout)
    speed = w.FloatSlider(value=312, min=10, max=2000, step=1, description="peak TFLOP/s",
                          style=style, layout=layout)
    utilization = w.FloatSlider(value=0.4, min=0.05, max=1.0, step=0.05,
                                description="utilisation (MFU)", style=style, layout=layout)
    out = w.HTML()

    def update(_=None):
        out.value = render(params.value, tokens.value, precision.value, optimizer.value,
                           memory.value, speed.value, utilization.value)

    def pick_model(change):
        params.value, tokens.value = change["new"].parameters, change["new"].tokens

    def pick_device(change):
        memory.value, speed.value = change["new"].memory_gb, change["new"].peak_tflops

    preset.observe(pick_model, names="value")
    device.observe(pick_device, names="value")
    for control in (params, tokens, precision, optimizer, memory, speed, utilization):
        control.observe(update, names="value")
    update()
    return with_fallback(w.VBox([
        w.HTML("<b>Training-run calculator</b> (activations not included: a lower bound)"),
        preset, params, tokens, precision, optimizer, device, memory, speed, utilization, out]))


def plot_models(models=sizing.MODELS, accelerator: sizing.Accelerator = sizing.ACCELERATORS[1],
                utilization: float = 0.4):
    """Two panels: training-state memory against one accelerator's memory, and days of
    training on 1,024 of them. Returns a matplotlib Figure, already closed in pyplot.

    Raises ``TypeError`` (models not a list of Model, accelerator not an Accelerator) or
    ``ValueError`` (no models; utilization outside (0, 1])."""
    models = sizing.check_models(models)
    if not isinstance(accelerator, sizing.Accelerator):
        raise TypeError(f"accelerator must be an Accelerator, got {type(accelerator).__name__}")
    plans = [sizing.plan(m.parameters, m.tokens, device_memory_gb=accelerator.memory_gb,
                         peak_tflops=accelerator.peak_tflops, utilization=utilization)
             for m in models]
    names = [m.name for m in models]
    fig = closed_figure(figsize=(8, 3), dpi=80, layout="constrained")
    left, right = fig.subplots(1, 2)
    left.barh(names, [p.memory_gb for p in plans], color="#4c72b0")
    left.axvline(accelerator.memory_gb, color="#d62728", linestyle="--",
                 label=f"one {accelerator.name}")
    left.set_xscale("log")
    left.set_xlabel("training state, GB (log scale)")
    left.invert_yaxis()
    left.legend(loc="lower right", fontsize=8)
    right.barh(names, [p.days_on_1024 for p in plans], color="#dd8452")
    right.set_xscale("log")
    right.set_xlabel(f"days on 1,024 × {accelerator.name} at {utilization:.0%} MFU")
    right.invert_yaxis()
    right.set_yticklabels([])
    return fig
