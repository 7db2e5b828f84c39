"""The coding exercises' checkers (distlab.present.exercise_checks): every reference solution
passes, the notebook's untouched stub and typical mistakes fail with a useful message, a
learner's exception is a wrong answer naming it, and no check runs long. The predict-then-run
exercises' answers are pinned to what the package computes, and every chapter carries its
exercises, hidden solutions and bilingual takeaways before its Close section.

Chapters 05 and 07 check code on the cluster (one embedded cluster for this module)."""
import json
import time
from pathlib import Path

import numpy as np
import pytest

from distlab.apps import stores
from distlab.apps.data_sync import local_writes, replay
from distlab.concepts import (availability, linearizability, memory, partitioning, pipeline,
                              plans, scaling, sizing)
from distlab.concepts.cost import Network, cost_summary, lower_bound_bytes
from distlab.concepts.sessions import check_sessions
from distlab.present import (exercise_checks, exercise_cluster_checks, exercise_model_checks,
                             exercise_solutions, exercises)

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CHAPTERS = [f"{i:02d}" for i in range(11)]
CODING = [i for i in exercises.all_ids() if exercises.get(i).style == "coding"]
ON_CLUSTER = {"05.average-futures", "07.ddp-step", "11.capstone"}
LOCAL = [i for i in CODING if i not in ON_CLUSTER]


def parts(chapter):
    """A chapter's notebooks: one, or its parts in order (02 is 02_1, 02_2 and 02_3)."""
    paths = sorted(NOTEBOOKS.glob(f"{chapter}_*.ipynb"))
    assert paths, f"no notebook for chapter {chapter}"
    return paths


PARTS = [path for chapter in CHAPTERS for path in parts(chapter)]


