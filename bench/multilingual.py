"""Multilingual retrieval on the development sets: MiniLM, USE-m3, routing and fusion.

The study behind routing by language (docs/evaluation.md, "Multilingual retrieval"), with
nearest-entry scores throughout: the production index's entries (`KnowledgeIndex.build` via
`baselines.ProductionRanker`) are built once per embedder; every article's score for a query (its
best entry, computed here for all articles at once) then gives the rankings of five methods:

- ``minilm``: all-MiniLM-L6-v2 alone, its thresholds calibrated here;
- ``use``: USE-m3 alone, thresholds calibrated the project's way for it;
- ``route``: `query_language` sends English-looking queries to MiniLM, the rest to USE-m3, each
  with its own thresholds;
- ``fuse``: ``w * MiniLM + (1 - w) * USE-m3`` for every query;
- ``route+fuse``: English-looking queries get the fusion, the rest USE-m3 alone.

Thresholds and the fusion weight ``w`` (grid 0.0..1.0, step 0.1) are calibrated on the pooled
`devsets.CALIBRATION` sets only (`decision.calibrate`, overall accuracy), never on a reported set.

    .venv/bin/python bench/multilingual.py [--datasets ../shared/datasets] [--latency-sample 200]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowledge_index import vectors  # noqa: E402
from knowledge_index.baselines import BOT_K, CachedEmbedder, ProductionRanker  # noqa: E402
from knowledge_index.calibration import features  # noqa: E402
from knowledge_index.decision import Scored, Thresholds, calibrate, decide  # noqa: E402
from knowledge_index.devsets import CALIBRATION, DEFAULT_DATASETS, DevSet, load  # noqa: E402
from knowledge_index.embedder import MiniLMEmbedder  # noqa: E402
from knowledge_index.evaluation import K, QueryResult, article_ids, metrics  # noqa: E402
from knowledge_index.index import KnowledgeIndex  # noqa: E402
from knowledge_index.multilingual import FusedHit, USEm3Embedder, fuse_hits, query_language  # noqa: E402

REPORTED = (
    "xsid-en",
    "xsid-de",
    "xsid-ar",
    "deepset-covid-de",
    "clinc150-test",
    "banking77-oos-test",
    "stackfaq",
    "jhu-covidfaq",
)
METHODS = ("minilm", "use", "route", "fuse", "route+fuse")
WEIGHTS = tuple(round(0.1 * i, 1) for i in range(11))
Matrix = npt.NDArray[np.float64]


class Scores:
    """Every article's score for every query of a set, per embedder: (queries, articles) matrices."""

    def __init__(self, dataset: DevSet, caches: dict[str, CachedEmbedder], build_seconds: dict[str, float]) -> None:
        self.dataset = dataset
        self.ids = article_ids([row.label for row in dataset.kb])
        self.texts = [" ".join(row.text.split()) for row in dataset.queries]
        self.row = {text: i for i, text in enumerate(self.texts)}
        self.english = np.array([query_language(text) == "en" for text in self.texts])
        self.indexes: dict[str, KnowledgeIndex] = {}
        self.matrix: dict[str, Matrix] = {}
        for name, cache in caches.items():
            started = time.perf_counter()
            index = ProductionRanker(dataset.kb, self.ids, cache).index
            build_seconds.setdefault(f"{dataset.name}:{name}", time.perf_counter() - started)
            self.indexes[name] = index
            self.matrix[name] = article_matrix(index, cache, self.texts)
        self.articles = [record.id for record in next(iter(self.indexes.values())).articles]

    def ranker(self, scores: Matrix) -> MatrixRanker:
        return MatrixRanker(self, scores)


