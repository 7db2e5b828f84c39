"""distlab.present.quiz: the grading is a pure function of the answers; the widget only shows it;
the questions are data, checked when they load."""
import re

import pytest
from hypothesis import given, strategies as st

from distlab.present import quiz
from distlab.present.data import DataFileError
from distlab.present.quiz import QUESTIONS, Question, grade

RIGHT = {q.id: q.answer for q in QUESTIONS}


def test_questions_are_well_formed():
    ids = [q.id for q in QUESTIONS]
    assert len(ids) == len(set(ids)) >= 8
    for q in QUESTIONS:
        assert len(q.choices) >= 2 and len(set(q.choices)) == len(q.choices)
        assert 0 <= q.answer < len(q.choices)
        assert q.why and q.chapter in {f"{i:02d}" for i in range(10)}


def test_all_right_all_wrong_and_blank():
    assert grade(RIGHT).score == len(QUESTIONS) and grade(RIGHT).passed
    wrong = {q.id: (q.answer + 1) % len(q.choices) for q in QUESTIONS}
    g = grade(wrong)
    assert g.score == 0 and not g.passed
    assert all(r.feedback.startswith("✗") and f"chapter {q.chapter}" in r.feedback
               for r, q in zip(g.results, QUESTIONS))
    blank = grade({})
    assert blank.score == 0 and all("not answered" in r.feedback for r in blank.results)
    assert grade({q.id: None for q in QUESTIONS}) == blank


def test_report_counts_and_explains():
    answers = dict(RIGHT, mean=0)
    text = grade(answers).report()
    assert text.splitlines()[0] == f"{len(QUESTIONS) - 1} / {len(QUESTIONS)} correct"
    assert "✗ mean: every node ends with the mean" in text


@given(st.fixed_dictionaries({}, optional={
    q.id: st.one_of(st.none(), st.integers(0, len(q.choices) - 1)) for q in QUESTIONS}))
def test_score_is_the_number_of_right_choices_and_inputs_are_untouched(answers):
    before = dict(answers)
    g = grade(answers)
    assert answers == before
    assert g.score == sum(answers.get(q.id) == q.answer for q in QUESTIONS)
    assert g.total == len(QUESTIONS) == len(g.results)
    assert [r.id for r in g.results] == [q.id for q in QUESTIONS]
    assert grade(answers) == g                                  # pure: same in, same out


def test_bad_answers_are_rejected_with_the_reason():
    with pytest.raises(ValueError, match="unknown questions \\['nope'\\]"):
        grade({"nope": 0})
    with pytest.raises(ValueError, match="index from 0 to 3"):
        grade({"mean": 4})
    with pytest.raises(TypeError, match="choice index"):
        grade({"mean": "20"})
    with pytest.raises(TypeError, match="choice index"):
        grade({"mean": True})
    with pytest.raises(TypeError, match="mapping"):
        grade([1, 2])
    with pytest.raises(TypeError, match="non-empty"):
        grade({}, questions=[])


def test_custom_questions():
    q = Question("x", "1 + 1?", ("1", "2"), 1, "count", "04")
    assert grade({"x": 1}, questions=[q]).score == 1


def test_widget_grades_what_is_clicked():
    w = quiz.widget()
    for qid, radio in w.radios.items():
        radio.value = RIGHT[qid]
    w.radios["mean"].value = 0
    w.button.click()
    assert w.report.value.startswith(f"{len(QUESTIONS) - 1} / {len(QUESTIONS)} correct")
    assert "✗ mean" in w.report.value


def test_widget_fallback_lists_every_question_and_its_choices_unanswered():
    from IPython.core.formatters import DisplayFormatter

    data, _ = DisplayFormatter().format(quiz.widget())
    lines = data["text/plain"].splitlines()
    for i, q in enumerate(QUESTIONS, 1):
        start = lines.index(f"{i}. {' '.join(q.prompt.split())}")
        assert lines[start + 1:start + 1 + len(q.choices)] == [
            f"○ {' '.join(c.split())}" for c in q.choices]
    assert "●" not in data["text/plain"] and "Check answers" not in data["text/plain"]


# --- the data file and its validator --------------------------------------------------------

GOOD = {"id": '"sum"', "chapter": '"04"', "prompt": '"1 + 1?"', "choices": '["1", "2"]',
        "answer": '"2"', "why": '"count"'}


def write(tmp_path, *entries):
    path = tmp_path / "quiz.toml"
    path.write_text("\n".join("[[question]]\n" + "\n".join(f"{k} = {v}" for k, v in e.items())
                              for e in entries), encoding="utf-8")
    return path


def test_the_packaged_file_is_what_the_module_holds(tmp_path):
    assert quiz.load() == QUESTIONS
    (q,) = quiz.load(write(tmp_path, GOOD))
    assert q == Question("sum", "1 + 1?", ("1", "2"), 1, "count", "04")


@pytest.mark.parametrize("field", ["id", "chapter", "prompt", "choices", "answer", "why"])
def test_the_validator_rejects_a_missing_field(tmp_path, field):
    entry = {k: v for k, v in GOOD.items() if k != field}
    name = "question 2" + ("" if field == "id" else " ('sum')")
    expected = re.escape(f"quiz.toml, {name}: field '{field}' is missing")
    with pytest.raises(DataFileError, match=expected):
        quiz.load(write(tmp_path, GOOD | {"id": '"first"'}, entry))


@pytest.mark.parametrize("change, message", [
    ({"answer": '"3"'}, "field 'answer' must be one of the choices, got '3'"),
    ({"answer": "1"}, "field 'answer' must be a non-blank string"),
    ({"choices": '["2"]'}, "field 'choices' must be a list of at least 2"),
    ({"choices": '["2", "2"]'}, "field 'choices' repeats an item"),
    ({"chapter": '"4"'}, "field 'chapter' names chapter '4'"),
    ({"explanation": '"typo"'}, "field 'explanation' is not one of"),
])
def test_the_validator_names_the_question_and_the_field(tmp_path, change, message):
    with pytest.raises(DataFileError, match=f"question 1 \\('sum'\\): {message}"):
        quiz.load(write(tmp_path, GOOD | change))


def test_question_ids_are_unique(tmp_path):
    with pytest.raises(DataFileError, match="question 2 \\('sum'\\): field 'id' repeats 'sum'"):
        quiz.load(write(tmp_path, GOOD, GOOD))
