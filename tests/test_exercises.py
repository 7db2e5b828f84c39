"""distlab.present.exercises: exercises as data, checkers of a few kinds, hints on wrong
answers, the widget, and a validator that names the file, the exercise and the field."""
import decimal
import re

import numpy as np
import pytest

from distlab.present import exercises
from distlab.present.data import DataFileError

IDS = exercises.all_ids()

#: Right answers as the notebooks and the chapter tests give them (numbers computed by the
#: package, typed text), with a wrong one each: the verdicts from before the data files.
RIGHT_AND_WRONG = {
    "10.bubble": ("b", "c"), "10.zero-13b": (37.375, "208"),
    "01.bytes-adam": (16, "12"), "01.flops": (1.2e20, "1.2e19"), "01.devices": (14, "13"),
    "02.quorum": (3, "2"), "02.nines": (5.999999999956, "2"),
    "02.amdahl": (1 / (0.1 + 0.9 / 10**12), "9"), "02.lpt": (10.0, "9"),
    "03.sync-count": (12, "1"), "03.linear": ("yes", "no"), "03.partition": (3, "2"),
    "04.mean": (20.0, "60"), "04.ring-rounds": (14, "7"), "04.ring-bytes": (1.5, "3"),
    "04.star-root": (32.0, "63"), "04.gossip-ring": (-1.0000000000000002, "1"),
    "05.submit": ("callable", "array"), "05.tasks": (2, 3), "05.sum-preserved": (1.0, "100"),
    "06.equivalence": ("yes", "no"), "06.local-rounds": (96, "6"),
    "06.hedge-load": ("5%", "50"), "06.hot-load": (1.0, "1.36"),
    "07.gloo-sum": (60, "20"), "07.ranks": (3, "1"), "07.ddp-equal": ("yes", "no"),
    "08.efficiency": (0.5, "1"), "08.tasks": (8, "2"), "08.star-growth": (9.0, "8"),
    "09.term": ("最终一致性", "强一致性"),
    # the predict-then-run prompts (issue 14): the answer the next cell computes
    "00.bytes-back": ("a", "c"), "01.serve-70b": (2, "14"), "02.async-quorum": ("b", "a"),
    "03.sync-five": (3, "2"), "04.rabenseifner-6": ("1.5", "1, like the ring"),
    "05.same-key": (1, "100"), "06.one-average": ("b", "a"), "07.mismatch": ("b", "a"),
    "08.slow-links": ("below 0.5", "a"), "09.two-replicas": ("b", "a"),
}
#: Coding exercises: a function is the answer (tests/test_exercise_checks.py runs them all,
#: the two whose checkers need a cluster included).
TYPED = [i for i in IDS if exercises.get(i).checker.kind != "function"]
NEEDS_CLUSTER = {"05.average-futures", "07.ddp-step", "11.capstone"}


def test_every_exercise_is_covered_and_ids_are_sorted_per_chapter():
    assert sorted(RIGHT_AND_WRONG) == TYPED and len(TYPED) == 41 and len(IDS) == 55
    assert exercises.all_ids("06") == ["06.equivalence", "06.hedge-load", "06.hot-load",
                                       "06.local-rounds", "06.one-average", "06.pick-h"]


@pytest.mark.parametrize("exercise_id", sorted(set(IDS) - NEEDS_CLUSTER))
def test_reference_solution_passes_and_the_wrong_answer_fails(exercise_id):
    exercise = exercises.get(exercise_id)
    assert exercise.question and exercise.hint and exercise.solution
    assert exercises.check(exercise_id, exercise.right_answer()).correct
    wrong = exercises.check(exercise_id, exercise.wrong)
    assert not wrong.correct and f"Hint: {exercise.hint}" in wrong.message
    assert exercises.solution(exercise_id) == exercise.solution


@pytest.mark.parametrize("exercise_id", TYPED)
def test_the_old_right_answers_still_pass(exercise_id):
    right, wrong = RIGHT_AND_WRONG[exercise_id]
    assert exercises.check(exercise_id, right).message == f"✓ correct: {exercise_id}"
    assert exercises.check(exercise_id, str(right)).correct
    assert not exercises.check(exercise_id, wrong).correct


MALFORMED = ["surely-not-an-answer", "1/0", "0/0", "inf", "-inf", "nan", "1e400", "", None,
             object(), np.array([1.0, 2.0]), np.array([]), [], {}, b"20",
             decimal.Decimal("NaN"), complex(1, 1)]


