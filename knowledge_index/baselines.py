"""The rankers the evaluation compares, all over the same articles: the project's production
index (`ProductionRanker`) and two baselines.

- `ProductionRanker`: `KnowledgeIndex.build` over the KB's articles and ``index.search``, as the
  bot runs it. Query vectors are encoded in batches before the per-query searches (same model,
  same vectors up to float rounding); `ProductionRanker.latency` times single queries unbatched.

- `Bm25Ranker`: BM25 (`lexical.Bm25`: rank-bm25's BM25Okapi, lower-cased ``\\w+`` tokens, no stop
  words or stemming) over the example questions; an article scores its best question's BM25 score.
- `KnnRanker`: plain all-MiniLM-L6-v2 nearest neighbour over the example questions only (no
  title or body entries); an article scores its best question's cosine similarity.

Each baseline gets one answer threshold (`decision.calibrate_answer`) and never clarifies.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .decision import Decision, Scored, Thresholds, decide
from .embedder import Embedder
from .evaluation import K, Labeled, kb_articles
from .index import Calibrated, KnowledgeIndex
from .lexical import Bm25

__all__ = ["Bm25Ranker", "CachedEmbedder", "KnnRanker", "ProductionRanker", "Ranked"]

CHUNK = 256  # queries scored at once
BOT_K = 3  # articles the bot searches for (bot/actions/knowledge.py TOP_K)


class CachedEmbedder:
    """Wraps an embedder: remembers every text's vector, encodes misses in one batch.

    With ``live`` set, `encode` bypasses the cache (to time single queries as the bot runs them).
    """

    def __init__(self, base: Embedder) -> None:
        self.base = base
        self.name, self.dimension = base.name, base.dimension
        self.live = False
        self._vectors: dict[str, npt.NDArray[np.float32]] = {}

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if self.live:
            return self.base.encode(texts)
        missing = list(dict.fromkeys(text for text in texts if text not in self._vectors))
        if missing:
            self._vectors.update(zip(missing, self.base.encode(missing), strict=True))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vectors[text] for text in texts])


class ProductionRanker:
    """The product's index over a KB's articles, built in a temporary directory: with a
    ``multilingual`` embedder, queries are routed by language as the bot routes them, and each is
    decided with its route's thresholds (``thresholds`` and ``multilingual_thresholds``, by default
    the shipped ones)."""

    name = "project"

    def __init__(
        self, kb: Sequence[Labeled], ids: dict[str, str], embedder: CachedEmbedder,
        multilingual: CachedEmbedder | None = None, *, thresholds: Calibrated | None = None,
        multilingual_thresholds: Calibrated | None = None, precision_target: float | None = None,
    ) -> None:
        self.embedders = [e for e in (embedder, multilingual) if e is not None]
        with tempfile.TemporaryDirectory(prefix="kb-eval-") as directory:
            self.index = KnowledgeIndex.build(
                kb_articles(kb, ids), embedder, Path(directory) / "index", thresholds,
                multilingual=multilingual, multilingual_thresholds=multilingual_thresholds,
                precision_target=precision_target,
            )

    def thresholds(self, text: str) -> Thresholds:
        """The thresholds the bot decides ``text`` with (its route's)."""
        return self.index.route(text).thresholds

    def rank(self, texts: Sequence[str], k: int = K) -> list[list[Scored]]:
        normalised = [" ".join(text.split()) for text in texts]  # as search normalises
        for embedder in self.embedders:  # batch each route's queries
            embedder.encode([t for t in normalised if self.index.route(t).model == embedder.name])
        return [list(self.index.search(text, k)) for text in texts]

    def latency(self, texts: Sequence[str], k: int = BOT_K) -> tuple[list[float], list[Decision]]:
        """Seconds of routing, ``index.search`` and `decide` for each text, one at a time, unbatched,
        with the bot's k (the decision only reads the top two, which do not depend on k)."""
        seconds, decisions = [], []
        with self._live():
            for text in texts:
                started = time.perf_counter()
                decision = decide(self.index.search(text, k), self.thresholds(text))
                seconds.append(time.perf_counter() - started)
                decisions.append(decision)
        return seconds, decisions

    @contextmanager
    def _live(self) -> Iterator[None]:
        for embedder in self.embedders:
            embedder.live = True
        try:
            yield
        finally:
            for embedder in self.embedders:
                embedder.live = False


@dataclass(frozen=True)
class Ranked:
    article_id: str
    score: float


class _Grouped:
    """Example questions grouped by article, so row scores reduce to article scores.

    Articles are kept in KB order: equal scores rank the article that comes first in the KB first
    (e.g. a BM25 query sharing no word with any question gets the KB's first article).
    """

    def __init__(self, kb: Sequence[Labeled], ids: dict[str, str]) -> None:
        position = {label: i for i, label in reversed(list(enumerate(row.label for row in kb)))}
        order = sorted(range(len(kb)), key=lambda i: (position[kb[i].label], i))
        self.texts = [kb[i].text for i in order]
        article_of_row = [ids[kb[i].label] for i in order]
        self.articles = list(dict.fromkeys(article_of_row))
        self.starts = np.array([article_of_row.index(a) for a in self.articles], dtype=np.int64)

    def top(self, row_scores: npt.NDArray[np.floating[Any]], k: int) -> list[list[Scored]]:
        """The k best articles of each query from a (queries, rows) score matrix."""
        article_scores = np.maximum.reduceat(row_scores, self.starts, axis=1)
        ranked: list[list[Scored]] = []
        for scores in article_scores:
            best = np.argsort(-scores, kind="stable")[:k]
            ranked.append([Ranked(self.articles[j], float(scores[j])) for j in best])
        return ranked


class KnnRanker:
    name = "minilm_knn"

    def __init__(self, kb: Sequence[Labeled], ids: dict[str, str], embedder: Embedder) -> None:
        self._grouped = _Grouped(kb, ids)
        self._embedder = embedder
        self._vectors = embedder.encode(self._grouped.texts)

    def rank(self, texts: Sequence[str], k: int = K) -> list[list[Scored]]:
        ranked: list[list[Scored]] = []
        for start in range(0, len(texts), CHUNK):
            queries = self._embedder.encode([" ".join(t.split()) for t in texts[start : start + CHUNK]])
            ranked += self._grouped.top(queries @ self._vectors.T, k)
        return ranked


class Bm25Ranker:
    """BM25 (`lexical.Bm25`) over the example questions; an article scores its best question."""

    name = "bm25"

    def __init__(self, kb: Sequence[Labeled], ids: dict[str, str]) -> None:
        self._grouped = _Grouped(kb, ids)
        self.bm25 = Bm25(self._grouped.texts)

    def scores(self, text: str) -> npt.NDArray[np.float64]:
        """BM25 score of every example question (in `_Grouped` order) for ``text``."""
        return self.bm25.scores(text)

    def rank(self, texts: Sequence[str], k: int = K) -> list[list[Scored]]:
        ranked: list[list[Scored]] = []
        for start in range(0, len(texts), CHUNK):
            ranked += self._grouped.top(np.array([self.scores(t) for t in texts[start : start + CHUNK]]), k)
        return ranked
