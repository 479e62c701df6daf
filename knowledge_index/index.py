"""Semantic search over knowledge articles with a FAISS inner-product index.

Every article is indexed under several texts (its example questions, its title, the first
paragraph of its body and, when it is long, its sections: `entries`). A query scores a topic by
its cosine similarity to the topic's prototype (learnt from the topic's texts at build time:
`prototypes`) or to the topic's nearest text, as `SCORING` says for the query's space.

An index may have a second, multilingual space: the same texts embedded by a multilingual model.
Each query is routed by its language (`multilingual.query_language`): English to the primary
(English) model, any other language to the multilingual one, each space with the decision
thresholds calibrated for its scores. An article and its translations are one topic: a search
returns each topic once, as the article in the query's language when there is one.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Literal

import faiss
import numpy as np
import numpy.typing as npt

from .articles import ArticleFields, fingerprint, load_articles
from .decision import MULTILINGUAL_THRESHOLDS_FILE, Thresholds, load_thresholds
from .embedder import Embedder
from .entries import Entry, entries_for
from .multilingual import USEm3Embedder, query_language
from .onnx_embedder import DEFAULT_MODEL_CACHE, OnnxMiniLMEmbedder
from .prototypes import fit_prototypes
from .storage import (
    FORMAT,
    ArticleRecord,
    IndexMismatch,
    Manifest,
    StoredIndex,
    read_index,
    read_manifest,
    topics,
    write_index,
)
from .vectors import Progress, embed, search, unit_rows, vector_index

__all__ = ["ArticleRecord", "Hit", "IndexMismatch", "KnowledgeIndex", "Manifest", "Route", "ensure_index"]
__all__ += ["production_embedders"]

log = logging.getLogger(__name__)

Scoring = Literal["prototype", "nearest"]
# How each space scores a topic: by its prototype (prototypes.py), or by its nearest entry. Measured
# on the development sets (docs/evaluation.md, "Scoring"): prototypes win clearly in the English
# space; for questions in other languages against mostly English articles the nearest entry is better.
SCORING: dict[str, Scoring] = {"english": "prototype", "multilingual": "nearest"}
# Rows fetched per wanted topic, by nearest-entry scoring, before the rows are grouped by topic.
ROWS_PER_RESULT = 8


@dataclass(frozen=True)
class Hit:
    article_id: str
    title: str
    url: str | None
    score: float  # cosine similarity of the query to the topic's prototype, or to `matched` (SCORING)
    matched: str  # the topic's indexed text (question, title, paragraph, section) closest to the query


@dataclass(frozen=True)
class Route:
    """Where a query goes: its language, the model that embeds it and the thresholds for its scores."""

    language: str  # "en", "de", "ar" or "other" (multilingual.query_language)
    model: str
    thresholds: Thresholds


@dataclass(frozen=True)
class _Space:
    embedder: Embedder
    vectors: faiss.Index  # one row per entry
    prototypes: faiss.Index  # one row per topic
    thresholds: Thresholds
    scoring: Scoring
    entries: tuple[Entry, ...]  # row i of `vectors` is entry i

    @cached_property
    def matrix(self) -> npt.NDArray[np.float32]:
        """The entry vectors, to tell which of a topic's texts matched a question best."""
        return self.vectors.reconstruct_n(0, self.vectors.ntotal)  # type: ignore[no-any-return]


