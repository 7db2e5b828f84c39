"""Self-checks that end each chapter: a question, a checker, a hint and a solution each.

An exercise asks a question whose answer is a property, not a timing; ``check`` decides an
answer and returns feedback with the hint when it is wrong; ``ask`` shows the same thing as
a widget; ``solution`` gives the answer with its reason, for the hidden solution cell.

    from distlab.present import exercises
    exercises.ask("04.mean")            # a widget: the question, an answer box, a button
    exercises.check("04.mean", 20)      # Feedback(correct=True, message='✓ correct: 04.mean')
    exercises.solution("04.mean")       # '20: (10 + 20 + 30) / 3 = 20; …'

The exercises are data, in ``data/exercises.toml`` (its header lists the fields). How an
answer is decided is data too: a :class:`Checker` is one of a few fixed kinds (``KINDS``:
a number with a tolerance or a range, an integer, yes/no, accepted words, a choice, or a
package function for coding exercises) with its settings, interpreted here. :func:`load`
reads and checks the file when this module is imported; a missing or malformed field fails
with ``DataFileError`` naming the file, the exercise and the field.
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any

from distlab.present.data import CHAPTERS, Entry, _read, _unique
from distlab.present.static_fallback import with_fallback

#: Checker kinds and the settings each takes (the first group required, the second optional).
KINDS = {
    "number": ((), ("value", "tolerance", "relative", "min", "max", "unit")),
    "integer": (("value",), ()),
    "yes-no": (("answer",), ()),
    "text": (("accept",), ("ignore",)),
    "choice": (("choices", "answer"), ()),
    "function": (("function",), ()),
}
STYLES = ("recall", "predict", "coding")
YES = frozenset({"yes", "true", "y", "是", "对"})
NO = frozenset({"no", "false", "n", "否", "不", "不是", "不对"})
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def number(text: str) -> float:
    """A typed number as a float: "20", "2.5e3", or a fraction "1/3". Raises ``TypeError``
    (not a string) or ``ValueError`` naming ``text`` (not a number, or "1/0")."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    try:
        if "/" in text:
            top, bottom = text.split("/", 1)
            return float(top) / float(bottom)
        return float(text)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"text must be a number or a fraction such as 1/3, got "
                         f"{text!r}") from None


def _words(answer, ignore: str = "") -> str:
    """An answer as a word to compare: stripped, lower case, ``ignore`` cut from its ends."""
    return str(answer).strip().lower().strip(ignore)


