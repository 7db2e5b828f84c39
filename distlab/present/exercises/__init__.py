"""Self-checks that end each chapter.

An exercise asks a question whose answer is a property, not a timing; ``check`` decides an
answer with a pure function and returns feedback with a hint when it is wrong; ``ask`` shows
the same thing as a widget. Chapters register their exercises in ``chNN.py`` modules.

    from distlab.present import exercises
    exercises.ask("04.mean")            # a widget: the question, an answer box, a button
    exercises.check("04.mean", 20)      # Feedback(correct=True, message='✓ ...')
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Exercise:
    id: str                              # "NN.name": chapter number, then a short name
    question: str
    is_correct: Callable[[Any], bool]    # pure: the answer (already parsed) -> right or wrong
    hint: str                            # shown on a wrong answer
    parse: Callable[[str], Any] = str    # turns the widget's text into an answer


@dataclass(frozen=True)
class Feedback:
    correct: bool
    message: str

    def __str__(self) -> str:
        return self.message


_REGISTRY: dict[str, Exercise] = {}


def register(exercise: Exercise) -> Exercise:
    if exercise.id in _REGISTRY:
        raise ValueError(f"exercise {exercise.id!r} is registered twice")
    _REGISTRY[exercise.id] = exercise
    return exercise


def _load_chapters() -> None:
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("ch"):
            importlib.import_module(f"{__name__}.{module.name}")


def get(exercise_id: str) -> Exercise:
    if not isinstance(exercise_id, str):
        raise TypeError(f"exercise_id must be a string, got {type(exercise_id).__name__}")
    if not _REGISTRY:
        _load_chapters()
    if exercise_id not in _REGISTRY:
        raise ValueError(f"unknown exercise {exercise_id!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[exercise_id]


def all_ids(chapter: str | None = None) -> list[str]:
    """Every exercise id, or those of one chapter ("04")."""
    if not _REGISTRY:
        _load_chapters()
    return sorted(i for i in _REGISTRY if chapter is None or i.startswith(chapter + "."))


def check(exercise_id: str, answer: Any) -> Feedback:
    """Decide ``answer``; on a wrong one the message carries the hint. Never raises on a
    malformed answer: that is a wrong answer too."""
    exercise = get(exercise_id)
    if isinstance(answer, str):
        try:
            answer = exercise.parse(answer.strip())
        except (TypeError, ValueError):
            return Feedback(False, f"✗ could not read {answer!r}. Hint: {exercise.hint}")
    try:
        correct = bool(exercise.is_correct(answer))
    except (TypeError, ValueError, ArithmeticError):
        correct = False
    if correct:
        return Feedback(True, f"✓ correct: {exercise_id}")
    return Feedback(False, f"✗ not yet. Hint: {exercise.hint}")


def ask(exercise_id: str):
    """A widget for one exercise: the question, an answer box, a Check button, feedback."""
    import ipywidgets as widgets

    exercise = get(exercise_id)
    answer = widgets.Text(placeholder="your answer", description="Answer:")
    button = widgets.Button(description="Check", button_style="primary")
    feedback = widgets.HTML()

    def on_click(_):
        feedback.value = check(exercise_id, answer.value).message

    button.on_click(on_click)
    return widgets.VBox([widgets.HTML(f"<b>{exercise_id}</b> {exercise.question}"),
                         widgets.HBox([answer, button]), feedback])


def number(text: str) -> float:
    """Parse helper for numeric answers ("20", "2.5e3", "1/3")."""
    if "/" in text:
        top, bottom = text.split("/", 1)
        return float(top) / float(bottom)
    return float(text)


def yes(answer) -> bool:
    """Check helper for yes/no answers ("yes", "y", "true", "是", "对"; case and a final
    "." or "!" ignored)."""
    return str(answer).strip().lower().strip(" .!") in {"yes", "true", "y", "是", "对"}