class KnowledgeIndex:
    """A loaded index. Immutable; `search` may be called from several threads at once."""

    def __init__(
        self, directory: str | Path, embedder: Embedder, stored: StoredIndex, multilingual: Embedder | None = None
    ) -> None:
        """Use `build`, `load` or `ensure_index` rather than calling this directly."""
        # One query at a time: FAISS's OpenMP threads only fight torch's for the two cores
        # (a 15k-entry search went from ~27 ms to ~12 ms with one FAISS thread; docs/evaluation.md).
        faiss.omp_set_num_threads(1)
        self._directory = Path(directory)
        self._stored = stored
        self.embedded: tuple[int, ...] = ()  # texts embedded (not reused) per space, when composed
        self._manifest = stored.manifest
        self._articles = stored.articles
        self._by_id = {record.id: record for record in stored.articles}
        self._variants: dict[tuple[str, str], ArticleRecord] = {
            (record.topic, _language(record.locale)): record for record in stored.articles if record.translation_of
        }
        self._entries = stored.entries
        self._version = stored.version
        self._topics = stored.topics
        rows: dict[str, list[int]] = {}
        for row, entry in enumerate(stored.entries):
            rows.setdefault(self._by_id[entry.article_id].topic, []).append(row)
        self._topic_rows = {topic: np.array(found) for topic, found in rows.items()}
        self._english = _Space(embedder, stored.vectors, stored.prototypes, self.thresholds, SCORING["english"],
                               stored.entries)
        self._multilingual: _Space | None = None
        other, other_prototypes = stored.multilingual, stored.multilingual_prototypes
        if multilingual is not None and other is not None and other_prototypes is not None:
            thresholds = Thresholds.from_json(stored.manifest.multilingual["thresholds"])
            self._multilingual = _Space(multilingual, other, other_prototypes, thresholds, SCORING["multilingual"],
                                       stored.entries)

    @classmethod
    def build(
        cls, articles: Sequence[ArticleFields], embedder: Embedder, directory: str | Path,
        thresholds: Thresholds | None = None, *, multilingual: Embedder | None = None,
        multilingual_thresholds: Thresholds | None = None, progress: Progress | None = None,
    ) -> KnowledgeIndex:
        """Embed ``articles`` and publish them, with the decision ``thresholds`` (default: the shipped
        calibration), as the new live version of the index in ``directory``; with a ``multilingual``
        embedder, also in its space, with ``multilingual_thresholds`` (default: its shipped calibration).
        ``progress`` is told how many of the texts to embed (in all spaces) are done."""
        composed = cls.compose(articles, embedder, thresholds, multilingual=multilingual,
                               multilingual_thresholds=multilingual_thresholds, progress=progress)
        return composed.write(directory)

    @classmethod
    def compose(
        cls, articles: Sequence[ArticleFields], embedder: Embedder, thresholds: Thresholds | None = None, *,
        multilingual: Embedder | None = None, multilingual_thresholds: Thresholds | None = None,
        progress: Progress | None = None, reuse: KnowledgeIndex | None = None,
    ) -> KnowledgeIndex:
        """An index of ``articles`` in memory, not yet published (`write` publishes it; its `version`
        is "" until then). Texts that ``reuse`` (an index of the same models) already holds keep their
        vectors: only new or changed texts are embedded (`embedded` says how many, per space)."""
        records = tuple(sorted((ArticleRecord.from_article(article) for article in articles), key=lambda r: r.id))
        duplicates = sorted(article_id for article_id, count in Counter(r.id for r in records).items() if count > 1)
        if duplicates:
            raise ValueError(f"duplicate article ids: {', '.join(duplicates)}")
        entries = tuple(entry for record in records for entry in entries_for(record))
        texts = [entry.text for entry in entries]
        names = topics(records)
        number = {topic: row for row, topic in enumerate(names)}
        topic_of = {record.id: number[record.topic] for record in records}
        entry_topics = [topic_of[entry.article_id] for entry in entries]
        spaces = [(embedder, reuse._english if reuse else None)]
        if multilingual is not None:
            spaces.append((multilingual, reuse._multilingual if reuse else None))
        built = [_space(model, texts, entry_topics, len(names), old, _stage(progress, stage, len(spaces)))
                 for stage, (model, old) in enumerate(spaces)]
        space: dict[str, object] = {}
        if multilingual is not None:
            other = multilingual_thresholds or load_thresholds(MULTILINGUAL_THRESHOLDS_FILE)
            space = _multilingual_manifest(multilingual, other)
        manifest = Manifest(
            format=FORMAT,
            model=embedder.name,
            dimension=embedder.dimension,
            fingerprint=fingerprint(records),
            entries=len(entries),
            articles=len(records),
            built_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            thresholds=(thresholds or load_thresholds()).to_json(),
            scoring=SCORING["english"],
            multilingual=space,
        )
        (vectors, prototypes, _), *rest = built
        other_vectors, other_prototypes, _ = rest[0] if rest else (None, None, 0)
        stored = StoredIndex(manifest=manifest, articles=records, entries=entries, vectors=vectors,
                             prototypes=prototypes, version="", multilingual=other_vectors,
                             multilingual_prototypes=other_prototypes)
        index = cls("", embedder, stored, multilingual)
        index.embedded = tuple(count for _, _, count in built)
        return index

    def write(self, directory: str | Path, extra: dict[str, bytes] | None = None) -> KnowledgeIndex:
        """Publish this index as the new live version in ``directory``, with ``extra`` files (name: bytes)
        in its version folder; returns the published index."""
        s = self._stored
        version = write_index(directory, manifest=s.manifest, articles=s.articles, entries=s.entries,
                              vectors=s.vectors, prototypes=s.prototypes, multilingual=s.multilingual,
                              multilingual_prototypes=s.multilingual_prototypes, extra=extra)
        log.info("published knowledge index %s/%s: %d articles, %d entries", directory, version, len(s.articles),
                 len(s.entries))
        multilingual = self._multilingual.embedder if self._multilingual else None
        return type(self)(directory, self._english.embedder, dataclasses.replace(s, version=version), multilingual)

    @classmethod
    def load(cls, directory: str | Path, embedder: Embedder, multilingual: Embedder | None = None) -> KnowledgeIndex:
        """Open the live version of the index in ``directory``.

        Raises `IndexMismatch` when it is missing, incomplete or corrupt, or was built with
        another model or dimension than ``embedder``'s (or without ``multilingual``'s space).
        """
        space = (multilingual.name, multilingual.dimension) if multilingual else None
        stored = read_index(directory, model=embedder.name, dimension=embedder.dimension, multilingual=space)
        return cls(directory, embedder, stored, multilingual)

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

    def route(self, query: str) -> Route:
        """The language, model and thresholds `search` uses for ``query``."""
        language = query_language(query)
        space = self._space(language)
        return Route(language, space.embedder.name, space.thresholds)

    def search(self, query: str, k: int = 3) -> list[Hit]:
        """The ``k`` topics most similar to ``query``, best first ([] for a blank query); each as its
        article in the query's language when there is one, else as the original article."""
        if k < 1:
            raise ValueError("k must be at least 1")
        text = " ".join(query.split())
        language = query_language(text)
        space = self._space(language)
        if not text or not self._entries:
            return []
        vector = unit_rows(space.embedder.encode([text]), space.vectors.d)
        by = self._by_prototype if space.scoring == "prototype" else self._by_entry
        found = by(space, vector, k)
        hits: list[Hit] = []
        for score, topic, row in sorted(found, key=lambda item: (-item[0], item[1]))[:k]:
            record = self._variants.get((topic, language)) or self._by_id[topic]
            hits.append(Hit(article_id=record.id, title=record.title, url=record.url,
                            score=min(1.0, max(-1.0, float(score))), matched=self._entries[row].text))
        return hits

    def _by_prototype(self, space: _Space, vector: npt.NDArray[np.float32], k: int) -> list[tuple[float, str, int]]:
        """(score, topic, best entry row) of the ``k`` topics whose prototypes are closest."""
        scores, rows = search(space.prototypes, vector, min(k, len(self._topics)))
        found = []
        for score, row in zip(scores, rows, strict=True):
            candidates = self._topic_rows.get(self._topics[row]) if row >= 0 else None
            if candidates is not None:
                matched = candidates[int(np.argmax(space.matrix[candidates] @ vector[0]))]
                found.append((score, self._topics[row], int(matched)))
        return found

    def _by_entry(self, space: _Space, vector: npt.NDArray[np.float32], k: int) -> list[tuple[float, str, int]]:
        """(score, topic, entry row) of the ``k`` topics with the closest entries, by their closest one."""
        total = space.vectors.ntotal
        rows = min(total, k * ROWS_PER_RESULT)
        while True:
            scores, ids = search(space.vectors, vector, rows)
            best: dict[str, tuple[float, str, int]] = {}
            for score, row in zip(scores, ids, strict=True):
                topic = self._by_id[self._entries[row].article_id].topic if row >= 0 else None
                if topic is not None and (topic not in best or score > best[topic][0]):
                    best[topic] = (score, topic, row)
            if len(best) >= k or rows >= total:
                return list(best.values())
            rows = min(total, rows * 4)  # rows crowded by few topics: look further

    def _space(self, language: str) -> _Space:
        return self._english if language == "en" or self._multilingual is None else self._multilingual


