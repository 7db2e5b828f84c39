"""Pipeline parallelism: layers cut into stages, a batch cut into micro-batches, a schedule.

With p stages each device holds 1/p of the layers. A batch is cut into m micro-batches
so that stages can work at the same time; what a schedule decides is the order in which
each stage runs its m forward (F) and m backward (B) passes:

- **GPipe** (Huang et al., "GPipe: Efficient Training of Giant Neural Networks using
  Pipeline Parallelism", NeurIPS 2019): all forwards, then all backwards. Every stage
  holds the activations of all m micro-batches at the end of the forward phase.
- **1F1B** (Narayanan et al., "PipeDream: Generalized Pipeline Parallelism for DNN
  Training", SOSP 2019; the flushed variant of Narayanan et al., "Efficient Large-Scale
  Language Model Training on GPU Clusters Using Megatron-LM", SC 2021, §2.2): stage i runs
  p − i − 1 warm-up forwards, then alternates one forward and one backward, then drains
  the rest of the backwards. Same bubble, but stage i never holds more than p − i
  micro-batches' activations (min(p − i, m)).

With equal stage times (f per forward, b per backward) both take (m + p − 1)(f + b),
and each stage is busy m(f + b) of it: the idle fraction, the *bubble*, is
(p − 1)/(m + p − 1), as Huang et al. give it; Narayanan et al. 2021 (§2.2.1) state the
same bubble relative to the ideal time, (p − 1)/m.

A schedule here is data: for each stage, the list of ``Step(stage, micro_batch, kind)``
it runs in order. :func:`run` plays it in virtual time and returns one row per step
(stage, micro-batch, kind, start, end): what a Gantt chart draws. Times are in any unit
(seconds, or multiples of f).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from distlab import checks

__all__ = ["Step", "SCHEDULES", "MAX_STAGES", "MAX_STEPS", "split_layers", "gpipe",
           "one_f_one_b", "schedule", "run", "bubble_fraction", "bubble_formula",
           "peak_in_flight", "in_flight_formula"]

SCHEDULES = ("gpipe", "1f1b")
#: The most stages a schedule or formula takes (the largest published pipelines have 64
#: to 128), and the most micro-batches: past these a list per stage would run away.
MAX_STAGES = 1024
MAX_MICRO_BATCHES = 1 << 20
#: The most steps (2 × stages × micro-batches) a schedule is written out as, step by step:
#: 10⁶ steps take about a second.
MAX_STEPS = 10**6


@dataclass(frozen=True)
class Step:
    """One pass of one micro-batch through one stage: ``kind`` is "F" or "B". ``stage``
    and ``micro_batch`` are ints ≥ 0; ``TypeError``/``ValueError`` otherwise."""
    stage: int
    micro_batch: int
    kind: str

    def __post_init__(self):
        checks.count("stage", self.stage)
        checks.count("micro_batch", self.micro_batch)
        checks.choice("kind", self.kind, ("F", "B"))

    def __str__(self) -> str:
        return f"{self.kind}{self.micro_batch}"


def split_layers(layers: int, stages: int) -> list[range]:
    """The layers each stage holds: ``stages`` contiguous ranges as even as possible
    (the first ``layers % stages`` stages one layer more). ``TypeError`` for a count that
    is not an int; ``ValueError`` naming ``stages`` when there are more stages than layers
    or more than :data:`MAX_STAGES`."""
    layers = checks.count("layers", layers, minimum=1)
    stages = checks.count("stages", stages, minimum=1, maximum=MAX_STAGES)
    if stages > layers:
        raise ValueError(f"stages must be ≤ layers = {layers} (a stage needs a layer), "
                         f"got {stages}")
    small, extra = divmod(layers, stages)
    starts = [i * small + min(i, extra) for i in range(stages + 1)]
    return [range(starts[i], starts[i + 1]) for i in range(stages)]


def _sizes(stages, micro_batches) -> tuple[int, int]:
    return (checks.count("stages", stages, minimum=1, maximum=MAX_STAGES),
            checks.count("micro_batches", micro_batches, minimum=1,
                         maximum=MAX_MICRO_BATCHES))


def _steps(stages, micro_batches) -> tuple[int, int]:
    """The sizes of a schedule written out step by step: at most :data:`MAX_STEPS`."""
    p, m = _sizes(stages, micro_batches)
    if 2 * p * m > MAX_STEPS:
        raise ValueError(f"micro_batches must be ≤ {MAX_STEPS // (2 * p):,} with {p} stages "
                         f"(2 × stages × micro_batches ≤ {MAX_STEPS:,} steps, the limit of "
                         f"this function), got {m:,}")
    return p, m


def gpipe(stages: int, micro_batches: int) -> list[list[Step]]:
    """GPipe (Huang et al. 2019): every stage runs F0 … F(m−1), then B0 … B(m−1).

    ``stages`` an int in [1, :data:`MAX_STAGES`], ``micro_batches`` an int ≥ 1 with
    2 × stages × micro_batches ≤ :data:`MAX_STEPS`; ``TypeError``/``ValueError``
    naming the argument otherwise (:func:`one_f_one_b` and :func:`schedule` too)."""
    p, m = _steps(stages, micro_batches)
    return [[Step(i, j, "F") for j in range(m)] + [Step(i, j, "B") for j in range(m)]
            for i in range(p)]


def one_f_one_b(stages: int, micro_batches: int) -> list[list[Step]]:
    """1F1B (Narayanan et al. 2019, 2021): stage i warms up with min(p − i − 1, m)
    forwards, then runs one forward and one backward in turn, then the last backwards.
    Arguments and errors as :func:`gpipe`."""
    p, m = _steps(stages, micro_batches)
    order = []
    for i in range(p):
        warm = min(p - i - 1, m)
        steps = [Step(i, j, "F") for j in range(warm)]
        for j in range(m - warm):
            steps += [Step(i, warm + j, "F"), Step(i, j, "B")]
        steps += [Step(i, j, "B") for j in range(m - warm, m)]
        order.append(steps)
    return order


def schedule(name: str, stages: int, micro_batches: int) -> list[list[Step]]:
    """The order of steps per stage for ``name`` in ``SCHEDULES`` ("gpipe" or "1f1b").
    ``ValueError`` for another name; sizes as :func:`gpipe`."""
    checks.choice("name", name, SCHEDULES)
    return (gpipe if name == "gpipe" else one_f_one_b)(stages, micro_batches)


def _check_order(order) -> list[list[Step]]:
    """``order`` as a new list of lists of :class:`Step`, one list per stage."""
    stages = checks.sequence("order", order)
    if not stages:
        raise ValueError("order must hold at least one stage")
    if len(stages) > MAX_STAGES:
        raise ValueError(f"order must hold at most {MAX_STAGES} stages (the limit of this "
                         f"function), got {len(stages):,}")
    out = [checks.sequence(f"order[{i}]", s) for i, s in enumerate(stages)]
    for i, steps in enumerate(out):
        if len(steps) > MAX_STEPS:
            raise ValueError(f"order[{i}] must hold at most {MAX_STEPS:,} steps, "
                             f"got {len(steps):,}")
        bad = next((step for step in steps if not isinstance(step, Step)), None)
        if bad is not None:
            raise TypeError(f"order[{i}] must be a list of Step, got {type(bad).__name__} "
                            f"{bad!r}")
    return out


def _per_stage(name: str, value, stages: int) -> list[float]:
    """A time for each stage: one number for all, or a sequence of ``stages`` numbers."""
    values = list(value) if isinstance(value, (list, tuple)) else [value] * stages
    if len(values) != stages:
        raise ValueError(f"{name} must be a number or {stages} numbers (one per stage), "
                         f"got {len(values)}")
    return [checks.positive(name, v) for v in values]


def run(order: Sequence[Sequence[Step]], forward_time=1.0, backward_time=2.0,
        transfer_time: float = 0.0):
    """Play a schedule in virtual time: a DataFrame with one row per step (``stage``,
    ``micro_batch``, ``kind``, ``start``, ``end``), sorted by stage then start.

    Each stage runs its steps in order, one at a time, each as soon as it may: F of a
    micro-batch on stage i after its F on stage i − 1 (plus ``transfer_time`` to send the
    activations), B on stage i after its B on stage i + 1 (plus ``transfer_time``) and
    after its own F on stage i. ``forward_time``/``backward_time`` (> 0) per micro-batch:
    one number, or one per stage. ``ValueError`` for an order that deadlocks or that does
    not run every micro-batch's F and B once on every stage; ``TypeError`` for an order
    that is not a list of lists of :class:`Step` or a time that is not a number.
    """
    import pandas as pd

    steps = _check_order(order)
    p = len(steps)
    m = len(steps[0]) // 2
    if m < 1:
        raise ValueError("order must run at least one micro-batch")
    for i, s in enumerate(steps):
        want = {Step(i, j, k) for j in range(m) for k in "FB"}
        if len(s) != 2 * m or set(s) != want:
            raise ValueError(f"order[{i}] must run F and B of micro-batches 0…{m - 1} once "
                             f"each on stage {i}")
    duration = {"F": _per_stage("forward_time", forward_time, p),
                "B": _per_stage("backward_time", backward_time, p)}
    transfer_time = checks.number("transfer_time", transfer_time, minimum=0)
    end: dict[tuple, float] = {}                  # (stage, micro-batch, kind) -> time
    clock, position, rows = [0.0] * p, [0] * p, []
    while len(end) < 2 * m * p:
        moved = False
        for i in range(p):
            while position[i] < len(steps[i]):
                step = steps[i][position[i]]
                neighbour = i - 1 if step.kind == "F" else i + 1
                needs = [((neighbour, step.micro_batch, step.kind), transfer_time)] \
                    if 0 <= neighbour < p else []
                if step.kind == "B":
                    needs.append(((i, step.micro_batch, "F"), 0.0))
                if any(need not in end for need, _ in needs):
                    break
                start = max([clock[i]] + [end[need] + delay for need, delay in needs])
                clock[i] = end[(i, step.micro_batch, step.kind)] = start + duration[step.kind][i]
                rows.append((i, step.micro_batch, step.kind, start, clock[i]))
                position[i] += 1
                moved = True
        if not moved:
            stuck = [str(steps[i][position[i]]) for i in range(p) if position[i] < len(steps[i])]
            raise ValueError(f"order deadlocks: every stage waits ({', '.join(stuck)})")
    frame = pd.DataFrame(rows, columns=["stage", "micro_batch", "kind", "start", "end"])
    return frame.sort_values(["stage", "start"], ignore_index=True)


def bubble_fraction(timeline) -> float:
    """Measured idle share of a :func:`run` timeline: 1 − busy time ÷ (p × makespan),
    the makespan running from the first start to the last end. ``TypeError`` for
    anything but such a DataFrame, ``ValueError`` for one without steps."""
    import pandas as pd

    if not isinstance(timeline, pd.DataFrame) or \
            not {"stage", "start", "end"} <= set(timeline.columns):
        raise TypeError(f"timeline must be the DataFrame pipeline.run returns (columns "
                        f"stage, start, end), got {type(timeline).__name__}")
    if len(timeline) == 0:
        raise ValueError("timeline must hold at least one step")
    span = timeline["end"].max() - timeline["start"].min()
    stages = timeline["stage"].nunique()
    busy = (timeline["end"] - timeline["start"]).sum()
    return float(1 - busy / (stages * span))


def bubble_formula(stages: int, micro_batches: int) -> float:
    """(p − 1)/(m + p − 1): the bubble of GPipe and 1F1B with equal stage times and no
    transfer time (Huang et al. 2019; Narayanan et al. 2021, §2.2.1). ``stages`` in
    [1, :data:`MAX_STAGES`], ``micro_batches`` ≥ 1; ``TypeError``/``ValueError`` else."""
    p, m = _sizes(stages, micro_batches)
    return (p - 1) / (m + p - 1)


def peak_in_flight(order: Sequence[Sequence[Step]]) -> list[int]:
    """Per stage, the most micro-batches whose activations it holds at once (forward
    started, backward not yet finished), read from the order alone. ``order`` as for
    :func:`run`; ``TypeError``/``ValueError`` naming it otherwise."""
    peaks = []
    for steps in _check_order(order):
        held = peak = 0
        for step in steps:
            held += 1 if step.kind == "F" else -1
            peak = max(peak, held)
        peaks.append(peak)
    return peaks


def in_flight_formula(name: str, stages: int, micro_batches: int) -> list[int]:
    """Per stage i: m for GPipe; min(p − i, m) for 1F1B (Narayanan et al. 2021, §2.2.1).
    Arguments and errors as :func:`schedule` and :func:`bubble_formula`."""
    checks.choice("name", name, SCHEDULES)
    p, m = _sizes(stages, micro_batches)
    return [m if name == "gpipe" else min(p - i, m) for i in range(p)]
