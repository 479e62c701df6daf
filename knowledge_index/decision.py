"""What the bot does with a question: answer with one article, clarify between two, or escalate.

`decide` looks at the ranked articles of a search (best first) and the `Thresholds`:

- clarify when the clarify rule is on, the top two articles both score at least ``clarify_floor``
  and their scores differ by at most ``clarify_margin``;
- otherwise answer with the top article when it scores at least ``answer``;
- otherwise escalate to a person.

The shipped thresholds (``thresholds.json`` next to this module) are calibrated on development sets
by `calibrate` (see docs/evaluation.md); ``Thresholds()`` is the behaviour before calibration:
answer at 0.55 or escalate, never clarify.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["MULTILINGUAL_THRESHOLDS_FILE", "THRESHOLDS_FILE", "Decision", "DecisionKind", "Scored", "Thresholds"]
__all__ += ["decide"]
__all__ += ["calibrate", "calibrate_answer", "load_thresholds", "save_thresholds"]

THRESHOLDS_FILE = Path(__file__).resolve().parent / "thresholds.json"  # for the English model
MULTILINGUAL_THRESHOLDS_FILE = THRESHOLDS_FILE.with_name("thresholds-multilingual.json")
DecisionKind = Literal["answer", "clarify", "escalate"]


class Scored(Protocol):
    """A ranked article: `knowledge_index.index.Hit` or a baseline's equivalent."""

    @property
    def article_id(self) -> str: ...
    @property
    def score(self) -> float: ...


@dataclass(frozen=True)
class Thresholds:
    answer: float = 0.55
    clarify_margin: float | None = None  # None: never clarify
    clarify_floor: float | None = None

    def __post_init__(self) -> None:
        if (self.clarify_margin is None) != (self.clarify_floor is None):
            raise ValueError("clarify_margin and clarify_floor are set together or not at all")
        for value in (self.answer, self.clarify_margin, self.clarify_floor):
            if value is not None and not math.isfinite(value):
                raise ValueError(f"threshold must be a number, got {value!r}")
        if self.clarify_margin is not None and self.clarify_margin < 0:
            raise ValueError("clarify_margin must not be negative")

    @property
    def clarifies(self) -> bool:
        return self.clarify_margin is not None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Thresholds:
        return cls(
            answer=float(data["answer"]),
            clarify_margin=_optional_float(data.get("clarify_margin")),
            clarify_floor=_optional_float(data.get("clarify_floor")),
        )


@dataclass(frozen=True)
class Decision:
    kind: DecisionKind
    article_ids: tuple[str, ...]  # 1 for answer, 2 for clarify, 0 for escalate
    confidence: float  # the top article's score; 0.0 when nothing was found
    reason: str


def decide(hits: Sequence[Scored], thresholds: Thresholds) -> Decision:
    """The decision for ranked ``hits`` (best first)."""
    if not hits:
        return Decision("escalate", (), 0.0, "no article found")
    top = hits[0]
    confidence = float(top.score)
    if thresholds.clarifies and len(hits) > 1:
        second = hits[1]
        floor, margin = thresholds.clarify_floor, thresholds.clarify_margin
        assert floor is not None and margin is not None
        gap = confidence - float(second.score)
        if float(second.score) >= floor and gap <= margin:
            reason = f"top two scores {confidence:.3f} and {second.score:.3f} are within {margin:g}"
            return Decision("clarify", (top.article_id, second.article_id), confidence, reason)
    if confidence >= thresholds.answer:
        return Decision("answer", (top.article_id,), confidence, f"score {confidence:.3f} >= {thresholds.answer:g}")
    return Decision("escalate", (), confidence, f"score {confidence:.3f} < {thresholds.answer:g}")


