"""The quality gate of a publish: the bot's answers to its regression questions, new index against published.

The regression questions are every example question of the articles (each should be answered with
its own article) and the project's development set, the regression-questions file (how customers
ask, in other words, with the article that answers or ``escalate``). Both indexes answer every
question through the bot's own decision; a metric is the share of a kind of question answered right:

- ``examples``: example questions answered with their own article;
- ``development``: development-set questions answered with the right article, or handed over when
  they should be;
- ``handovers``: the development-set questions that should be handed over (near misses, off-topic
  questions) that are: a wrong answer costs more than a hand-over, so an edit that makes the bot
  answer them is refused on its own, even when it answers more of the rest right.

The candidate passes when no metric is lower than the published index's by more than the tolerance.
The report lists every question whose outcome changed, regressions first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from .articles import ArticleError, ArticleFields
from .decision import decide
from .index import KnowledgeIndex

__all__ = ["ESCALATE", "Change", "GateReport", "Question", "check", "outcome", "questions", "read_development_set"]

ESCALATE = "escalate"
TOP_K = 3  # as the bot (bot/actions/knowledge.py)
Source = Literal["examples", "development"]
Verdict = Literal["regressed", "improved", "changed"]
METRICS = ("examples", "development", "handovers")


@dataclass(frozen=True)
class Question:
    text: str
    expected: str  # an article id, or ESCALATE
    source: Source


@dataclass(frozen=True)
class Change:
    question: str
    source: Source
    expected: str
    before: str  # outcomes: "answer <id>", "clarify <id> <id>", "escalate"
    after: str
    verdict: Verdict


@dataclass(frozen=True)
class GateReport:
    passed: bool
    tolerance: float
    questions: dict[str, int]  # per metric
    published: dict[str, float]  # per metric; {} on a first publish
    candidate: dict[str, float]
    refused_because: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def read_development_set(path: str | Path) -> list[Question]:
    """The questions of a regression-questions file; raises `ArticleError` (``file:line: message``)."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise ArticleError(name, mark.line + 1 if mark else 0, f"not valid YAML: {error}") from None
    items = _mapping(root).get("questions") if isinstance(root, yaml.MappingNode) else None
    if not isinstance(items, yaml.SequenceNode):
        raise ArticleError(name, 1, "expected a mapping with a list `questions`")
    found = []
    for item in items.value:
        line = item.start_mark.line + 1
        fields = _mapping(item) if isinstance(item, yaml.MappingNode) else {}
        values = {key: node.value for key, node in fields.items() if isinstance(node, yaml.ScalarNode)}
        if set(fields) != {"question", "answer"} or not all(str(v).strip() for v in values.values()) \
                or len(values) != 2:
            raise ArticleError(name, line, "each item needs exactly `question` and `answer` (an article id or "
                                           "escalate)")
        found.append(Question(" ".join(str(values["question"]).split()), str(values["answer"]).strip(),
                              "development"))
    return found


def _mapping(node: yaml.MappingNode) -> dict[str, yaml.Node]:
    return {str(key.value): value for key, value in node.value}


def questions(articles: Sequence[ArticleFields], published: Sequence[ArticleFields], development: Sequence[Question],
              path: str = "") -> list[Question]:
    """The regression questions for ``articles`` (the new version; ``published``: the live one's): their
    example questions and ``development`` (read from ``path``), whose expected articles must exist.

    An example question is expected to get the article that holds it, one article per question: an
    article of the published version that still holds it keeps it (a copy in another article is what
    the gate should catch), a question moved from one article to another goes to the new one, and a
    question taken out of an article that still exists still expects it (customers still ask it)."""
    ids = {article.id for article in articles}
    unknown = sorted({q.expected for q in development if q.expected != ESCALATE and q.expected not in ids})
    if unknown:
        raise ArticleError(path, 0, f"answers name articles that do not exist: {', '.join(unknown)}")
    holders: dict[str, list[str]] = {}
    for article in sorted(articles, key=lambda a: a.id):
        for text in article.questions:
            holders.setdefault(" ".join(text.split()), []).append(article.id)
    before = {" ".join(text.split()): article.id for article in published for text in article.questions}
    examples = [Question(text, before[text] if before.get(text) in found else found[0], "examples")
                for text, found in holders.items()]
    examples += [Question(text, article_id, "examples") for text, article_id in before.items()
                 if text not in holders and article_id in ids]
    return examples + list(development)


def outcome(index: KnowledgeIndex, text: str) -> str:
    """What the bot does with ``text``: "answer <id>", "clarify <id> <id>" or "escalate"."""
    hits = index.search(text, k=TOP_K)
    decision = decide(hits, index.route(text).thresholds)
    return " ".join((decision.kind, *decision.article_ids))


def _counts_for(metric: str, question: Question) -> bool:
    if metric == "handovers":
        return question.source == "development" and question.expected == ESCALATE
    return question.source == metric


def _right(question: Question, result: str) -> bool:
    return result == (ESCALATE if question.expected == ESCALATE else f"answer {question.expected}")


def check(candidate: KnowledgeIndex, published: KnowledgeIndex | None, regression: Sequence[Question],
          tolerance: float) -> GateReport:
    """Answer ``regression`` with both indexes and compare (a first publish, without ``published``, passes)."""
    after = [outcome(candidate, q.text) for q in regression]
    before = [outcome(published, q.text) for q in regression] if published is not None else after
    counts: dict[str, int] = {metric: sum(_counts_for(metric, q) for q in regression) for metric in METRICS}

    def shares(results: list[str]) -> dict[str, float]:
        return {metric: round(sum(_right(q, r) for q, r in zip(regression, results, strict=True)
                                  if _counts_for(metric, q)) / counts[metric], 4)
                for metric in METRICS if counts[metric]}

    now, then = shares(after), shares(before) if published is not None else {}
    refused = [f"{metric}: {then[metric]:.1%} -> {now[metric]:.1%} (tolerance {tolerance:.1%})"
               for metric in now if metric in then and now[metric] < then[metric] - tolerance - 1e-9]
    changes = []
    for q, old, new in zip(regression, before, after, strict=True):
        if old != new:
            verdict: Verdict = "regressed" if _right(q, old) else "improved" if _right(q, new) else "changed"
            changes.append(Change(q.text, q.source, q.expected, old, new, verdict))
    order = {"regressed": 0, "changed": 1, "improved": 2}
    changes.sort(key=lambda c: order[c.verdict])
    return GateReport(not refused, tolerance, counts, then, now, refused, changes)
