"""The self-check framework: pure checking, hints on wrong answers, the widget."""
import pytest

from distlab.present import exercises


def test_every_chapter_exercise_accepts_nothing_wrong():
    ids = exercises.all_ids()
    assert ids, "no exercises registered"
    for exercise_id in ids:
        feedback = exercises.check(exercise_id, "surely-not-an-answer")
        assert not feedback.correct and "Hint:" in feedback.message


def test_chapter_05_answers():
    assert exercises.check("05.submit", "callable").correct
    assert exercises.check("05.tasks", "2").correct
    assert exercises.check("05.tasks", 3).correct is False
    assert exercises.check("05.sum-preserved", "1").correct


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


def test_ids_are_unique_per_registration():
    exercise = exercises.get("05.tasks")
    with pytest.raises(ValueError, match="registered twice"):
        exercises.register(exercise)
