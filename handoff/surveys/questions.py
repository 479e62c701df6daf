"""The survey's questions: which ones the settings ask, how the survey request describes them, and
what an answer holds (its validation: the model of handoff/wire/customer.py, `survey_answer`).

Satisfaction (1-5) is always asked; a comment, the Net Promoter Score question (0-10) and the
Customer Effort Score question (1-7) are asked when `survey_questions` lists them, in its order.
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Question:
    id: str
    field: str  # its key in an answer (`answer_survey`, POST /api/surveys/{token})
    scale: tuple[int, int] | None  # lowest and highest answer; None: free text


SATISFACTION = "satisfaction"
QUESTIONS = {q.id: q for q in (
    Question(SATISFACTION, "rating", (1, 5)),
    Question("comment", "comment", None),
    Question("nps", "nps", (0, 10)),  # How likely are you to recommend us?
    Question("effort", "effort", (1, 7)),  # How easy was it to get your issue resolved?
)}
DEFAULT_QUESTIONS = (SATISFACTION, "comment")


@dataclasses.dataclass(frozen=True)
class Answers:
    rating: int
    comment: str | None = None
    nps: int | None = None
    effort: int | None = None


def parse_questions(value: Any) -> tuple[str, ...]:
    """`survey_questions` from the settings file: known ids, each once, satisfaction among them."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"survey_questions: expected a list of question ids, got {value!r}")
    for i, name in enumerate(value):
        if name not in QUESTIONS:
            raise ValueError(f"survey_questions: unknown question {name!r}; questions are {', '.join(QUESTIONS)}")
        if name in value[:i]:
            raise ValueError(f"survey_questions: {name!r} is listed twice")
    if SATISFACTION not in value:
        raise ValueError(f"survey_questions: {SATISFACTION} is always asked; list it")
    return tuple(value)


def describe(questions: tuple[str, ...]) -> list[dict[str, Any]]:
    """The questions as clients get them, in the order they are asked: ``{"id", "scale"?: [low, high]}``."""
    asked = [QUESTIONS[q] for q in questions]
    return [{"id": q.id, **({"scale": list(q.scale)} if q.scale else {})} for q in asked]


def survey_request(questions: tuple[str, ...]) -> dict[str, Any]:
    """The data of the system message that asks for the survey. ``scale`` is satisfaction's, kept for
    clients of protocol version 1 that read only it."""
    return {"kind": "survey", "scale": list(QUESTIONS[SATISFACTION].scale or ()), "questions": describe(questions)}