@pytest.mark.parametrize("exercise_id", IDS)
def test_a_malformed_answer_is_a_wrong_answer_with_the_hint(exercise_id):
    for answer in MALFORMED:
        feedback = exercises.check(exercise_id, answer)          # never raises
        assert not feedback.correct and "Hint:" in feedback.message, (exercise_id, answer)


def test_a_division_by_zero_is_unreadable_not_an_error():
    """Issue 16: check("04.mean", "1/0") used to leak ZeroDivisionError."""
    feedback = exercises.check("04.mean", "1/0")
    assert feedback.message.startswith("✗ could not read '1/0'. Hint: add the three")


def test_chapter_05_answers():
    assert exercises.check("05.submit", "callable").correct
    assert exercises.check("05.submit", " Function. ").correct
    assert exercises.check("05.tasks", "2").correct
    assert exercises.check("05.tasks", 3).correct is False
    assert exercises.check("05.sum-preserved", "1").correct


def test_checker_kinds_read_typed_text():
    assert exercises.check("06.hedge-load", "5 %").correct         # a unit may follow
    assert exercises.check("06.hedge-load", "4").correct
    assert exercises.check("06.hedge-load", 6).correct
    assert not exercises.check("06.hedge-load", "6.01").correct      # min ≤ answer ≤ max
    assert exercises.check("01.flops", "1.19e20").correct            # relative tolerance 1 %
    assert not exercises.check("01.flops", "1.3e20").correct
    assert exercises.check("04.ring-bytes", "3/2").correct           # fractions are read
    assert exercises.check("03.linear", "是").correct
    assert exercises.check("03.linear", "Yes!").correct
    assert not exercises.check("01.devices", "14.9").correct         # not a whole number
    assert not exercises.check("09.term", "最终一致性 ?").correct


def test_unknown_exercise_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown exercise 'xx'; known: .*05.submit"):
        exercises.check("xx", 1)
    with pytest.raises(TypeError, match="exercise_id must be a string"):
        exercises.check(5, 1)


def test_number_parser():
    assert exercises.number("1/4") == 0.25
    assert exercises.number("2.5e3") == 2500.0


def test_widget_checks_what_is_typed():
    widget = exercises.ask("05.tasks")
    answer, button = widget.children[1].children
    feedback = widget.children[2]
    answer.value = "5"
    button.click()
    assert feedback.value.startswith("✗") and "Hint:" in feedback.value
    answer.value = "2"
    button.click()
    assert feedback.value.startswith("✓")


# --- the data file and its validator --------------------------------------------------------

GOOD = {"id": '"04.sum"', "question": '"1 + 1?"', "checker": '{ kind = "integer", value = 2 }',
        "hint": '"count"', "solution": '"2: one and one"', "answer": '"2"', "wrong": '"3"'}
REQUIRED = ["id", "question", "checker", "hint", "solution", "answer", "wrong"]


def write(tmp_path, *entries):
    path = tmp_path / "exercises.toml"
    path.write_text("\n".join("[[exercise]]\n" + "\n".join(f"{k} = {v}" for k, v in e.items())
                              for e in entries), encoding="utf-8")
    return path


def test_the_packaged_file_loads_and_a_minimal_file_too(tmp_path):
    assert [e.id for e in exercises.load()] == list(exercises.EXERCISES)
    (only,) = exercises.load(write(tmp_path, GOOD))
    assert only.id == "04.sum" and only.chapter == "04" and only.style == "recall"


@pytest.mark.parametrize("field", REQUIRED)
def test_the_validator_rejects_a_missing_field(tmp_path, field):
    entry = {k: v for k, v in GOOD.items() if k != field}
    path = write(tmp_path, GOOD | {"id": '"04.first"'}, entry)
    name = "exercise 2" + ("" if field == "id" else " ('04.sum')")
    expected = re.escape(f"exercises.toml, {name}: field '{field}' is missing")
    with pytest.raises(DataFileError, match=expected):
        exercises.load(path)


