"""The project's calibration on the development sets (``kb calibrate``; docs/evaluation.md, "Calibration").

`calibrate_project` fits the confidence model and the thresholds of every answer precision target
(or, with the accuracy objective, the thresholds on the similarity as before) for the English and
the multilingual space, on the calibration sets only (`devsets.CALIBRATION`, `FAQ_CALIBRATION`,
`MULTILINGUAL_CALIBRATION`), never on a reported one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from .baselines import CachedEmbedder, ProductionRanker
from .confidence import FEATURES
from .confidence import fit as fit_confidence
from .decision import DEFAULT_PRECISION_TARGET, Calibration, Thresholds, calibrate, calibrate_precision
from .devsets import CALIBRATION, FAQ_CALIBRATION, MULTILINGUAL_CALIBRATION, SMALL_KBS, DevSet, load, small_kbs
from .embedder import Embedder
from .evaluation import Labeled, Ranker, article_ids
from .multilingual import query_language

__all__ = ["Calibrated", "Features", "RankerFactory", "calibrate_project", "calibration_features", "candidates"]
__all__ += ["features"]

RankerFactory = Callable[[Sequence[Labeled], dict[str, str]], Ranker]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Features = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_],
                 npt.NDArray[np.bool_]]


def features(dataset: DevSet, ranker: Ranker) -> Features:
    """Per query: top score, second score (-inf if none), top right, right among the top two, OOS."""
    ids = article_ids([row.label for row in dataset.kb])
    rankings = ranker.rank([row.text for row in dataset.queries])
    gold = [set() if q.label == dataset.oos_label else {ids[x] for x in (q.label, *q.also)} for q in dataset.queries]
    return (
        np.array([hits[0].score if hits else 0.0 for hits in rankings], dtype=np.float64),
        np.array([hits[1].score if len(hits) > 1 else -np.inf for hits in rankings], dtype=np.float64),
        np.array([bool(hits) and hits[0].article_id in g for hits, g in zip(rankings, gold, strict=True)]),
        np.array([any(h.article_id in g for h in hits[:2]) for hits, g in zip(rankings, gold, strict=True)]),
        np.array([not g for g in gold]),
    )


def calibration_features(
    root: str | Path, factory: RankerFactory, log: Callable[[str], None] = print,
    sets: Sequence[str] = tuple(CALIBRATION), english: bool | None = None,
) -> Features:
    """`features` of the calibration ``sets``, pooled; with ``english`` set, only of the queries
    routed to the English model (True) or to the multilingual one (False)."""
    parts = []
    for name in sets:
        dataset = load(name, root)
        log(f"calibration set {name}: {len(dataset.queries)} queries")
        arrays = features(dataset, factory(dataset.kb, article_ids([row.label for row in dataset.kb])))
        if english is not None:
            keep = np.array([(query_language(row.text) == "en") == english for row in dataset.queries])
            arrays = tuple(array[keep] for array in arrays)
        parts.append(arrays)
    top, second, top_right, in_two, oos = (np.concatenate(arrays) for arrays in zip(*parts, strict=True))
    return top, second, top_right, in_two, oos


@dataclass(frozen=True)
class Calibrated:
    """The project's calibration per route, with summaries."""

    english: Calibration
    multilingual: Calibration
    english_summary: dict[str, Any]
    multilingual_summary: dict[str, Any]


Objective = Literal["precision", "accuracy"]


def candidates(
    dataset: DevSet, ranker: ProductionRanker, english: bool, *, every_query: bool = False
) -> tuple[FloatArray, BoolArray, BoolArray]:
    """For the queries routed to the English model (``english``) or to the multilingual one (with
    ``every_query``: all queries, in the multilingual model's space): the `confidence.FEATURES` of
    their two best topics (queries x 2 x features; nan for a missing second topic), whether each is
    right, and whether the query is OOS."""
    ids = article_ids([row.label for row in dataset.kb])
    if every_query:
        queries = list(dataset.queries)
        ranker.embedders[-1].encode([" ".join(q.text.split()) for q in queries])  # in batches
    else:
        queries = [q for q in dataset.queries if (query_language(" ".join(q.text.split())) == "en") == english]
        ranker.rank([q.text for q in queries], 1)  # encodes the queries in batches
    rows, right = [], []
    for query in queries:
        gold = set() if query.label == dataset.oos_label else {ids[x] for x in (query.label, *query.also)}
        found = ranker.index.features(query.text, 2, language="other" if every_query else None)
        rows.append([found[0][1], found[1][1] if len(found) > 1 else np.full(len(FEATURES), np.nan)])
        right.append([found[0][0] in gold, len(found) > 1 and found[1][0] in gold])
    oos = np.array([q.label == dataset.oos_label for q in queries], dtype=np.bool_)
    shape = (0, 2, len(FEATURES))
    return (np.array(rows, np.float64).reshape(-1, 2, len(FEATURES)) if rows else np.zeros(shape),
            np.array(right, np.bool_).reshape(-1, 2), oos)


