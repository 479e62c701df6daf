"""Evaluate a knowledge base: ``sentence,label`` CSVs through the production index and `decide`.

A KB CSV gives each label's example questions; every label becomes one article (id: a slug of the
label, title: the label, no body), indexed by `baselines.ProductionRanker` with
`KnowledgeIndex.build` like the product's own articles. `evaluate` ranks every query (k=10) and
decides (`decide`) with a `Ranker`; `metrics` defines the figures reported (docs/evaluation.md
explains them).
"""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .articles import ID_PATTERN, Article
from .csv_files import CsvError, read_csv
from .decision import Decision, Scored, Thresholds, decide

__all__ = ["CsvError", "Labeled", "QueryResult", "Ranker", "TimedRanker", "article_ids", "evaluate"]
__all__ += ["aurc", "risk_coverage"]
__all__ += ["auroc", "check_labels", "kb_articles", "mcc", "metrics", "read_labeled_csv", "report"]

HEADER = ["sentence", "label"]
K = 10  # articles ranked per query (MRR@10)


@dataclass(frozen=True)
class Labeled:
    text: str
    label: str
    line: int = 0  # 1-based line in its CSV file, 0 when it did not come from one
    also: tuple[str, ...] = ()  # further right labels for a query (dev sets only; a CSV has one)


def read_labeled_csv(path: str | Path, warn: Callable[[str], None] | None = None) -> list[Labeled]:
    """The rows of a ``sentence,label`` CSV (read as `csv_files.read_csv` reads files: BOM, CRLF,
    quoted line breaks, empty trailing columns and empty rows are fine); each note of what was
    ignored goes to `warn`. Whitespace inside a sentence is collapsed."""
    table = read_csv(path, HEADER)
    rows: list[Labeled] = []
    for row in table.rows:
        sentence, label = " ".join(row.fields[0].split()), row.fields[1].strip()
        if not sentence:
            raise CsvError(str(path), row.line, "empty sentence")
        if not label:
            raise CsvError(str(path), row.line, "empty label")
        rows.append(Labeled(sentence, label, row.line))
    if warn is not None:
        for note in table.ignored:
            warn(note)
    return rows


def check_labels(
    kb: Sequence[Labeled], queries: Sequence[Labeled], oos_label: str | None, names: tuple[str, str]
) -> None:
    """Raise `CsvError` when the KB is empty or holds the OOS label, or a query's label is unknown."""
    if not kb:
        raise CsvError(names[0], 0, "no rows: the knowledge base needs at least one sentence")
    labels = {row.label for row in kb}
    for row in kb:
        if row.label == oos_label:
            raise CsvError(names[0], row.line, f"the KB must not contain the OOS label {oos_label!r}")
    for row in queries:
        if any(label not in labels for label in row.also) or (row.label not in labels and row.label != oos_label):
            hint = f" nor the OOS label {oos_label!r}" if oos_label is not None else " (no --oos-label given)"
            raise CsvError(names[1], row.line, f"label {row.label!r} is not a KB label{hint}")


_NON_ID = re.compile(r"[^a-z0-9]+")


def article_ids(labels: Sequence[str]) -> dict[str, str]:
    """A valid, unique article id for each label: its slug, plus a hash of the label when the slug
    is taken, shorter than 2 characters, or dropped non-ASCII letters. Labels that are valid ids
    already keep them."""
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for label in sorted(set(labels), key=lambda label: (not ID_PATTERN.fullmatch(label), label)):
        ascii_text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode().lower()
        slug = _NON_ID.sub("-", ascii_text).strip("-")[:48].strip("-")
        if len(slug) < 2 or slug in taken or ascii_text != label.lower():
            digest = hashlib.sha256(label.encode("utf-8")).hexdigest()[:8]
            slug = f"{slug}-{digest}" if slug else f"label-{digest}"
        ids[label] = slug
        taken.add(slug)
    return ids


def kb_articles(kb: Sequence[Labeled], ids: dict[str, str], source: str = "kb") -> list[Article]:
    """One article per label: its sentences as questions (in file order), the label as title."""
    questions: dict[str, list[str]] = {}
    first_line: dict[str, int] = {}
    for row in kb:
        questions.setdefault(row.label, []).append(row.text)
        first_line.setdefault(row.label, row.line)
    return [
        Article(id=ids[label], title=label, body="", locale="en", tags=(), questions=tuple(dict.fromkeys(texts)),
                url=None, path=f"{source}:{first_line[label]}")
        for label, texts in questions.items()
    ]