def _resolve(reference: str):
    """The object named "package.module:name"."""
    module, name = reference.split(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Checker:
    """How an answer is decided: a kind of ``KINDS`` and its settings (a dict)."""
    kind: str
    settings: dict

    def read(self, text: str):
        """Typed ``text`` as the value this kind compares; raises ``ValueError`` or
        ``ArithmeticError`` when it cannot be read. An integer must be a whole number: "14.9"
        is not read as 14."""
        if self.kind in ("number", "integer"):
            unit = self.settings.get("unit")
            value = number(text.rstrip(unit + " ") if unit else text)
            if self.kind == "integer":
                if value != int(value):
                    raise ValueError(f"{text!r} is not a whole number")
                return int(value)
            return value
        if self.kind == "choice":
            letter = _words(text, " .()")
            choices = self.settings["choices"]
            if len(letter) == 1 and letter in _LETTERS[:len(choices)]:
                return choices[_LETTERS.index(letter)]
        return text

    def accepts(self, value) -> tuple[bool, str]:
        """(right or wrong, a note for the learner); may raise on an odd value."""
        s = self.settings
        if self.kind == "number":
            if "min" in s:
                return s["min"] <= value <= s["max"], ""
            if "relative" in s:
                return abs(value / s["value"] - 1) < s["relative"], ""
            if "tolerance" in s:
                return abs(value - s["value"]) < s["tolerance"], ""
            return value == s["value"], ""
        if self.kind == "integer":
            return value == s["value"], ""
        if self.kind == "yes-no":
            return _words(value, " .!") in (YES if s["answer"] == "yes" else NO), ""
        if self.kind == "text":
            ignore = s.get("ignore", "")
            return _words(value, ignore) in {_words(a, ignore) for a in s["accept"]}, ""
        if self.kind == "choice":
            return _words(value) == _words(s["answer"]), ""
        verdict = _resolve(s["function"])(value)
        return verdict if isinstance(verdict, tuple) else (verdict, "")

    def decide(self, answer) -> tuple[bool | None, str]:
        """(True, note) right, (False, note) wrong, (None, "") unreadable text. Never raises."""
        if self.kind == "function":
            _resolve(self.settings["function"])     # a checker not found is our bug: raise
        elif isinstance(answer, str):
            try:
                answer = self.read(answer.strip())
            except (ValueError, ArithmeticError):        # "x", "1/0", "inf" for an integer
                return None, ""
        try:
            correct, note = self.accepts(answer)
            return bool(correct), str(note)
        except Exception as error:     # an array, None, a learner's code: all wrong answers
            if self.kind == "function":
                return False, f"your answer raised {type(error).__name__}: {error}"
            return False, ""


@dataclass(frozen=True)
class Exercise:
    id: str                     # "NN.name": chapter number, then a short name
    question: str
    checker: Checker
    hint: str                   # shown on a wrong answer
    solution: str               # the answer and why
    answer: Any                 # a right answer, as given (tests check it passes)
    wrong: Any                  # a wrong one (tests check it fails)
    style: str = "recall"       # "recall", "predict" or "coding"
    answer_from: str | None = None    # "package.module:name" of a coding reference solution

    @property
    def chapter(self) -> str:
        return self.id[:2]

    def right_answer(self):
        """The reference answer: ``answer``, or the object ``answer_from`` names."""
        return _resolve(self.answer_from) if self.answer_from else self.answer


@dataclass(frozen=True)
class Feedback:
    correct: bool
    message: str

    def __str__(self) -> str:
        return self.message


_NUMBER_FORMS = ({"value"}, {"value", "tolerance"}, {"value", "relative"}, {"min", "max"})
_REFERENCE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")     # "package.module:name"


def _checker(entry: Entry) -> Checker:
    """The checker table of an exercise, its settings checked for its kind."""
    kind = entry.text("kind")
    if kind not in KINDS:
        raise entry.error("kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    required, optional = KINDS[kind]
    entry.allow("kind", *required, *optional)
    settings = {n: entry.value(n) for n in (*required, *optional) if n in required or n in entry}
    for name in settings.keys() & {"value", "tolerance", "relative", "min", "max"}:
        entry.number(name)
    if kind == "number" and settings.keys() - {"unit"} not in _NUMBER_FORMS:
        raise entry.error("value", "must be given alone, with tolerance or with relative, "
                                   "or be replaced by min and max")
    for name in settings.keys() & {"unit", "ignore"}:
        entry.text(name)
    if kind == "integer" and not isinstance(settings["value"], int):
        raise entry.error("value", f"must be an integer, got {settings['value']!r}")
    if kind == "yes-no" and entry.text("answer") not in ("yes", "no"):
        raise entry.error("answer", f"must be 'yes' or 'no', got {settings['answer']!r}")
    if kind == "text":
        settings["accept"] = entry.texts("accept")
    if kind == "choice":
        settings["choices"] = entry.texts("choices", minimum=2)
        if entry.text("answer") not in settings["choices"]:
            raise entry.error("answer", f"must be one of the choices, got {settings['answer']!r}")
    if kind == "function" and not _REFERENCE.fullmatch(entry.text("function")):
        raise entry.error("function", "must name a function as 'package.module:name'")
    return Checker(kind, settings)


def _exercise(entry: Entry) -> Exercise:
    entry.allow("id", "style", "question", "checker", "hint", "solution", "answer",
                "answer_from", "wrong")
    exercise_id = entry.text("id")
    if not re.fullmatch(r"\d\d\.[a-z0-9][a-z0-9-]*", exercise_id):
        raise entry.error("id", f"must be 'NN.name' (lower case, digits, '-'), got "
                                f"{exercise_id!r}")
    entry.chapter("id", exercise_id[:2])
    style = entry.text("style", "recall")
    if style not in STYLES:
        raise entry.error("style", f"must be one of {', '.join(STYLES)}, got {style!r}")
    checker = _checker(entry.table("checker"))
    reference = None
    if "answer_from" in entry:
        reference = entry.text("answer_from")
        if checker.kind != "function" or "answer" in entry:
            raise entry.error("answer_from", "is only for a function checker, without 'answer'")
        if not _REFERENCE.fullmatch(reference):
            raise entry.error("answer_from", "must name an object as 'package.module:name'")
    exercise = Exercise(exercise_id, entry.text("question"), checker, entry.text("hint"),
                        entry.text("solution"), None if reference else entry.value("answer"),
                        entry.value("wrong"), style, reference)
    if checker.kind != "function":        # a function checker may import much: tests run it
        if checker.decide(exercise.answer)[0] is not True:
            raise entry.error("answer", f"{exercise.answer!r} fails its own checker")
        if checker.decide(exercise.wrong)[0]:
            raise entry.error("wrong", f"{exercise.wrong!r} passes the checker")
    return exercise


def load(path=None) -> tuple[Exercise, ...]:
    """The exercises of ``data/exercises.toml`` (or of the file at ``path``), in file order.

    Raises ``DataFileError`` (a ``ValueError``) naming the file, the exercise and the field
    when an exercise lacks its id ("NN.name", a known chapter, unique), question, checker
    (see ``KINDS``), hint, solution, right ``answer`` (or ``answer_from`` for a function
    checker) or ``wrong`` answer; when a field is unknown; or when its own right answer
    fails its checker or its wrong one passes (checked here for every kind but function).
    """
    entries = _read("exercises.toml", "exercise", name_field="id", path=path)
    found = [_exercise(entry) for entry in entries]
    _unique(entries, [e.id for e in found], "id")
    return tuple(found)


EXERCISES: dict[str, Exercise] = {e.id: e for e in load()}


def get(exercise_id: str) -> Exercise:
    """The exercise ``exercise_id``. Raises ``TypeError`` (not a str) or ``ValueError``
    (unknown; the message lists the known ids)."""
    if not isinstance(exercise_id, str):
        raise TypeError(f"exercise_id must be a string, got {type(exercise_id).__name__}")
    if exercise_id not in EXERCISES:
        raise ValueError(f"unknown exercise {exercise_id!r}; known: "
                         f"{', '.join(sorted(EXERCISES))} (exercise_id must be one of them)")
    return EXERCISES[exercise_id]


def all_ids(chapter: str | None = None) -> list[str]:
    """Every exercise id, or those of one chapter ("04"), sorted. ``TypeError``/
    ``ValueError`` for a chapter that is not one of the book's ("00" … "11")."""
    if chapter is not None:
        if not isinstance(chapter, str):
            raise TypeError(f"chapter must be a string such as '04', got "
                            f"{type(chapter).__name__}")
        if chapter not in CHAPTERS:
            raise ValueError(f"chapter must be one of {', '.join(CHAPTERS)}, got {chapter!r}")
    return sorted(i for i in EXERCISES if chapter is None or i.startswith(chapter + "."))


def check(exercise_id: str, answer: Any) -> Feedback:
    """Decide ``answer`` (typed text, a number, or for a coding exercise an object); on a
    wrong one the message carries the hint. Never raises on a malformed answer: that is a
    wrong answer too. Raises only for a bad ``exercise_id`` (see :func:`get`)."""
    exercise = get(exercise_id)
    correct, note = exercise.checker.decide(answer)
    if correct:
        return Feedback(True, f"✓ correct: {exercise_id}" + (f" ({note})" if note else ""))
    if correct is None:
        return Feedback(False, f"✗ could not read {answer!r}. Hint: {exercise.hint}")
    return Feedback(False, f"✗ not yet{': ' + note if note else ''}. Hint: {exercise.hint}")


def solution(exercise_id: str) -> str:
    """The answer to ``exercise_id`` and why, as the solution cell shows it. Errors as
    :func:`get`."""
    return get(exercise_id).solution


def ask(exercise_id: str):
    """A widget for one exercise: the question, an answer box (radio buttons for a choice),
    a Check button, the feedback. A coding exercise shows how to check code instead. An
    ipywidgets ``VBox``; its output also holds the question (and a choice's options) as
    static HTML and text, for readers who do not run it. Errors as :func:`get`."""
    import html

    import ipywidgets as widgets

    exercise = get(exercise_id)
    lead = {"predict": "Predict, then run the next cell: "}.get(exercise.style, "")
    title = widgets.HTML(f"<b>{exercise_id}</b> {lead}{html.escape(exercise.question)}")
    if exercise.checker.kind == "function":
        return with_fallback(widgets.VBox([title, widgets.HTML(
            f"Write it in a cell, then run <code>exercises.check({exercise_id!r}, "
            f"your_answer)</code>.")]))
    if exercise.checker.kind == "choice":
        choices = exercise.checker.settings["choices"]
        answer = widgets.RadioButtons(options=[(f"{_LETTERS[i]}) {c}", _LETTERS[i])
                                               for i, c in enumerate(choices)], value=None)
    else:
        answer = widgets.Text(placeholder="your answer", description="Answer:")
    button = widgets.Button(description="Check", button_style="primary")
    feedback = widgets.HTML()

    def on_click(_):
        feedback.value = html.escape(check(exercise_id, answer.value or "").message)

    button.on_click(on_click)
    return with_fallback(widgets.VBox([title, widgets.HBox([answer, button]), feedback]))
