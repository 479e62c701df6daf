"""The development suite (``kb eval --suite dev``; docs/evaluation.md, "Development sets"): the
baselines, the bot's decision before the confidence model and the project, calibrated in one run and
evaluated on every reported set, as a Markdown table with the issue's targets.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .baselines import Bm25Ranker, CachedEmbedder, KnnRanker, ProductionRanker
from .calibration import Calibrated, RankerFactory, calibrate_project, calibration_features
from .decision import DEFAULT_PRECISION_TARGET, Calibration, Thresholds, calibrate_precision
from .devsets import REPORTED, load
from .embedder import Embedder
from .evaluation import article_ids, evaluate, risk_coverage

__all__ = ["CURVE_POINTS", "METHODS", "TARGETS", "SuiteResult", "run_suite", "table"]

# (set, metric key, metric as shown, target): the targets table, in its order.
_P, _R = "answer_precision", "answered_right_rate"
TARGETS = (
    ("clinc150-test", _P, "answer precision", ">= 0.97"),
    ("clinc150-test", _R, "answered right", ">= 0.85"),
    ("clinc150-test", "overall_accuracy", "overall accuracy", ">= 0.904"),
    ("clinc150-test", "auroc", "AUROC in scope vs OOS", ">= 0.95"),
    ("clinc150-test", "auroc_right", "AUROC right vs wrong", "> kNN"),
    ("clinc150-test", "aurc", "AURC (lower is better)", "-"),
    ("clinc150-test", "clarification_rate", "clarification rate", ""),
    ("banking77-oos-test", _P, "answer precision", ">= 0.90"),
    ("banking77-oos-test", _R, "answered right", ">= 0.70"),
    ("banking77-oos-test", "overall_accuracy", "overall accuracy", ">= 0.790"),
    ("banking77-oos-test", "auroc", "AUROC in scope vs OOS", ">= 0.95"),
    ("banking77-oos-test", "auroc_right", "AUROC right vs wrong", "> kNN"),
    ("banking77-oos-test", "aurc", "AURC (lower is better)", "-"),
    ("clinc-banking-test", _P, "answer precision (held out)", ">= 0.92"),
    ("clinc-banking-test", _R, "answered right (held out)", ">= 0.85"),
    ("clinc-banking-test", "auroc_right", "AUROC right vs wrong (held out)", "> kNN"),
    ("clinc-credit-cards-test", _P, "answer precision (held out)", ">= 0.92"),
    ("clinc-credit-cards-test", _R, "answered right (held out)", ">= 0.85"),
    ("clinc-credit-cards-test", "auroc_right", "AUROC right vs wrong (held out)", "> kNN"),
    ("stackfaq", _P, "answer precision", ">= 0.98"),
    ("stackfaq", _R, "answered right", ">= 0.92"),
    ("stackfaq", "accuracy_at_1", "Hit@1", ""),
    ("stackfaq", "auroc_right", "AUROC right vs wrong", "> kNN"),
    ("jhu-covidfaq", _P, "answer precision", ">= 0.85"),
    ("jhu-covidfaq", _R, "answered right", ">= 0.50"),
    ("jhu-covidfaq", "accuracy_at_1", "Hit@1", ""),
    ("jhu-covidfaq", "auroc_right", "AUROC right vs wrong", "> kNN"),
    ("xsid-en", _P, "answer precision", ""),
    ("xsid-en", _R, "answered right", ""),
    ("xsid-de", _P, "answer precision", ">= 0.95"),
    ("xsid-de", _R, "answered right", ">= 0.75"),
    ("xsid-de", "auroc_right", "AUROC right vs wrong", "> kNN"),
    ("xsid-ar", _P, "answer precision", ">= 0.95"),
    ("xsid-ar", _R, "answered right", ">= 0.75"),
    ("xsid-ar", "auroc_right", "AUROC right vs wrong", "> kNN"),
    ("deepset-covid-de", _P, "answer precision", ">= 0.70"),
    ("deepset-covid-de", _R, "answered right", ">= 0.30"),
    ("deepset-covid-de", "auroc_right", "AUROC right vs wrong", "> kNN"),
    ("clinc150-test", "latency_ms_p50", "latency p50 ms", ""),
    ("clinc150-test", "latency_ms_p99", "latency p99 ms", ""),
)
METHODS = ("bm25", "minilm_knn", "similarity", "project")


@dataclass
class SuiteResult:
    thresholds: dict[str, Thresholds]  # per method; the project's ("project", "project_multilingual") shipped
    recalibrated: Calibrated  # what `calibrate_project` gives in this run
    metrics: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # set -> method -> metrics
    # set -> method -> (coverage, risk): the risk-coverage curve, at most CURVE_POINTS points
    curves: dict[str, dict[str, tuple[list[float], list[float]]]] = field(default_factory=dict)
    seconds: float = 0.0


CURVE_POINTS = 100


def run_suite(
    root: str | Path, english: Embedder, multilingual: Embedder, shipped: tuple[Calibration, Calibration], *,
    latency_sample: int = 200, log: Callable[[str], None] = print, target: float = DEFAULT_PRECISION_TARGET,
) -> SuiteResult:
    """Calibrate the baselines at answer precision ``target`` and the project's previous method (the
    similarity, thresholds for overall accuracy), recalibrate the project (to check the ``shipped``
    English and multilingual calibrations), then evaluate the four methods on every `REPORTED` set."""
    started = time.perf_counter()
    cache, other = CachedEmbedder(english), CachedEmbedder(multilingual)
    factories: dict[str, RankerFactory] = {
        "bm25": Bm25Ranker,
        "minilm_knn": lambda kb, ids: KnnRanker(kb, ids, cache),
    }
    thresholds = {}
    for method, factory in factories.items():
        top, _, top_right, _, oos = calibration_features(root, factory, log)
        none = np.full(len(top), -np.inf)
        point = calibrate_precision(top, none, top_right, top_right.copy(), oos, targets=(target,))[0]
        thresholds[method] = point.thresholds
        log(f"calibrated {method}")
    previous = calibrate_project(root, cache, other, log, objective="accuracy")  # the caches: embed once
    recalibrated = calibrate_project(root, cache, other, log)
    factories["similarity"] = lambda kb, ids: ProductionRanker(kb, ids, cache, other, thresholds=previous.english,
                                                               multilingual_thresholds=previous.multilingual)
    factories["project"] = lambda kb, ids: ProductionRanker(kb, ids, cache, other, thresholds=shipped[0],
                                                            multilingual_thresholds=shipped[1],
                                                            precision_target=target)
    result = SuiteResult({**thresholds, "similarity": previous.english.thresholds,
                          "similarity_multilingual": previous.multilingual.thresholds,
                          "project": shipped[0].at(target), "project_multilingual": shipped[1].at(target)},
                         recalibrated)
    for name in REPORTED:
        dataset = load(name, root)
        ids = article_ids([row.label for row in dataset.kb])
        for method, factory in factories.items():
            sample = latency_sample if method == "project" else 0
            rows, figures = evaluate(dataset.kb, dataset.queries, dataset.oos_label, factory(dataset.kb, ids),
                                     result.thresholds.get(method), latency_sample=sample)
            result.metrics.setdefault(name, {})[method] = figures
            coverage, risk = risk_coverage([r.decision.confidence for r in rows], [r.rank == 1 for r in rows])
            step = max(1, len(coverage) // CURVE_POINTS)
            keep = sorted({*range(0, len(coverage), step), len(coverage) - 1}) if coverage else []
            result.curves.setdefault(name, {})[method] = ([round(coverage[i], 4) for i in keep],
                                                          [round(risk[i], 4) for i in keep])
        log(f"evaluated {name}: {len(dataset.queries)} queries")
    result.seconds = time.perf_counter() - started
    return result


def table(result: SuiteResult) -> str:
    """The suite as a Markdown table: set, metric, the four methods, target."""
    lines = ["| set | metric | BM25 | MiniLM kNN | similarity (before) | project | target |",
             "|---|---|---|---|---|---|---|"]
    for name, key, shown, target in TARGETS:
        cells = [_cell(result.metrics[name][method].get(key)) for method in METHODS]
        lines.append(f"| {name} | {shown} | {' | '.join(cells)} | {target or '-'} |")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) and value <= 1 else f"{value}"