def load_thresholds(path: str | Path = THRESHOLDS_FILE) -> Thresholds:
    """The thresholds in ``path`` (the shipped, calibrated ones by default)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return Thresholds.from_json(data["thresholds"])


def save_thresholds(thresholds: Thresholds, path: str | Path, *, calibration: dict[str, Any]) -> None:
    data = {"thresholds": thresholds.to_json(), "calibration": calibration}
    Path(path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


# --- calibration -------------------------------------------------------------------------------

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# The clarify rule is searched on this grid; the answer threshold is searched exactly.
CLARIFY_FLOORS = tuple(round(0.20 + 0.01 * i, 2) for i in range(61))  # 0.20 .. 0.80
CLARIFY_MARGINS = tuple(round(0.005 * i, 3) for i in range(1, 21))  # 0.005 .. 0.100


def calibrate_answer(top: FloatArray, top_right: BoolArray, oos: BoolArray) -> tuple[float, float]:
    """The answer threshold maximising overall accuracy (no clarify rule), and that accuracy.

    ``top`` is each calibration query's best score, ``top_right`` whether that article is its
    gold article, ``oos`` whether it should be escalated.
    """
    correct, threshold = _best_answer_threshold(top, top_right & ~oos, oos, fixed=0)
    return threshold, correct / len(top)


def calibrate(
    top: FloatArray,
    second: FloatArray,
    top_right: BoolArray,
    in_two: BoolArray,
    oos: BoolArray,
    *,
    max_clarify_rate: float = 0.10,
    min_gain: float = 0.005,
) -> tuple[Thresholds, dict[str, Any]]:
    """Thresholds maximising overall accuracy on calibration queries.

    ``second`` is the second article's score (-inf when there is none) and ``in_two`` whether the
    gold article is among the top two. A clarification is right for an in-scope query whose
    article is offered. The clarify rule is searched with at most ``max_clarify_rate`` of the
    queries clarified and its floor at or above its answer threshold (so that a question too far
    from every article is escalated, never offered a choice), and kept only when it gains at least
    ``min_gain`` accuracy over answering or escalating alone. Returns the thresholds and a summary of the search.
    """
    n = len(top)
    answer_right = top_right & ~oos
    base_correct, base_threshold = _best_answer_threshold(top, answer_right, oos, fixed=0)
    best = (base_correct, 0.0, Thresholds(answer=base_threshold))
    gap = top - second
    for margin in CLARIFY_MARGINS:
        for floor in CLARIFY_FLOORS:
            clarify = (second >= floor) & (gap <= margin)
            clarified = int(clarify.sum())
            if clarified > max_clarify_rate * n:
                continue
            fixed = int((clarify & in_two & ~oos).sum())
            rest = ~clarify
            # The floor is at or above the answer threshold: two articles are offered only when
            # either would be answered on its own.
            correct, threshold = _best_answer_threshold(top[rest], answer_right[rest], oos[rest], fixed=fixed,
                                                        at_most=floor)
            if correct > best[0] or (correct == best[0] and clarified < best[1] * n):
                best = (correct, clarified / n, Thresholds(threshold, margin, floor))
    correct, rate, thresholds = best
    if (correct - base_correct) / n < min_gain:
        correct, rate, thresholds = base_correct, 0.0, Thresholds(answer=base_threshold)
    summary = {
        "queries": n,
        "accuracy": round(correct / n, 4),
        "accuracy_without_clarify": round(base_correct / n, 4),
        "clarification_rate": round(rate, 4),
        "max_clarify_rate": max_clarify_rate,
        "min_gain": min_gain,
    }
    return thresholds, summary


def _best_answer_threshold(
    top: FloatArray, answer_right: BoolArray, oos: BoolArray, *, fixed: int, at_most: float | None = None
) -> tuple[int, float]:
    """Exact search: (most correct decisions, threshold) over all thresholds on ``top`` (that are at
    most ``at_most``, when given).

    A query is answered when its score reaches the threshold: right when ``answer_right``;
    otherwise escalated: right when ``oos``. ``fixed`` correct decisions are added. Among equal
    optima the middle one is taken, and the threshold is put halfway between two scores (rounded
    to 4 decimals unless that would change a decision).
    """
    if len(top) == 0:
        return fixed, 0.5 if at_most is None else min(0.5, at_most)
    order = np.argsort(-top, kind="stable")
    scores = top[order]
    # Answering the first i queries (by score): right answers among them + OOS among the rest.
    answered = np.concatenate([[0], np.cumsum(answer_right[order])])
    escalated = int(oos.sum()) - np.concatenate([[0], np.cumsum(oos[order])])
    correct = answered + escalated
    # Only cut between distinct scores: i = 0, and i where scores[i - 1] > scores[i], and i = n.
    cuts = np.concatenate([[0], np.nonzero(scores[:-1] > scores[1:])[0] + 1, [len(scores)]])
    if at_most is not None:  # the first query not answered must score below at_most
        cuts = cuts[(cuts == len(scores)) | (scores[np.minimum(cuts, len(scores) - 1)] < at_most)]
    values = correct[cuts]
    winners = cuts[values == values.max()]
    cut = int(winners[len(winners) // 2])
    if cut == 0:
        threshold = float(scores[0]) + 0.01  # answer nothing
    elif cut == len(scores):
        threshold = float(scores[-1])  # answer everything
    else:
        above, below = float(scores[cut - 1]), float(scores[cut])
        threshold = (above + below) / 2
        if below < round(threshold, 4) <= above:  # a readable number, when it decides the same
            threshold = round(threshold, 4)
    if at_most is not None and threshold > at_most:  # still above every query left unanswered
        threshold = at_most
    return fixed + int(values.max()), threshold


def _optional_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