class Ranker(Protocol):
    """Ranks a KB's articles for each query, best first (the project's index or a baseline)."""

    name: str

    def rank(self, texts: Sequence[str], k: int = K) -> list[list[Scored]]: ...


@runtime_checkable
class TimedRanker(Ranker, Protocol):
    """A ranker that decides each query with its own route's thresholds and can time single queries
    through `decide` (the project's)."""

    def thresholds(self, text: str) -> Thresholds: ...

    def latency(self, texts: Sequence[str]) -> tuple[list[float], list[Decision]]: ...


@dataclass(frozen=True)
class QueryResult:
    query: Labeled
    gold: tuple[str, ...]  # the right article ids; () for an OOS query
    ranked: tuple[str, ...]  # article ids, best first (up to K)
    decision: Decision

    @property
    def correct(self) -> bool:
        if not self.gold:
            return self.decision.kind == "escalate"
        return any(article_id in self.gold for article_id in self.decision.article_ids)

    @property
    def rank(self) -> int | None:
        """1-based rank of the first right article among `ranked`, None when absent or OOS."""
        return next((i for i, article_id in enumerate(self.ranked, start=1) if article_id in self.gold), None)


def evaluate(
    kb: Sequence[Labeled],
    queries: Sequence[Labeled],
    oos_label: str | None,
    ranker: Ranker,
    thresholds: Thresholds | None = None,
    *,
    latency_sample: int = 0,
) -> tuple[list[QueryResult], dict[str, Any]]:
    """Rank and decide every query with ``ranker`` (built on ``kb``) and ``thresholds`` (a
    `TimedRanker` decides with its own); return per-query results and `metrics`. With
    ``latency_sample`` (a `TimedRanker` only), also time that many queries."""
    ids = article_ids([row.label for row in kb])
    rankings = ranker.rank([row.text for row in queries], K)
    thresholds_for: Callable[[str], Thresholds]
    if isinstance(ranker, TimedRanker):
        thresholds_for = ranker.thresholds
    elif thresholds is not None:
        thresholds_for = lambda _: thresholds  # noqa: E731
    else:
        raise ValueError(f"{ranker.name} needs thresholds")
    results = [
        QueryResult(row, () if row.label == oos_label else tuple(ids[label] for label in (row.label, *row.also)),
                    tuple(hit.article_id for hit in hits), decide(hits, thresholds_for(row.text)))
        for row, hits in zip(queries, rankings, strict=True)
    ]
    summary = metrics(results)
    if latency_sample > 0 and results and isinstance(ranker, TimedRanker):
        chosen = sorted(random.Random(0).sample(range(len(results)), min(latency_sample, len(results))))
        seconds, decisions = ranker.latency([queries[i].text for i in chosen])
        summary["latency_ms_p50"] = round(float(np.percentile(seconds, 50)) * 1000, 2)
        summary["latency_ms_p99"] = round(float(np.percentile(seconds, 99)) * 1000, 2)
        summary["latency_sample"] = len(chosen)
        summary["batched_vs_single_changed"] = sum(
            (d.kind, d.article_ids) != (results[i].decision.kind, results[i].decision.article_ids)
            for i, d in zip(chosen, decisions, strict=True)
        )
    return results, summary


def metrics(results: Sequence[QueryResult]) -> dict[str, Any]:
    """The figures of docs/evaluation.md; None where undefined (e.g. OOS recall with no OOS query)."""
    inscope = [r for r in results if r.gold]
    oos = [r for r in results if not r.gold]
    answered = [r for r in results if r.decision.kind == "answer"]
    escalated = [r for r in results if r.decision.kind == "escalate"]
    right_answers = sum(r.correct for r in answered)
    ranks = [r.rank for r in inscope]
    return {
        "queries": len(results),
        "in_scope": len(inscope),
        "oos": len(oos),
        "accuracy_at_1": _ratio(sum(rank == 1 for rank in ranks), len(inscope)),
        "mrr_at_10": _ratio(sum(1 / rank for rank in ranks if rank is not None and rank <= K), len(inscope)),
        "answered_right_rate": _ratio(right_answers, len(inscope)),
        "answer_precision": _ratio(right_answers, len(answered)),
        "oos_recall": _ratio(sum(r.decision.kind == "escalate" for r in oos), len(oos)),
        "oos_precision": _ratio(sum(not r.gold for r in escalated), len(escalated)),
        "overall_accuracy": _ratio(sum(r.correct for r in results), len(results)),
        "mcc": _round(mcc([_gold(r) for r in results], [_predicted(r) for r in results])),
        "auroc": _round(auroc([r.decision.confidence for r in inscope], [r.decision.confidence for r in oos])),
        "auroc_right": _round(auroc([r.decision.confidence for r in results if r.rank == 1],
                                    [r.decision.confidence for r in results if r.rank != 1])),
        "aurc": _round(aurc([r.decision.confidence for r in results], [r.rank == 1 for r in results])),
        "clarification_rate": _ratio(sum(r.decision.kind == "clarify" for r in results), len(results)),
        "escalation_rate": _ratio(len(escalated), len(results)),
    }


