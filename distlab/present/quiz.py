"""The closing quiz of chapter 09: multiple choice over the whole book, graded by a pure
function.

    from distlab.present import quiz
    quiz.grade({"mean": 1, "stale": 1})      # Grade(score=2, total=10, ...)
    quiz.widget()                            # radio buttons, a Check button, the grade

``grade`` decides every answer from the question data alone (no widget, no cluster), so it
is what the tests call; ``widget`` only collects the choices and shows ``grade``'s report.
Every question says which chapter runs the idea, so a wrong answer points to the cell that
shows why.
"""
from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import Mapping


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


QUESTIONS: tuple[Question, ...] = (
    Question("mean", "Three nodes hold 10, 20 and 30. After the sync X_i' = (1/N) Σ_j X_j, "
             "what does node 1 hold?",
             ("10", "20", "30", "60"), 1,
             "every node ends with the mean (10 + 20 + 30) / 3 = 20", "04"),
    Question("stale", "Which consistency model allows a read, just after a write has "
             "completed, to return the old value? (哪种一致性允许读到旧值？)",
             ("strong consistency 强一致性", "eventual consistency 最终一致性"), 1,
             "eventual consistency lets replicas disagree for a while; strong consistency "
             "(linearizability) never returns a value older than the last completed write",
             "02"),
    Question("quorum", "A store has N = 3 replicas and writes wait for W = 2. Which read "
             "quorum R guarantees that every read sees the latest write?",
             ("R = 1", "R = 2", "any R, because W > N / 2"), 1,
             "a read must overlap the last write's replicas: R + W > N, so R ≥ 2", "02"),
    Question("ring-bytes", "In a ring all-reduce of n bytes on p nodes, how many bytes does "
             "each node send?",
             ("n", "2(p − 1)/p · n", "(p − 1) · n", "p · n"), 1,
             "p − 1 reduce-scatter rounds and p − 1 all-gather rounds, one chunk of n/p each: "
             "the lower bound", "04"),
    Question("star-root", "Why does the star (parameter-server) all-reduce scale badly as "
             "nodes are added?",
             ("it needs more rounds than the ring",
              "its root sends and receives (p − 1) · n bytes, growing with p",
              "it gives a different result"), 1,
             "the root is a bottleneck: its traffic grows linearly with p while a ring "
             "node's stays below 2n", "08"),
    Question("sgd", "With plain SGD, is averaging the parameters after every step the "
             "same as averaging the gradients?",
             ("yes: the mean of θ − η g_i is θ − η · mean(g_i)",
              "no: parameter averaging loses information"), 0,
             "the mean is linear, so both give the same model (chapter 06 checks it exactly)",
             "06"),
    Question("task-size", "Dask adds about 1 ms of overhead per task. On 2 workers, which "
             "split of 1 second of work finishes soonest?",
             ("100,000 tasks of 10 µs", "1,000 tasks of 1 ms", "8 tasks of 125 ms",
              "1 task of 1 s"), 2,
             "tiny tasks drown in overhead and a single task leaves a worker idle; a few "
             "tasks per worker balance both", "08"),
    Question("amdahl", "90 % of a job parallelises perfectly. What is the largest speed-up "
             "any number of workers can give?",
             ("9×", "10×", "90×", "no limit"), 1,
             "Amdahl: S(∞) = 1 / (1 − f) = 1 / 0.1 = 10", "02"),
    Question("fault", "A Dask worker holding one finished result dies before the result is "
             "gathered. What does the scheduler do?",
             ("the computation fails", "it recomputes the lost task on a live worker",
              "it returns the other results only"), 1,
             "the scheduler keeps the task graph, so lost results are recomputed from their "
             "inputs (lineage)", "02"),
    Question("spmd", "Which of the two tools runs the same program in every process, each "
             "knowing its rank, and meets in collectives?",
             ("Dask", "PyTorch Distributed"), 1,
             "PyTorch Distributed is SPMD (like MPI); Dask has a central scheduler that "
             "hands tasks to workers", "07"),
)

_BY_ID = {q.id: q for q in QUESTIONS}


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
    ``answers`` is not modified."""
    questions = tuple(questions)
    if not questions or not all(isinstance(q, Question) for q in questions):
        raise TypeError("questions must be a non-empty sequence of quiz.Question")
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
    """One set of radio buttons per question, a Check button, and ``grade``'s report."""
    import html

    import ipywidgets as widgets

    questions = tuple(questions)
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
    box = widgets.VBox([*rows, button, report])
    box.radios, box.button, box.report = radios, button, report    # for tests
    return box