def ensure_index(
    articles_dir: str | Path, directory: str | Path, embedder: Embedder, *, force: bool = False,
    thresholds: Thresholds | None = None, multilingual: Embedder | None = None,
    multilingual_thresholds: Thresholds | None = None, progress: Progress | None = None,
) -> tuple[KnowledgeIndex, bool]:
    """Load the index in ``directory``, rebuilding it from ``articles_dir`` when needed.

    It is rebuilt when there is none, when the articles' fingerprint or the decision thresholds
    (default: the shipped calibrations) differ from the manifest's, when it was built with other
    models, when it cannot be read, or when ``force``; ``progress`` hears how the embedding goes.
    Returns the index and whether it was rebuilt. Raises `ArticleError` for invalid articles.
    """
    articles = load_articles(articles_dir)
    thresholds = thresholds or load_thresholds()
    space: dict[str, object] = {}
    if multilingual is not None:
        multilingual_thresholds = multilingual_thresholds or load_thresholds(MULTILINGUAL_THRESHOLDS_FILE)
        space = _multilingual_manifest(multilingual, multilingual_thresholds)
    if not force:
        manifest = read_manifest(directory)
        if (
            manifest is not None
            and manifest.fingerprint == fingerprint(articles)
            and manifest.model == embedder.name
            and manifest.dimension == embedder.dimension
            and manifest.thresholds == thresholds.to_json()
            and manifest.scoring == SCORING["english"]
            and manifest.multilingual == space
        ):
            try:
                return KnowledgeIndex.load(directory, embedder, multilingual), False
            except IndexMismatch as error:
                log.warning("rebuilding knowledge index: %s", error)
    index = KnowledgeIndex.build(articles, embedder, directory, thresholds, multilingual=multilingual,
                                 multilingual_thresholds=multilingual_thresholds, progress=progress)
    return index, True


