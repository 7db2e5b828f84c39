"""The closing quiz of chapter 09: multiple choice over the whole book, graded by a pure
function.

    from distlab.present import quiz
    quiz.grade({"mean": 1, "stale": 1})      # Grade(score=2, total=10, ...)
    quiz.widget()                            # radio buttons, a Check button, the grade

``grade`` decides every answer from the question data alone (no widget, no cluster), so it
is what the tests call; ``widget`` only collects the choices and shows ``grade``'s report.
Every question says which chapter runs the idea, so a wrong answer points to the cell that
shows why. The questions are data, in ``data/quiz.toml`` (its header lists the fields),
read and checked by :func:`load` when this module is imported.
"""
from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import Mapping

from distlab.checks import sequence
from distlab.present.data import _read, _unique
from distlab.present.static_fallback import with_fallback


@dataclass(frozen=True)
class Question:
    id: str
    prompt: str
    choices: tuple[str, ...]
    answer: int                 # index into choices
    why: str                    # shown after a wrong answer
    chapter: str                # where the idea is run


@dataclass(frozen=True)
class QuestionResult:
    id: str
    chosen: int | None
    correct: bool
    feedback: str


@dataclass(frozen=True)
class Grade:
    score: int
    total: int
    results: tuple[QuestionResult, ...]

    @property
    def passed(self) -> bool:
        """At least 80 % right."""
        return self.score * 5 >= self.total * 4

    def report(self) -> str:
        lines = [f"{self.score} / {self.total} correct"]
        lines += [r.feedback for r in self.results]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()


def load(path=None) -> tuple[Question, ...]:
    """The questions of ``data/quiz.toml`` (or of the file at ``path``), in file order.

    Raises ``DataFileError`` (a ``ValueError``) naming the file, the question and the field
    when a question lacks its id, prompt, choices (two or more, distinct), the right answer
    (written as one of the choices), the explanation ``why`` or a known chapter; when a
    field is unknown; or when two questions share an id.
    """
    entries = _read("quiz.toml", "question", name_field="id", path=path)
    found = []
    for entry in entries:
        entry.allow("id", "chapter", "prompt", "choices", "answer", "why")
        choices = entry.texts("choices", minimum=2)
        answer = entry.text("answer")
        if answer not in choices:
            raise entry.error("answer", f"must be one of the choices, got {answer!r}")
        found.append(Question(entry.text("id"), entry.text("prompt"), choices,
                              choices.index(answer), entry.text("why"),
                              entry.chapter("chapter")))
    _unique(entries, [q.id for q in found], "id")
    return tuple(found)


QUESTIONS: tuple[Question, ...] = load()


def _check_questions(questions) -> tuple:
    questions = tuple(sequence("questions", questions))
    if not questions or not all(isinstance(q, Question) for q in questions):
        raise TypeError("questions must be a non-empty list of quiz.Question")
    return questions


def _check_answers(answers, questions) -> dict:
    if not isinstance(answers, Mapping):
        raise TypeError(f"answers must be a mapping from question id to choice index, "
                        f"got {type(answers).__name__}")
    ids = {q.id: q for q in questions}
    unknown = sorted(set(answers) - set(ids), key=str)
    if unknown:
        raise ValueError(f"answers name unknown questions {unknown}; known: "
                         f"{', '.join(ids)}")
    for qid, choice in answers.items():
        if choice is None:
            continue
        if isinstance(choice, bool) or not isinstance(choice, Integral):
            raise TypeError(f"the answer to {qid!r} must be a choice index (int) or None, "
                            f"got {type(choice).__name__}")
        if not 0 <= choice < len(ids[qid].choices):
            raise ValueError(f"the answer to {qid!r} must be an index from 0 to "
                             f"{len(ids[qid].choices) - 1}, got {choice}")
    return dict(answers)


def grade(answers: Mapping[str, int | None], questions=QUESTIONS) -> Grade:
    """Grade ``answers`` (question id → index of the chosen choice, or ``None``); a question
    not answered counts as wrong. Pure: the same answers always give the same grade, and
    ``answers`` is not modified. ``TypeError``/``ValueError`` naming the argument for
    answers that are not such a mapping or questions that are not quiz.Question."""
    questions = _check_questions(questions)
    answers = _check_answers(answers, questions)
    results = []
    for q in questions:
        chosen = answers.get(q.id)
        if chosen is None:
            results.append(QuestionResult(q.id, None, False,
                                  f"– {q.id}: not answered (see chapter {q.chapter})"))
        elif chosen == q.answer:
            results.append(QuestionResult(q.id, int(chosen), True, f"✓ {q.id}"))
        else:
            results.append(QuestionResult(q.id, int(chosen), False,
                                  f"✗ {q.id}: {q.why} (see chapter {q.chapter})"))
    return Grade(sum(r.correct for r in results), len(results), tuple(results))


def widget(questions=QUESTIONS):
    """One set of radio buttons per question, a Check button, and ``grade``'s report. An
    ipywidgets ``VBox``; its output also holds every question and its choices as static
    HTML and text, for readers who do not run it. ``TypeError`` for questions that are
    not a non-empty list of quiz.Question."""
    import html

    import ipywidgets as widgets

    questions = _check_questions(questions)
    radios = {}
    rows = []
    for i, q in enumerate(questions, 1):
        radio = widgets.RadioButtons(options=[(c, k) for k, c in enumerate(q.choices)],
                                     value=None, layout=widgets.Layout(width="auto"))
        radios[q.id] = radio
        rows += [widgets.HTML(f"<b>{i}. {html.escape(q.prompt)}</b>"), radio]
    button = widgets.Button(description="Check answers", button_style="primary")
    report = widgets.HTML()

    def on_click(_):
        result = grade({qid: r.value for qid, r in radios.items()}, questions)
        report.value = "<br>".join(html.escape(line) for line in result.report().splitlines())

    button.on_click(on_click)
    box = with_fallback(widgets.VBox([*rows, button, report]))
    box.radios, box.button, box.report = radios, button, report    # for tests
    return box
