"""Semantic search over knowledge articles with a FAISS inner-product index.

Every article is indexed under several texts (its example questions, its title and the first
paragraph of its body); a query's score for an article is the best cosine similarity between the
query and any of the article's texts.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

from .articles import ArticleFields, fingerprint, load_articles
from .decision import Thresholds, load_thresholds
from .embedder import Embedder
from .entries import Entry, entries_for
from .storage import (
    FORMAT,
    ArticleRecord,
    IndexMismatch,
    Manifest,
    StoredIndex,
    read_index,
    read_manifest,
    write_index,
)

__all__ = ["ArticleRecord", "Hit", "IndexMismatch", "KnowledgeIndex", "Manifest", "ensure_index"]

log = logging.getLogger(__name__)

# Rows fetched per wanted article before the rows are grouped by article.
ROWS_PER_RESULT = 8


@dataclass(frozen=True)
class Hit:
    article_id: str
    title: str
    url: str | None
    score: float  # cosine similarity between the query and `matched`
    matched: str  # the indexed text (question, title or first paragraph) that scored best


class KnowledgeIndex:
    """A loaded index. Immutable; `search` may be called from several threads at once."""

    def __init__(self, directory: str | Path, embedder: Embedder, stored: StoredIndex) -> None:
        # One query at a time: FAISS's OpenMP threads only fight torch's for the two cores
        # (a 15k-entry search went from ~27 ms to ~12 ms with one FAISS thread; docs/evaluation.md).
        faiss.omp_set_num_threads(1)
        """Use `build`, `load` or `ensure_index` rather than calling this directly."""
        self._directory = Path(directory)
        self._embedder = embedder
        self._manifest = stored.manifest
        self._articles = stored.articles
        self._by_id = {record.id: record for record in stored.articles}
        self._entries = stored.entries
        self._vectors = stored.vectors
        self._version = stored.version

    @classmethod
    def build(
        cls, articles: Sequence[ArticleFields], embedder: Embedder, directory: str | Path,
        thresholds: Thresholds | None = None,
    ) -> KnowledgeIndex:
        """Embed ``articles`` and publish them, with the decision ``thresholds`` (default: the shipped
        calibration), as the new live version of the index in ``directory``."""
        records = tuple(sorted((ArticleRecord.from_article(article) for article in articles), key=lambda r: r.id))
        duplicates = sorted(article_id for article_id, count in Counter(r.id for r in records).items() if count > 1)
        if duplicates:
            raise ValueError(f"duplicate article ids: {', '.join(duplicates)}")
        entries = tuple(entry for record in records for entry in entries_for(record))

        vectors = faiss.IndexFlatIP(embedder.dimension)
        if entries:
            matrix = _unit_rows(embedder.encode([entry.text for entry in entries]), embedder.dimension)
            if matrix.shape[0] != len(entries):
                raise ValueError(f"embedder returned {matrix.shape[0]} vectors for {len(entries)} texts")
            vectors.add(matrix)
        manifest = Manifest(
            format=FORMAT,
            model=embedder.name,
            dimension=embedder.dimension,
            fingerprint=fingerprint(records),
            entries=len(entries),
            articles=len(records),
            built_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            thresholds=(thresholds or load_thresholds()).to_json(),
        )
        version = write_index(directory, manifest=manifest, articles=records, entries=entries, vectors=vectors)
        log.info("built knowledge index %s/%s: %d articles, %d entries", directory, version, len(records), len(entries))
        stored = StoredIndex(manifest=manifest, articles=records, entries=entries, vectors=vectors, version=version)
        return cls(directory, embedder, stored)

    @classmethod
    def load(cls, directory: str | Path, embedder: Embedder) -> KnowledgeIndex:
        """Open the live version of the index in ``directory``.

        Raises `IndexMismatch` when it is missing, incomplete or corrupt, or was built with
        another model or dimension than ``embedder``'s.
        """
        stored = read_index(directory, model=embedder.name, dimension=embedder.dimension)
        return cls(directory, embedder, stored)

    @property
    def directory(self) -> Path:
        return self._directory

    @property
    def version(self) -> str:
        """The name of the loaded version folder, e.g. ``v-20250101T120000.000000Z-1a2b3c4d``."""
        return self._version

    @property
    def manifest(self) -> Manifest:
        return self._manifest

    @property
    def articles(self) -> tuple[ArticleRecord, ...]:
        """All indexed articles, sorted by id."""
        return self._articles

    @property
    def entries(self) -> tuple[Entry, ...]:
        """The indexed texts; entry ``i`` is row ``i`` of the vector index."""
        return self._entries

    @property
    def thresholds(self) -> Thresholds:
        """The decision thresholds this index was published with (the shipped ones for older indexes)."""
        return Thresholds.from_json(self._manifest.thresholds) if self._manifest.thresholds else load_thresholds()

    def article(self, article_id: str) -> ArticleRecord | None:
        return self._by_id.get(article_id)

    def search(self, query: str, k: int = 3) -> list[Hit]:
        """The ``k`` articles most similar to ``query``, best first ([] for a blank query)."""
        if k < 1:
            raise ValueError("k must be at least 1")
        text = " ".join(query.split())
        total = self._vectors.ntotal
        if not text or total == 0:
            return []
        vector = _unit_rows(self._embedder.encode([text]), self._manifest.dimension)

        rows = min(total, k * ROWS_PER_RESULT)
        while True:
            scores, ids = self._vectors.search(vector, rows)
            best: dict[str, tuple[float, int]] = {}
            for score, row in zip(scores[0].tolist(), ids[0].tolist(), strict=True):
                if row < 0:
                    continue
                article_id = self._entries[row].article_id
                if article_id not in best or score > best[article_id][0]:
                    best[article_id] = (score, row)
            if len(best) >= k or rows >= total:
                break
            rows = min(total, rows * 4)  # rows crowded by few articles: look further

        ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))[:k]
        hits: list[Hit] = []
        for article_id, (score, row) in ranked:
            record = self._by_id[article_id]
            hits.append(
                Hit(
                    article_id=article_id,
                    title=record.title,
                    url=record.url,
                    score=min(1.0, max(-1.0, float(score))),
                    matched=self._entries[row].text,
                )
            )
        return hits


def ensure_index(
    articles_dir: str | Path, directory: str | Path, embedder: Embedder, *, force: bool = False,
    thresholds: Thresholds | None = None,
) -> tuple[KnowledgeIndex, bool]:
    """Load the index in ``directory``, rebuilding it from ``articles_dir`` when needed.

    It is rebuilt when there is none, when the articles' fingerprint or the decision thresholds
    (default: the shipped calibration) differ from the manifest's, when it was built with another
    model, when it cannot be read, or when ``force``.
    Returns the index and whether it was rebuilt. Raises `ArticleError` for invalid articles.
    """
    articles = load_articles(articles_dir)
    thresholds = thresholds or load_thresholds()
    if not force:
        manifest = read_manifest(directory)
        if (
            manifest is not None
            and manifest.fingerprint == fingerprint(articles)
            and manifest.model == embedder.name
            and manifest.dimension == embedder.dimension
            and manifest.thresholds == thresholds.to_json()
        ):
            try:
                return KnowledgeIndex.load(directory, embedder), False
            except IndexMismatch as error:
                log.warning("rebuilding knowledge index: %s", error)
    return KnowledgeIndex.build(articles, embedder, directory, thresholds), True


def _unit_rows(vectors: npt.ArrayLike, dimension: int) -> npt.NDArray[np.float32]:
    """``vectors`` as a C-contiguous float32 matrix with unit-length rows."""
    matrix = np.array(vectors, dtype=np.float32, order="C", copy=True)
    if matrix.ndim != 2 or matrix.shape[1] != dimension:
        raise ValueError(f"embedder returned shape {matrix.shape}, expected (n, {dimension})")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.divide(matrix, norms, out=matrix, where=norms > 0)
    return matrix