def production_embedders(model_cache: str | Path = DEFAULT_MODEL_CACHE) -> tuple[Embedder, Embedder]:
    """The bot's English embedder (MiniLM through ONNX Runtime, exported into ``model_cache`` on
    first use) and its multilingual one; each loads its model on first use."""
    return OnnxMiniLMEmbedder(model_cache), USEm3Embedder()


def _language(locale: str) -> str:
    """The primary language subtag of an article's locale, lower case: "de-CH" -> "de"."""
    return locale.replace("_", "-").split("-")[0].lower()


def _space(
    embedder: Embedder, texts: list[str], entry_topics: list[int], count: int, old: _Space | None,
    progress: Progress | None,
) -> tuple[faiss.Index, faiss.Index, int]:
    """The entry vectors of ``texts`` (those that ``old``, a space of the same model, holds taken from it),
    the ``count`` topic prototypes learnt from them, and how many texts were embedded."""
    known: dict[str, int] = {}
    if old is not None and old.embedder.name == embedder.name:
        known = {entry.text: row for row, entry in enumerate(old.entries)}
    missing = [text for text in dict.fromkeys(texts) if text not in known]
    fresh = dict(zip(missing, embed(embedder, missing, progress), strict=True))
    matrix = np.zeros((len(texts), embedder.dimension), np.float32)
    for row, text in enumerate(texts):
        matrix[row] = fresh[text] if text in fresh else old.matrix[known[text]]  # type: ignore[union-attr]
    return (vector_index(matrix, embedder.dimension),
            vector_index(fit_prototypes(matrix, entry_topics, count), embedder.dimension), len(missing))


def _multilingual_manifest(embedder: Embedder, thresholds: Thresholds) -> dict[str, object]:
    return {"model": embedder.name, "dimension": embedder.dimension, "thresholds": thresholds.to_json(),
            "scoring": SCORING["multilingual"]}


def _stage(progress: Progress | None, stage: int, stages: int) -> Progress | None:
    """``progress`` of embedding stage ``stage`` of ``stages`` (one per space), as texts of all stages."""
    if progress is None:
        return None
    report = progress
    return lambda done, total: report(stage * total + done, stages * total)