def calibrate_project(
    root: str | Path, english: Embedder, multilingual: Embedder, log: Callable[[str], None] = print, *,
    objective: Objective = "precision",
) -> Calibrated:
    """The project's calibration, never on a test split. With the ``precision`` objective, a
    confidence model and thresholds for every precision target (`decision.calibrate_precision`):
    for English questions on the `CALIBRATION` and `FAQ_CALIBRATION` sets, for all others on the
    `MULTILINGUAL_CALIBRATION` sets and on those English sets in the multilingual model's space;
    each set with `small_kbs` drawn from it. With ``accuracy``, thresholds on the similarity that
    maximise overall accuracy (`decision.calibrate`, the objective before) on the pooled
    `CALIBRATION` sets for English and the `MULTILINGUAL_CALIBRATION` sets for the rest."""
    caches = CachedEmbedder(english), CachedEmbedder(multilingual)
    found = {}
    for route, sets, model in ((True, CALIBRATION, english), (False, MULTILINGUAL_CALIBRATION, multilingual)):
        if objective == "accuracy":
            factory: RankerFactory = lambda kb, ids: ProductionRanker(  # noqa: E731
                kb, ids, *caches, thresholds=Thresholds(), multilingual_thresholds=Thresholds())
            thresholds, summary = calibrate(*calibration_features(root, factory, log, tuple(sets), english=route))
            found[route] = Calibration(thresholds), {"sets": list(sets), "model": model.name, "objective": objective,
                                                     **summary}
            continue
        # The multilingual model also learns from the English sets in its own space (monolingual,
        # like a German question against German articles).
        english_sets = (*CALIBRATION, *FAQ_CALIBRATION)
        jobs = [(name, False) for name in english_sets] if route else [
            *((name, False) for name in sets), *((name, True) for name in english_sets)]
        parts = []
        for name, every_query in jobs:
            full = load(name, root)
            for dataset in (full, *small_kbs(full)):
                ids = article_ids([row.label for row in dataset.kb])
                ranker = ProductionRanker(dataset.kb, ids, *caches, thresholds=Thresholds(),
                                          multilingual_thresholds=Thresholds())
                parts.append(candidates(dataset, ranker, route, every_query=every_query))
            log(f"calibration set {name}{' (multilingual space)' if every_query else ''} and {SMALL_KBS} small "
                f"knowledge bases drawn from it: {sum(len(p[2]) for p in parts)} queries so far")
        features = np.concatenate([p[0] for p in parts])
        right = np.concatenate([p[1] for p in parts])
        oos = np.concatenate([p[2] for p in parts])
        flat, flat_right = features.reshape(-1, len(FEATURES)), right.reshape(-1)
        present = ~np.isnan(flat).any(axis=1)
        confidence = fit_confidence(flat[present], flat_right[present])
        scores = np.full(len(flat), -np.inf)
        scores[present] = confidence.probabilities(flat[present])
        top, second = scores.reshape(-1, 2).T
        points = calibrate_precision(top, second, right[:, 0], right[:, 0] | right[:, 1], oos)
        default = next(p for p in points if abs(p.target - DEFAULT_PRECISION_TARGET) < 1e-9)
        summary = {"sets": [f"{name} (multilingual space)" if every else name for name, every in jobs],
                   "model": model.name, "objective": objective, "queries": len(oos),
                   "precision_target": DEFAULT_PRECISION_TARGET, "precision": default.precision,
                   "answered_right": default.answered_right}
        found[route] = Calibration(default.thresholds, confidence, points), summary
    return Calibrated(found[True][0], found[False][0], found[True][1], found[False][1])