def _predicted(result: QueryResult) -> str | None:
    """The article a decision stands for: None (OOS) for an escalation; for a clarification the
    right article when it is offered, else the first offered."""
    ids = result.decision.article_ids
    return next((i for i in ids if i in result.gold), ids[0] if ids else None)


def _gold(result: QueryResult) -> str | None:
    """The query's class for MCC: None for OOS; of several right articles, the one predicted if any."""
    predicted = _predicted(result)
    return predicted if predicted in result.gold else (result.gold[0] if result.gold else None)


def mcc(gold: Sequence[str | None], predicted: Sequence[str | None]) -> float | None:
    """Multiclass Matthews correlation (Gorodkin's R_K); 0 when a margin is constant."""
    if not gold:
        return None
    classes = {label: i for i, label in enumerate(dict.fromkeys([*gold, *predicted]))}
    matrix = np.zeros((len(classes), len(classes)), dtype=np.float64)
    np.add.at(matrix, ([classes[g] for g in gold], [classes[p] for p in predicted]), 1)
    true, pred, total = matrix.sum(axis=1), matrix.sum(axis=0), matrix.sum()
    covariance = np.trace(matrix) * total - float(true @ pred)
    denominator = float(np.sqrt((total**2 - pred @ pred) * (total**2 - true @ true)))
    return float(covariance / denominator) if denominator > 0 else 0.0


def auroc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """P(a positive scores above a negative), ties counting half (Mann-Whitney U)."""
    if not positives or not negatives:
        return None
    scores = np.array([*positives, *negatives], dtype=np.float64)
    order = np.argsort(scores, kind="stable")
    _, first, counts = np.unique(scores[order], return_index=True, return_counts=True)
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[order] = np.repeat(first + (counts + 1) / 2, counts)  # 1-based, ties share their mean rank
    n_pos, n_neg = len(positives), len(negatives)
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def risk_coverage(confidence: Sequence[float], right: Sequence[bool]) -> tuple[list[float], list[float]]:
    """The risk-coverage curve of answering the top article in order of ``confidence`` (best first):
    for each number of questions answered, the share of all questions (coverage) and the share of
    those answers that are wrong (risk). Equal confidences are answered together."""
    if not confidence:
        return [], []
    order = np.argsort(-np.asarray(confidence, dtype=np.float64), kind="stable")
    scores = np.asarray(confidence, dtype=np.float64)[order]
    wrong = np.cumsum(~np.asarray(right, dtype=np.bool_)[order])
    ends = np.append(np.nonzero(scores[:-1] > scores[1:])[0], len(scores) - 1)  # last of each equal run
    answered = ends + 1
    return (answered / len(scores)).tolist(), (wrong[ends] / answered).tolist()


def aurc(confidence: Sequence[float], right: Sequence[bool]) -> float | None:
    """The area under the risk-coverage curve (lower is better): the mean risk over every coverage,
    counting each question once (a run of equal confidences shares its risk)."""
    coverage, risk = risk_coverage(confidence, right)
    if not coverage:
        return None
    widths = np.diff(np.concatenate([[0.0], coverage]))
    return float(np.dot(widths, risk))


def _ratio(numerator: float, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def report(results: Sequence[QueryResult], summary: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    """``{"metrics", "rows"}`` for JSON: one row per query with its decision, offered labels and confidence."""
    labels = {article_id: label for label, article_id in ids.items()}
    rows = [
        {
            "line": r.query.line,
            "query": r.query.text,
            "label": r.query.label,
            "decision": r.decision.kind,
            "offered": [labels[article_id] for article_id in r.decision.article_ids],
            "confidence": round(r.decision.confidence, 4),
            "correct": r.correct,
            "rank": r.rank,
        }
        for r in results
    ]
    return {"metrics": summary, "rows": rows}
