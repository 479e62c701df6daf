"""What the bot does with a question: answer with one article, clarify between two, or escalate.

`decide` looks at the ranked articles of a search (best first), each with its score (the
confidence model's probability that it is right, or the similarity for a space without a model),
and the `Thresholds`:

- clarify when the clarify rule is on, the second article scores at least ``clarify_floor`` and
  the top two scores differ by at most ``clarify_margin``;
- otherwise answer with the top article when it scores at least ``answer``;
- otherwise escalate to a person.

A space's `Calibration` (``thresholds.json`` and ``thresholds-multilingual.json`` next to this
module) holds its confidence model and the thresholds for every answer precision target, found on
the development sets by `calibrate_precision` (or, for the objective before, `calibrate`: overall
accuracy on the similarity); see docs/evaluation.md. ``Thresholds()`` answers at 0.55 or escalates,
never clarifies.
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

from .confidence import ConfidenceModel

__all__ = ["MULTILINGUAL_THRESHOLDS_FILE", "THRESHOLDS_FILE", "Decision", "DecisionKind", "Scored", "Thresholds"]
__all__ += ["decide"]
__all__ += ["DEFAULT_PRECISION_TARGET", "PRECISION_TARGETS", "Calibration", "OperatingPoint"]
__all__ += ["calibrate", "calibrate_answer", "calibrate_precision", "load_calibration", "load_thresholds"]
__all__ += ["save_calibration", "save_thresholds"]

THRESHOLDS_FILE = Path(__file__).resolve().parent / "thresholds.json"  # for the English model
MULTILINGUAL_THRESHOLDS_FILE = THRESHOLDS_FILE.with_name("thresholds-multilingual.json")
DecisionKind = Literal["answer", "clarify", "escalate"]
DEFAULT_PRECISION_TARGET = 0.95  # the share of answers that must be right (settings: answer_precision_target)
PRECISION_TARGETS = tuple(round(0.50 + 0.01 * i, 2) for i in range(50))  # 0.50 .. 0.99, calibrated each


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


@dataclass(frozen=True)
class OperatingPoint:
    """The thresholds calibrated for one answer precision target, and what they gave on the calibration sets."""

    target: float
    thresholds: Thresholds
    precision: float | None  # answers (and clarifications) that were right; None when none was given
    answered_right: float  # in-scope calibration questions answered (or clarified) right

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "thresholds": self.thresholds.to_json(), "precision": self.precision,
                "answered_right": self.answered_right}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OperatingPoint:
        return cls(float(data["target"]), Thresholds.from_json(data["thresholds"]),
                   _optional_float(data.get("precision")), float(data["answered_right"]))


@dataclass(frozen=True)
class Calibration:
    """How a space decides: the `ConfidenceModel` that scores its candidate articles (None: the
    similarity itself is the score), the thresholds calibrated for each answer precision target
    (`points`), and the thresholds used when no target is asked for (`thresholds`)."""

    thresholds: Thresholds
    confidence: ConfidenceModel | None = None
    points: tuple[OperatingPoint, ...] = ()

    def at(self, target: float | None) -> Thresholds:
        """The thresholds for answer precision ``target``: those of the lowest calibrated target at or
        above it (the strictest one when it is above them all); `thresholds` without a target or points."""
        if target is None or not self.points:
            return self.thresholds
        if not 0 < target < 1:
            raise ValueError(f"an answer precision target is above 0 and below 1, got {target!r}")
        reaching = [point for point in self.points if point.target >= target - 1e-9]
        return min(reaching, key=lambda p: p.target).thresholds if reaching else self.points[-1].thresholds

    def to_json(self) -> dict[str, Any]:
        return {"thresholds": self.thresholds.to_json(),
                "confidence": self.confidence.to_json() if self.confidence else {},
                "operating_points": [point.to_json() for point in self.points]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        confidence = data.get("confidence") or None
        return cls(Thresholds.from_json(data["thresholds"]),
                   ConfidenceModel.from_json(confidence) if confidence else None,
                   tuple(sorted((OperatingPoint.from_json(p) for p in data.get("operating_points", ())),
                                key=lambda p: p.target)))


def load_calibration(path: str | Path = THRESHOLDS_FILE) -> Calibration:
    """The calibration in ``path`` (the shipped English one by default)."""
    return Calibration.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


def load_thresholds(path: str | Path = THRESHOLDS_FILE, target: float | None = None) -> Thresholds:
    """The thresholds in ``path`` (the shipped, calibrated ones by default), for answer precision ``target``."""
    return load_calibration(path).at(target)


def save_calibration(calibration: Calibration, path: str | Path, *, summary: dict[str, Any]) -> None:
    data = {**calibration.to_json(), "calibration": summary}
    Path(path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def save_thresholds(thresholds: Thresholds, path: str | Path, *, calibration: dict[str, Any]) -> None:
    save_calibration(Calibration(thresholds), path, summary=calibration)


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


# The clarify rule on calibrated confidences (probabilities), searched for each precision target.
CONFIDENCE_FLOORS = tuple(round(0.05 * i, 2) for i in range(1, 11))  # 0.05 .. 0.50
CONFIDENCE_MARGINS = tuple(round(0.05 * i, 2) for i in range(1, 11))  # 0.05 .. 0.50


def calibrate_precision(
    top: FloatArray, second: FloatArray, top_right: BoolArray, in_two: BoolArray, oos: BoolArray, *,
    targets: Sequence[float] = PRECISION_TARGETS, max_clarify_rate: float = 0.10, min_gain: float = 0.005,
) -> tuple[OperatingPoint, ...]:
    """For each answer precision target, the thresholds that answer (or clarify) right as many
    in-scope calibration queries as possible while at least that share of the answers, and of the
    clarifications, is right.

    ``top`` and ``second`` are the confidences of the first and second article (-inf when there is
    none); a clarification is right when the gold article is offered (``in_two``), an answer when the
    top article is (``top_right``); every answer or clarification of an OOS query is wrong. At most
    ``max_clarify_rate`` of the queries are clarified, and the clarify rule is kept only when it
    answers ``min_gain`` more of the in-scope queries right than answering alone does.
    """
    n = len(top)
    inscope = max(int((~oos).sum()), 1)
    answer_right = top_right & ~oos
    clarify_right = in_two & ~oos
    order = np.argsort(-top, kind="stable")
    gap = top - second
    rules: list[tuple[float, float, BoolArray]] = []
    for margin in CONFIDENCE_MARGINS:
        for floor in CONFIDENCE_FLOORS:
            clarify = (second >= floor) & (gap <= margin)
            if 0 < clarify.sum() <= max_clarify_rate * n:
                rules.append((margin, floor, clarify))
    points = []
    for target in targets:
        right, threshold, precision = _answers_reaching(top[order], answer_right[order], target)
        best = (right, 0, Thresholds(answer=threshold), precision)
        for margin, floor, clarify in rules:
            clarified, clarified_right = int(clarify.sum()), int((clarify & clarify_right).sum())
            if clarified_right < target * clarified - 1e-9:
                continue
            rest = order[~clarify[order]]
            right, threshold, _ = _answers_reaching(top[rest], answer_right[rest], target,
                                                    given=(clarified_right, clarified))
            total = right + clarified_right
            if total > best[0] + min_gain * inscope or (best[1] and total == best[0] and clarified < best[1]):
                answered = int((top[rest] >= threshold).sum()) + clarified
                best = (total, clarified, Thresholds(threshold, margin, floor), total / answered if answered else None)
        right, _, thresholds, precision = best
        points.append(OperatingPoint(target, thresholds, None if precision is None else round(precision, 4),
                                     round(right / inscope, 4)))
    return tuple(points)


def _answers_reaching(
    scores: FloatArray, right: BoolArray, target: float, given: tuple[int, int] = (0, 0)
) -> tuple[int, float, float | None]:
    """Queries sorted by ``scores`` (best first) are answered down to a threshold: the lowest one at
    which the answers, with ``given`` (right, count) decisions already made, are right at least
    ``target`` of the time. Returns (right answers, threshold, precision); the threshold sits halfway
    between the last answered score and the next (above every score when none can be answered)."""
    made_right, made = given
    counts = np.arange(1, len(scores) + 1) + made
    hits = np.cumsum(right) + made_right
    # Only cut between distinct scores: the last query answered scores above the first one not answered.
    cuttable = np.append(scores[:-1] > scores[1:], True) if len(scores) else np.zeros(0, bool)
    reaching = np.nonzero(cuttable & (hits >= target * counts - 1e-9))[0]
    if len(reaching) == 0:
        return 0, float(scores.max()) + 1e-6 if len(scores) else 1.0, None
    last = int(reaching[-1])
    threshold = float(scores[last])
    if last < len(scores) - 1:
        below = float(scores[last + 1])
        threshold = (threshold + below) / 2
        if below < round(threshold, 6) <= float(scores[last]):  # a shorter number, when it decides the same
            threshold = round(threshold, 6)
    return int(hits[last]) - made_right, threshold, float(hits[last] / counts[last])


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