def cells_of(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def code_of(path):
    return "".join("".join(c["source"]) for c in cells_of(path) if c["cell_type"] == "code")


def cell(chapter, cell_id):
    (found,) = [c for path in parts(chapter) for c in cells_of(path) if c.get("id") == cell_id]
    return found


def stub(exercise_id):
    """The learner's function as the notebook's stub cell defines it, untouched."""
    chapter, name = exercise_id.split(".")
    source = "".join(cell(chapter, f"ex-{chapter}-{name}-stub")["source"])
    body = source.rsplit("\n\nprint(exercises.check(", 1)[0]     # define, do not check
    label, namespace = f"stub of {exercise_id}", {}
    exec(compile(body, label, "exec"), namespace)
    (function,) = [v for v in namespace.values()
                   if getattr(getattr(v, "__code__", None), "co_filename", None) == label]
    return function


def raises(*_, **__):
    raise ValueError("boom")


def test_every_chapter_has_a_prediction_and_a_coding_exercise():
    for chapter in CHAPTERS:
        styles = {exercises.get(i).style for i in exercises.all_ids(chapter)}
        assert {"predict", "coding"} <= styles, chapter
    assert len(CODING) == 14 and {"09.quorum", "09.amdahl"}.isdisjoint(exercises.all_ids())


@pytest.mark.parametrize("exercise_id", LOCAL)
def test_the_reference_solution_passes_quickly(exercise_id):
    exercise = exercises.get(exercise_id)
    start = time.perf_counter()
    feedback = exercises.check(exercise_id, exercise.right_answer())
    assert feedback.correct and feedback.message.startswith(f"✓ correct: {exercise_id} (")
    assert time.perf_counter() - start < 10          # bounded cases: never a long check


@pytest.mark.parametrize("exercise_id", LOCAL)
def test_the_untouched_stub_fails(exercise_id):
    feedback = exercises.check(exercise_id, stub(exercise_id))
    assert not feedback.correct and "returned NotImplemented" in feedback.message
    assert f"Hint: {exercises.get(exercise_id).hint}" in feedback.message


@pytest.mark.parametrize("exercise_id", CODING)
def test_a_learners_exception_or_a_non_function_is_a_wrong_answer(exercise_id):
    if exercise_id not in ON_CLUSTER:
        feedback = exercises.check(exercise_id, raises)
        assert not feedback.correct and "your answer raised ValueError: boom" in feedback.message
    for answer in (None, 42, "def f(): pass", exercises.get(exercise_id).wrong):
        feedback = exercises.check(exercise_id, answer)
        assert not feedback.correct and "expected your function" in feedback.message


def throw_from_a_shared_generator(seed, darts):
    x, y = np.random.random(darts), np.random.random(darts)
    return int(np.count_nonzero(x * x + y * y <= 1))


def throw_into_a_triangle(seed, darts):
    rng = np.random.default_rng(seed)
    return int(np.count_nonzero(rng.random(darts) + rng.random(darts) <= 1))


def devices_for_memory_only(parameters, tokens, days, device_gb, peak_tflops, utilization):
    return sizing.devices_for_memory(sizing.memory_bytes(parameters), device_gb)


def gaps_without_the_last_sync(writes, sync_every):
    state, gaps = np.zeros(writes.shape[1:]), []
    for k, write in enumerate(writes):
        state = state + write
        if (k + 1) % sync_every == 0:
            state = np.tile(state.mean(axis=0), (len(state), 1))
        gaps.append(float(np.abs(state - state.mean(axis=0)).max()))
    return gaps


def star_rounds(p):
    return [[(i, 0, c, "reduce") for i in range(1, p) for c in range(p)],
            [(0, i, c, "copy") for i in range(1, p) for c in range(p)]]


@pytest.mark.parametrize("exercise_id, answer, message", [
    ("00.seeded-task", throw_from_a_shared_generator, "not a shared generator"),
    ("00.seeded-task", throw_into_a_triangle, "estimate π as 2.0"),
    ("01.plan-devices", devices_for_memory_only, "cannot do 6·N·D FLOPs in 2 days"),
    ("02.partition", partitioning.partition_even, "is possible"),
    ("02.partition", lambda costs, parts: [list(range(len(costs)))], "non-empty runs"),
    ("03.read-gaps", gaps_without_the_last_sync, "sync every 5"),
    ("04.ring-plan", star_rounds, "p = 3: node 0 sends 2 · n bytes"),
    ("04.ring-plan", lambda p: exercise_solutions.ring_rounds(p)[:p - 1], "does not end with"),
    ("04.ring-plan", lambda p: plans.ring(p).rounds, "round 1 must be a list of transfers"),
    ("04.ring-plan", lambda p: [[(0, 0, 0, "add")]], "is not a transfer"),
    ("06.pick-h", lambda budget: 96, "a smaller H does too"),
    ("06.pick-h", lambda budget: 1, "over the budget"),
    ("06.pick-h", lambda budget: 5, "must divide 96"),
    ("08.autotune", lambda p, n_bytes, network: "ring", "recursive_doubling takes"),
    ("08.autotune", lambda p, n_bytes, network: "butterfly", "return one of star"),
    ("09.linearizable", lambda history: True, "is not linearizable; you said True"),
    ("09.linearizable", lambda history: 1, "return True or False"),
    ("02.replicas", lambda mtbf, mttr, nines, need: exercise_solutions.replicas_for(
        mtbf, mttr, nines, "any"), "5 nines, majority: you say 3 replicas (3.53 nines): too few"),
    ("02.replicas", lambda mtbf, mttr, nines, need: 99, "fewer would do"),
    ("02.sessions", lambda history, versions: [], "you did not report it"),
    ("02.sessions", lambda history, versions: [("read your writes", o) for o in history
                                               if o.kind == "read"], "yet you report it"),
    ("02.sessions", lambda history, versions: ["read your writes"], "must be a pair"),
    ("10.capped-1f1b", lambda p, m, cap: pipeline.one_f_one_b(p, m), "holds 2 micro-batches'"),
    ("10.capped-1f1b", lambda p, m, cap: exercise_solutions.capped_one_f_one_b(p, m, 1),
     "1F1B within the cap takes"),
    ("10.capped-1f1b", lambda p, m, cap: [["F0"]], "must be a list of Step"),
])
def test_typical_mistakes_fail_with_a_message_that_says_why(exercise_id, answer, message):
    feedback = exercises.check(exercise_id, answer)
    assert not feedback.correct and message in feedback.message, feedback.message


def test_reference_solutions_agree_with_the_package():
    for p in (2, 3, 4, 8):
        ours = [[(t.src, t.dst, t.chunk[0], t.op) for t in r.transfers] for r in plans.ring(p).rounds]
        assert exercise_solutions.ring_rounds(p) == ours
    for costs, parts in exercise_checks.partition_cases():
        assert exercise_solutions.partition(costs, parts) and max(partitioning.part_costs(
            costs, exercise_solutions.partition(costs, parts))) == pytest.approx(max(
                partitioning.part_costs(costs, partitioning.partition_cost_aware(costs, parts))))
    for history in exercise_checks.linearizability_cases():
        assert exercise_solutions.linearizable(history) == \
            linearizability.check_linearizable(history).ok
    verdicts = [linearizability.check_linearizable(h).ok
                for h in exercise_checks.linearizability_cases()]
    assert 30 < sum(verdicts) < len(verdicts) - 30                  # both kinds, plenty of each
    assert exercise_solutions.pick_h(40_000) is None                 # not one all-reduce fits
    assert exercise_checks.allreduce_bytes() == 41_600


def test_the_predictions_are_what_the_package_computes():
    assert exercises.check("00.bytes-back", "a").correct            # 16 ints pickle small
    import pickle
    assert len(pickle.dumps([3_926_990 + i for i in range(16)])) < 1_000

    weights = sizing.memory_bytes(70e9, "bf16", training=False)
    assert exercises.check("01.serve-70b", sizing.devices_for_memory(weights, 80)).correct

    quorum_async = stores.with_changes(stores.EVENTUAL, r=2, w=2)
    linearizable = sum(stores.run(quorum_async, seed=s).linearizable for s in range(20))
    assert 0 < linearizable < 20 and exercises.check("02.async-quorum", "b").correct

    history = replay(local_writes(n_nodes=2, n_writes=12, seed=0), sync_every=5)["history"]
    assert exercises.check("03.sync-five", int(history["all-reduces"].iloc[-1])).correct

    ratio = (cost_summary(plans.rabenseifner(6), 600)["max_bytes_sent"]
             / lower_bound_bytes(6, 4800))
    assert exercises.check("04.rabenseifner-6", f"{ratio:g}").correct

    slow = scaling.efficiency(nodes=(64,), algorithms=("ring",),
                              network=Network(alpha=5e-6, bandwidth=1.25e9))["efficiency"]
    assert float(slow.iloc[0]) < 0.5 and exercises.check("08.slow-links", "c").correct

    timed_out = {}
    for n in (1, 2, 3):
        config = stores.StoreConfig(n=n, r=n // 2 + 1, w=n // 2 + 1, replication="sync")
        outcome = stores.run(config, seed=0, faults=(stores.Fault(0.2, "crash", n - 1),
                                                     stores.Fault(0.4, "recover", n - 1)))
        timed_out[n] = outcome.metrics["timed out (%)"]
    assert timed_out[2] >= timed_out[1] > timed_out[3] == 0
    assert exercises.check("09.two-replicas", "b").correct


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_exercise_is_asked_in_one_notebook_of_its_chapter(chapter):
    codes = [code_of(path) for path in parts(chapter)]
    for exercise_id in exercises.all_ids(chapter):
        asked = sum(f'exercises.ask("{exercise_id}")' in code for code in codes)
        assert asked == 1, f"{exercise_id} is asked in {asked} notebooks of chapter {chapter}"


@pytest.mark.parametrize("path", PARTS, ids=[path.stem for path in PARTS])
def test_every_notebook_ends_with_its_exercises_and_takeaways(path):
    chapter, cells, code = path.name[:2], cells_of(path), code_of(path)
    ids = [c.get("id") for c in cells]
    close = max(i for i, c in enumerate(cells)
                if c["cell_type"] == "markdown" and "## Close" in "".join(c["source"]))
    number = "-".join(p for p in path.stem.split("_") if p.isdigit())    # "02-1" for 02_1_…
    takeaways = ids.index(f"takeaways-{number}")
    assert takeaways == close - 1
    rows = [line for line in "".join(cells[takeaways]["source"]).splitlines()
            if line.startswith("| ") and not line.startswith("| 中文")]
    assert 4 <= len(rows) <= 6 and all(line.count(" | ") == 1 for line in rows)
    for exercise_id in exercises.all_ids(chapter):
        if f'exercises.ask("{exercise_id}")' not in code:
            continue                                 # asked in another part of the chapter
        exercise, name = exercises.get(exercise_id), exercise_id.split(".")[1]
        if exercise.style == "predict":
            ask, run = ids.index(f"ex-{chapter}-{name}-ask"), ids.index(f"ex-{chapter}-{name}-run")
            assert run == ask + 1 < takeaways
        if exercise.style == "coding":
            at = ids.index(f"ex-{chapter}-{name}-stub")
            solution = cells[at + 1]
            assert solution["id"] == f"ex-{chapter}-{name}-solution"
            assert solution["metadata"]["jupyter"] == {"source_hidden": True,
                                                       "outputs_hidden": True}
            source = "".join(solution["source"])
            assert f'exercises.solution("{exercise_id}")' in source
            assert f'exercises.check("{exercise_id}", exercise_solutions.' in source


# --- on the cluster: chapters 05 and 07 ----------------------------------------------------

def gather_then_scatter(client, futures):
    return client.scatter(np.mean(client.gather(futures), axis=0))


def mean_in_the_notebook(client, futures):
    return np.mean(client.gather(futures), axis=0)


def step_without_allreduce(group, params, X, y, lr):
    from distlab.apps.training import gradient
    return params - lr * gradient(params, X, y)


def step_with_an_extra_collective(group, params, X, y, lr):
    from distlab.apps.training import gradient
    g = gradient(params, X, y)
    if group.rank == 0:
        group.allreduce(g)
    return params - lr * group.allreduce(g)


def test_without_a_cluster_the_cluster_checks_say_so():
    from distributed import default_client
    try:
        default_client()
        pytest.skip("a client is connected")
    except ValueError:
        pass
    feedback = exercises.check("05.average-futures", exercise_solutions.average)
    assert not feedback.correct and "connect first" in feedback.message


def test_chapter_05_average_on_the_cluster(client):
    assert exercises.check("05.average-futures", exercise_solutions.average).correct
    for answer, message in [(stub("05.average-futures"), "returned NotImplemented"),
                            (gather_then_scatter, "does not depend on the input futures"),
                            (mean_in_the_notebook, "return a Future"),
                            (raises, "your answer raised ValueError: boom")]:
        feedback = exercises.check("05.average-futures", answer)
        assert not feedback.correct and message in feedback.message, feedback.message
    same = client.map(np.sum, [np.arange(100.0)] * 100)               # 05.same-key
    assert exercises.check("05.same-key", len({f.key for f in same})).correct


def test_chapter_07_ddp_step_on_the_cluster(client, monkeypatch):
    assert exercises.check("07.ddp-step", exercise_solutions.ddp_step).correct
    for answer, message in [(stub("07.ddp-step"), "returned NotImplemented"),
                            (step_without_allreduce, "the ranks disagree"),
                            (raises, "your answer raised ValueError: boom")]:
        feedback = exercises.check("07.ddp-step", answer)
        assert not feedback.correct and message in feedback.message, feedback.message
    monkeypatch.setattr(exercise_cluster_checks, "RANK_TIMEOUT", 2.0)
    start = time.perf_counter()
    feedback = exercises.check("07.ddp-step", step_with_an_extra_collective)
    assert not feedback.correct and "the same number of times" in feedback.message
    assert time.perf_counter() - start < 30                          # a timeout, not a hang


def test_chapter_06_one_average_is_close_to_sixteen(client):
    from distlab.apps import training
    once = training.train("local", client, local_steps=96, rounds=1)
    sixteen = training.train("local", client, local_steps=16, rounds=6)
    assert abs(once["accuracy"].iloc[-1] - sixteen["accuracy"].iloc[-1]) < 0.02
    assert once["bytes"].iloc[-1] == exercise_checks.allreduce_bytes()
    assert exercises.check("06.one-average", "b").correct


def test_the_capstone_on_the_cluster(client):
    """The reference plan passes the capstone's checker (the seeded kill included)."""
    from distlab.apps.capstone_exercise import reference_plan
    feedback = exercises.check("11.capstone", reference_plan)
    assert feedback.correct, feedback.message


# --- the exercises of 02.1, 02.2 and 10 (distlab.present.exercise_model_checks) --------------

def per_process_sessions(history, versions):
    """A typical mistake: c0' (c0 after a timeout) taken for another client."""
    renamed = {op: op.process.replace("'", "+") for op in history}
    found = exercise_solutions.session_violations(
        [linearizability.Op(renamed[op], op.kind, op.value, op.invoke, op.complete)
         for op in history], versions)
    back = {(renamed[op], op.kind, op.value, op.invoke): op for op in history}
    return [(g, back[(op.process, op.kind, op.value, op.invoke)]) for g, op in found]


def test_model_checks_catch_a_session_that_ends_at_a_timeout():
    feedback = exercises.check("02.sessions", per_process_sessions)
    assert not feedback.correct and "a session across a timeout" in feedback.message


def test_model_checks_reference_solutions_agree_with_the_package():
    for mtbf, mttr, nines, need in exercise_model_checks.REPLICA_CASES:
        expected = exercise_model_checks._fewest_replicas(mtbf, mttr, nines, need)
        assert exercise_solutions.replicas_for(mtbf, mttr, nines, need) == expected
        a = availability.availability(mtbf, mttr)     # no case decided by float rounding
        assert all(abs(exercise_model_checks._service_nines(a, n, need) - nines) > 0.005
                   for n in range(1, expected + 1))
    for label, history, versions in exercise_model_checks._session_cases():
        verdict = {(v.guarantee, v.read) for v in
                   check_sessions(history, versions, session=stores.client_of).violations}
        assert set(exercise_solutions.session_violations(list(history), versions)) == verdict, label
    for p, m in exercise_model_checks.PIPE_SIZES:
        for cap in (1, 2, p, p + 1):
            order = exercise_solutions.capped_one_f_one_b(p, m, cap)
            assert max(pipeline.peak_in_flight(order)) <= cap
        assert exercise_solutions.capped_one_f_one_b(p, m, p) == pipeline.one_f_one_b(p, m)


def test_chapter_10_predictions_are_what_the_package_computes():
    idle = [pipeline.bubble_fraction(pipeline.run(pipeline.schedule(name, 4, 8)))
            for name in pipeline.SCHEDULES]
    assert np.allclose(idle, 3 / 11) and exercises.check("10.bubble", "b").correct
    gb = memory.per_device(13e9, dp=16, zero_stage=2).total / memory.GB
    assert gb == 37.375 and exercises.check("10.zero-13b", f"{gb:.1f}").correct
