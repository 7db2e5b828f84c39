"""distlab.present.quiz: the grading is a pure function of the answers; the widget only shows it."""
import pytest
from hypothesis import given, strategies as st

from distlab.present import quiz
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