@pytest.mark.parametrize("change, message", [
    ({"id": '"4.sum"'}, "field 'id' must be 'NN.name'"),
    ({"id": '"12.sum"'}, "field 'id' names chapter '12'"),
    ({"question": '"  "'}, "field 'question' must be a non-blank string"),
    ({"style": '"essay"'}, "field 'style' must be one of recall, predict, coding"),
    ({"hnit": '"typo"'}, "field 'hnit' is not one of"),
    ({"checker": '{ kind = "guess" }'}, "checker: field 'kind' must be one of number, integer"),
    ({"checker": '{ kind = "integer" }'}, "checker: field 'value' is missing"),
    ({"checker": '{ kind = "integer", value = 2.5 }'}, "checker: field 'value' must be an integer"),
    ({"checker": '{ kind = "number", value = 2, tolerance = 1, relative = 0.1 }'},
     "checker: field 'value' must be given alone"),
    ({"checker": '{ kind = "number", min = 1 }'}, "checker: field 'value' must be given alone"),
    ({"checker": '{ kind = "yes-no", answer = "maybe" }'}, "field 'answer' must be 'yes' or 'no'"),
    ({"checker": '{ kind = "choice", choices = ["2"], answer = "2" }'},
     "field 'choices' must be a list of at least 2"),
    ({"checker": '{ kind = "choice", choices = ["1", "3"], answer = "2" }'},
     "field 'answer' must be one of the choices"),
    ({"checker": '{ kind = "function", function = "not a name" }'},
     "field 'function' must name a function"),
    ({"checker": '{ kind = "integer", value = 2, tolerance = 1 }'},
     "field 'tolerance' is not one of"),
    ({"answer": '"3"'}, "field 'answer' '3' fails its own checker"),
    ({"wrong": '"2"'}, "field 'wrong' '2' passes the checker"),
    ({"answer_from": '"math:pi"'}, "field 'answer_from' is only for a function checker"),
])
def test_the_validator_names_the_exercise_and_the_field(tmp_path, change, message):
    with pytest.raises(DataFileError, match=message):
        exercises.load(write(tmp_path, GOOD | change))


def test_ids_are_unique(tmp_path):
    with pytest.raises(DataFileError, match="exercise 2 \\('04.sum'\\): field 'id' repeats "
                                            "'04.sum', already used by .*exercise 1"):
        exercises.load(write(tmp_path, GOOD, GOOD))


def test_choice_and_function_checkers(tmp_path, monkeypatch):
    choice = GOOD | {"id": '"04.pick"', "style": '"predict"', "answer": '"b"', "wrong": '"a"',
                     "checker": '{ kind = "choice", choices = ["one", "two"], answer = "two" }'}
    coding = GOOD | {"id": '"04.code"', "style": '"coding"', "wrong": '"text"',
                     "checker": '{ kind = "function", function = "math:isfinite" }'}
    del coding["answer"]
    coding["answer_from"] = '"math:pi"'
    loaded = exercises.load(write(tmp_path, choice, coding))
    for exercise in loaded:
        monkeypatch.setitem(exercises.EXERCISES, exercise.id, exercise)
    assert exercises.check("04.pick", "b").correct and exercises.check("04.pick", " Two ").correct
    assert not exercises.check("04.pick", "one").correct
    assert exercises.check("04.code", exercises.get("04.code").right_answer()).correct
    raised = exercises.check("04.code", "text")
    assert not raised.correct and "your answer raised TypeError" in raised.message
    assert not exercises.check("04.code", float("inf")).correct
    widget = exercises.ask("04.pick")
    assert widget.children[0].value.startswith("<b>04.pick</b> Predict, then run")
    radios, button = widget.children[1].children
    radios.value = "b"
    button.click()
    assert widget.children[2].value == "✓ correct: 04.pick"
    assert "exercises.check('04.code', your_answer)" in exercises.ask("04.code").children[1].value


def test_widget_fallback_shows_the_question_and_its_choices(tmp_path, monkeypatch):
    """What a reader of the committed notebook sees without a kernel (see also
    tests/test_static_fallback.py, which checks every exercise of the book)."""
    from IPython.core.formatters import DisplayFormatter

    choice = GOOD | {"id": '"04.pick"', "answer": '"b"', "wrong": '"a"',
                     "checker": '{ kind = "choice", choices = ["one", "two"], answer = "two" }'}
    coding = GOOD | {"id": '"04.code"', "style": '"coding"', "wrong": '"text"',
                     "checker": '{ kind = "function", function = "math:isfinite" }',
                     "answer_from": '"math:pi"'}
    del coding["answer"]
    for exercise in exercises.load(write(tmp_path, choice, coding)):
        monkeypatch.setitem(exercises.EXERCISES, exercise.id, exercise)

    def shown(exercise_id):
        return DisplayFormatter().format(exercises.ask(exercise_id))[0]["text/plain"]

    assert shown("04.pick").splitlines()[1:] == ["○ a) one", "○ b) two"]
    assert shown("05.tasks").splitlines()[1:] == ["Answer: (your answer)"]
    assert shown("04.code").splitlines()[-1] == (
        "Write it in a cell, then run exercises.check('04.code', your_answer).")


def test_an_integer_answer_must_be_whole():
    """"14.9" used to be cut to 14 and counted right."""
    assert exercises.check("04.ring-rounds", "14").correct
    assert not exercises.check("04.ring-rounds", "14.9").correct
