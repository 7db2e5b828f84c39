"""The capstone as an exercise: a plan that passes, and the checker of ``11.capstone``.

The learner writes ``plan(task)``, returning a :class:`~distlab.apps.capstone.CapstonePlan`
for a :class:`~distlab.apps.capstone.CapstoneTask`; :func:`check_capstone` calls it with
:data:`~distlab.apps.capstone.TASK`, runs the plan on the connected cluster with the
seeded kill, and passes it when the report does. :func:`reference_plan` is the reference
solution: local SGD with H chosen for the byte budget, a checkpoint every round.
:func:`table` sets reports side by side, to show what each choice of a plan costs.
"""
from __future__ import annotations

import pandas as pd

from distlab.apps.capstone import TASK, CapstonePlan, CapstoneReport, CapstoneTask, run_capstone
from distlab.apps.training.data import N_CLASSES, N_FEATURES
from distlab.concepts.cost import bytes_per_node
from distlab.concepts.plans import ring

#: SGD steps per node the reference plan spreads over its rounds (chapter 06's 6 × 16).
REFERENCE_STEPS = 96


def reference_plan(task: CapstoneTask = TASK) -> CapstonePlan:
    """Local SGD with H chosen for the budget. The ring all-reduce, which sends the fewest
    bytes per node, 2(p − 1)/p of the model (Patarasuk & Yuan, "Bandwidth optimal
    all-reduce algorithms for clusters of workstations", JPDC 2009); as many rounds as the
    budget pays for, less one: with a checkpoint every round, the kill costs exactly one
    round run again; and :data:`REFERENCE_STEPS` steps spread over those rounds, H of them
    between averages (Stich, "Local SGD Converges Fast and Communicates Little", ICLR
    2019). For :data:`~distlab.apps.capstone.TASK`: 7,808 bytes per all-reduce at most,
    4 paid for, so 3 rounds of H = 32.

    Raises ``TypeError`` for a task that is not a ``CapstoneTask`` and ``ValueError`` when
    ``task.byte_budget`` does not pay for two all-reduces.
    """
    if not isinstance(task, CapstoneTask):
        raise TypeError(f"task must be a CapstoneTask, got {type(task).__name__}")
    per_round = int(bytes_per_node(ring(task.nodes), N_FEATURES * N_CLASSES)[0].max())
    rounds = task.byte_budget // per_round - 1
    if rounds < 1:
        raise ValueError(f"task.byte_budget ({task.byte_budget:,}) must pay for two "
                         f"all-reduces of the model ({2 * per_round:,} bytes)")
    return CapstonePlan("local", rounds=rounds, local_steps=-(-REFERENCE_STEPS // rounds),
                        algorithm="ring", checkpoint_every=1)


def check_capstone(answer) -> tuple[bool, str]:
    """The checker of exercise ``11.capstone``: ``answer`` is the learner's function
    ``plan(task)``, called with :data:`~distlab.apps.capstone.TASK`; the plan it returns
    runs on the connected cluster (``distributed.default_client()``, which
    ``distlab.connect()`` sets). ``(True, verdict)`` when the run passes, else ``(False,
    what is wrong)``. An exception raised by the learner's code passes through, for
    :mod:`distlab.present.exercises` to report as a wrong answer."""
    from distributed import default_client

    if not callable(answer):
        return False, (f"expected your function plan(task), got {type(answer).__name__}: "
                       f"pass the function itself, without calling it")
    plan = answer(TASK)
    if plan is NotImplemented:
        return False, (f"{getattr(answer, '__name__', 'your function')} returned "
                       f"NotImplemented: replace the stub's body with your code")
    if not isinstance(plan, CapstonePlan):
        return False, f"plan(task) must return a CapstonePlan, got {type(plan).__name__}"
    try:
        client = default_client()
    except ValueError:
        return False, "no cluster to run it on: connect first, client = distlab.connect()"
    report = run_capstone(client, plan)
    return report.passed, report.verdict


def table(reports: dict) -> pd.DataFrame:
    """One row per report (``reports``: name -> :class:`~distlab.apps.capstone.CapstoneReport`,
    the names index the table): ``accuracy`` (test, 4 decimals), ``bytes`` (sent by the
    busiest node), ``rounds run`` (those run again after the kill included),
    ``survived`` and ``passed``. Raises ``TypeError`` for anything but a dict of reports."""
    if not isinstance(reports, dict) or not all(isinstance(r, CapstoneReport)
                                                for r in reports.values()):
        raise TypeError("reports must be a dict of CapstoneReport, name -> report")
    rows = {name: {"accuracy": round(r.accuracy, 4), "bytes": max(r.bytes_sent),
                   "rounds run": r.rounds_run, "survived": r.survived, "passed": r.passed}
            for name, r in reports.items()}
    return pd.DataFrame.from_dict(rows, orient="index")