def article_matrix(index: KnowledgeIndex, cache: CachedEmbedder, texts: Sequence[str]) -> Matrix:
    """Max over each article's entries of the cosine with each query, articles in id order (the
    scores `KnowledgeIndex.search` gives, computed for all articles at once)."""
    entries = index.entries
    order = sorted(range(len(entries)), key=lambda i: (entries[i].article_id, i))
    vectors = cache.encode([entries[i].text for i in order]).astype(np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    owners = [entries[i].article_id for i in order]
    starts = np.array([i for i, owner in enumerate(owners) if i == 0 or owners[i - 1] != owner], dtype=np.int64)
    queries = cache.encode(list(texts)).astype(np.float64)
    out = np.empty((len(texts), len(starts)))
    for start in range(0, len(texts), 512):
        out[start : start + 512] = np.maximum.reduceat(queries[start : start + 512] @ vectors.T, starts, axis=1)
    return np.clip(out, -1.0, 1.0)


@dataclass
class MatrixRanker:
    """A `Ranker` over precomputed article scores; ties go to the smaller article id."""

    scores_of: Scores
    scores: Matrix
    name: str = "matrix"

    def rank(self, texts: Sequence[str], k: int = K) -> list[list[Scored]]:
        ranked: list[list[Scored]] = []
        for text in texts:
            row = self.scores[self.scores_of.row[" ".join(text.split())]]
            best = np.argsort(-row, kind="stable")[:k]
            ranked.append([FusedHit(self.scores_of.articles[j], float(row[j])) for j in best])
        return ranked


@dataclass
class Calibrated:
    minilm: Thresholds
    use: Thresholds
    weight: float
    fused: Thresholds
    summary: dict[str, Any]


def calibrate_all(sets: list[Scores], log: Callable[[str], None]) -> Calibrated:
    def pooled(make: Callable[[Scores], Matrix]) -> tuple[Thresholds, dict[str, Any]]:
        parts = [features(s.dataset, s.ranker(make(s))) for s in sets]
        return calibrate(*(np.concatenate(arrays) for arrays in zip(*parts, strict=True)))

    minilm, _ = pooled(lambda s: s.matrix["minilm"])
    use, use_summary = pooled(lambda s: s.matrix["use"])
    best: tuple[float, float, Thresholds] | None = None
    accuracy = {}
    for weight in WEIGHTS:

        def fused(s: Scores, w: float = weight) -> Matrix:
            return w * s.matrix["minilm"] + (1 - w) * s.matrix["use"]

        thresholds, summary = pooled(fused)
        accuracy[weight] = summary["accuracy"]
        if best is None or summary["accuracy"] > best[1]:
            best = (weight, summary["accuracy"], thresholds)
    assert best is not None
    log(f"fusion weight (MiniLM share) -> calibration accuracy: {accuracy}")
    return Calibrated(minilm, use, best[0], best[2], {"use": use_summary, "fusion_accuracy": accuracy})


def method_scores(s: Scores, method: str, weight: float) -> tuple[Matrix, npt.NDArray[np.bool_]]:
    """The method's score matrix, and per query whether it used the English route (for thresholds)."""
    minilm, use = s.matrix["minilm"], s.matrix["use"]
    fused = weight * minilm + (1 - weight) * use
    english = s.english[:, None]
    table = {
        "minilm": (minilm, np.ones(len(s.texts), dtype=bool)),
        "use": (use, np.zeros(len(s.texts), dtype=bool)),
        "route": (np.where(english, minilm, use), s.english),
        "fuse": (fused, np.ones(len(s.texts), dtype=bool)),
        "route+fuse": (np.where(english, fused, use), s.english),
    }
    return table[method]


def thresholds_for(method: str, english: bool, c: Calibrated) -> Thresholds:
    if method in ("fuse", "route+fuse") and english:
        return c.fused
    return c.minilm if english and method in ("minilm", "route") else c.use


def evaluate_method(s: Scores, method: str, c: Calibrated) -> dict[str, Any]:
    scores, english = method_scores(s, method, c.weight)
    rankings = s.ranker(scores).rank(s.texts, K)
    oos = s.dataset.oos_label
    results = [
        QueryResult(
            row,
            () if row.label == oos else tuple(s.ids[x] for x in (row.label, *row.also)),
            tuple(hit.article_id for hit in hits),
            decide(hits, thresholds_for(method, bool(en), c)),
        )
        for row, hits, en in zip(s.dataset.queries, rankings, english, strict=True)
    ]
    figures = metrics(results)
    figures["routed_to_use"] = round(float(1 - english.mean()), 4) if method in ("route", "route+fuse") else None
    return figures


def latency(s: Scores, caches: dict[str, CachedEmbedder], c: Calibrated, sample: int) -> dict[str, float]:
    """p50 ms of one query, unbatched, as the bot would run each method (search k=3 + decide)."""
    chosen = random.Random(0).sample(s.texts, min(sample, len(s.texts)))
    n = len(s.articles)
    runs: dict[str, Callable[[str], object]] = {
        "minilm": lambda q: decide(s.indexes["minilm"].search(q, BOT_K), c.minilm),
        "use": lambda q: decide(s.indexes["use"].search(q, BOT_K), c.use),
        "route": lambda q: (
            decide(s.indexes["minilm"].search(q, BOT_K), c.minilm)
            if query_language(q) == "en"
            else decide(s.indexes["use"].search(q, BOT_K), c.use)
        ),
        # fusion needs (nearly) every article's score from both indexes
        "fuse": lambda q: decide(
            fuse_hits(s.indexes["minilm"].search(q, n), s.indexes["use"].search(q, n), c.weight, BOT_K), c.fused
        ),
    }
    runs["route+fuse"] = lambda q: runs["fuse"](q) if query_language(q) == "en" else runs["use"](q)
    for cache in caches.values():
        cache.live = True
    try:
        out = {}
        for method, run in runs.items():
            seconds = []
            for query in chosen:
                started = time.perf_counter()
                run(query)
                seconds.append(time.perf_counter() - started)
            out[method] = round(float(np.percentile(seconds, 50)) * 1000, 2)
        return out
    finally:
        for cache in caches.values():
            cache.live = False


ROWS = (  # (set, metric key, shown, target)
    ("xsid-en", "accuracy_at_1", "accuracy@1", ">= 0.91"),
    ("xsid-de", "accuracy_at_1", "accuracy@1", ">= 0.90"),
    ("xsid-ar", "accuracy_at_1", "accuracy@1", ">= 0.85"),
    ("deepset-covid-de", "accuracy_at_1", "Hit@1", ">= 0.55"),
    ("clinc150-test", "overall_accuracy", "overall accuracy", ">= 0.90"),
    ("clinc150-test", "oos_recall", "OOS recall", ">= 0.85"),
    ("clinc150-test", "auroc", "AUROC", "-"),
    ("banking77-oos-test", "overall_accuracy", "overall accuracy", ">= 0.78"),
    ("stackfaq", "accuracy_at_1", "Hit@1", ">= 0.97"),
    ("jhu-covidfaq", "accuracy_at_1", "Hit@1", ">= 0.78"),
    ("xsid-de", "answered_right_rate", "answered right", "-"),
    ("xsid-ar", "answered_right_rate", "answered right", "-"),
    ("deepset-covid-de", "answered_right_rate", "answered right", "-"),
    ("xsid-en", "routed_to_use", "routed to USE-m3", "-"),
    ("xsid-de", "routed_to_use", "routed to USE-m3", "-"),
    ("xsid-ar", "routed_to_use", "routed to USE-m3", "-"),
    ("deepset-covid-de", "routed_to_use", "routed to USE-m3", "-"),
    ("clinc150-test", "routed_to_use", "routed to USE-m3", "-"),
)


def cell(value: object) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def main() -> int:
    vectors.one_search_thread()  # as the app sets it at start-up
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=str(ROOT / DEFAULT_DATASETS), metavar="DIR")
    parser.add_argument("--latency-sample", type=int, default=200, metavar="N")
    args = parser.parse_args()

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    started = time.perf_counter()
    minilm, use = MiniLMEmbedder(), USEm3Embedder()
    load_seconds = {}
    for name, embedder in (("minilm", minilm), ("use", use)):
        t = time.perf_counter()
        embedder.load()
        load_seconds[name] = time.perf_counter() - t
    caches = {"minilm": CachedEmbedder(minilm), "use": CachedEmbedder(use)}
    build: dict[str, float] = {}

    calibration_sets = []
    for name in CALIBRATION:
        calibration_sets.append(Scores(load(name, args.datasets), caches, build))
        log(f"scored calibration set {name}")
    calibrated = calibrate_all(calibration_sets, log)

    results: dict[str, dict[str, dict[str, Any]]] = {}
    speeds: dict[str, float] = {}
    for name in REPORTED:
        scores = Scores(load(name, args.datasets), caches, build)
        results[name] = {method: evaluate_method(scores, method, calibrated) for method in METHODS}
        if name == "clinc150-test" and args.latency_sample > 0:
            speeds = latency(scores, caches, calibrated, args.latency_sample)
        log(f"evaluated {name}")

    lines = [
        "| set | metric | MiniLM | USE-m3 | route | fuse | route+fuse | target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, key, shown, target in ROWS:
        lines.append(
            f"| {name} | {shown} | " + " | ".join(cell(results[name][m].get(key)) for m in METHODS) + f" | {target} |"
        )
    if speeds:
        lines.append(
            "| clinc150-test | latency p50 ms (k=3, unbatched) | "
            + " | ".join(cell(speeds[m]) for m in METHODS)
            + " | - |"
        )
    print("\n".join(lines))
    print()
    print(
        f"- thresholds: MiniLM {calibrated.minilm.to_json()}; USE-m3 {calibrated.use.to_json()}; "
        f"fusion weight (MiniLM share) {calibrated.weight}, fused {calibrated.fused.to_json()}"
    )
    print(f"- calibration accuracy by fusion weight: {calibrated.summary['fusion_accuracy']}")
    print("- model load s: " + ", ".join(f"{k} {v:.2f}" for k, v in load_seconds.items()))
    for key in ("clinc150-val:minilm", "clinc150-val:use"):
        print(f"- index build {key.split(':')[1]}, CLINC150 KB (15,150 entries, cold): {build[key]:.1f} s")
    print(f"- {time.perf_counter() - started:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
