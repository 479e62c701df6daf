"""Semantic search over knowledge articles with a FAISS inner-product index.

Every article is indexed under several texts (its example questions, its title, the first
paragraph of its body and, when it is long, its sections: `entries`). A query scores a topic by
its cosine similarity to the topic's prototype (learnt from the topic's texts at build time:
`prototypes`) or to the topic's nearest text, as `SCORING` says for the query's space; the best
topics by that similarity then get their confidence, the probability that they answer the query,
from the space's confidence model (`confidence`), which `decision.decide` reads.

An index may have a second, multilingual space: the same texts embedded by a multilingual model.
Each query is routed by its language (`multilingual.query_language`): English to the primary
(English) model, any other language to the multilingual one, each space with its own calibration
(confidence model and thresholds per answer precision target, recorded in the manifest). An
article and its translations are one topic: a search returns each topic once, as the article in the
query's language when there is one.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import faiss
import numpy as np
import numpy.typing as npt

from .articles import ArticleFields, fingerprint, load_articles
from .confidence import NEIGHBOURS, ConfidenceModel, TopicStats, candidate_features, topic_stats
from .decision import MULTILINGUAL_THRESHOLDS_FILE, THRESHOLDS_FILE, Calibration, Thresholds, load_calibration
from .embedder import Embedder
from .entries import Entry, entries_for
from .lexical import Bm25
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
Calibrated = Thresholds | Calibration  # bare thresholds decide on the similarity itself


@dataclass(frozen=True)
class Hit:
    article_id: str
    title: str
    url: str | None
    score: float  # the confidence that this article answers the query (confidence.py), which `decide` reads
    matched: str  # the topic's indexed text (question, title, paragraph, section) closest to the query
    similarity: float = 0.0  # cosine of the query to the topic's prototype, or to `matched` (SCORING); the rank


@dataclass(frozen=True)
class _Candidate:
    topic: str
    confidence: float
    similarity: float
    row: int  # the topic's entry closest to the query


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
    calibration: Calibration
    thresholds: Thresholds  # the calibration's, at the index's answer precision target
    scoring: Scoring
    entries: tuple[Entry, ...]  # row i of `vectors` is entry i
    topic_rows: tuple[npt.NDArray[np.int64] | None, ...]  # per topic number, its entries' rows

    @property
    def confidence(self) -> ConfidenceModel | None:
        return self.calibration.confidence

    @cached_property
    def matrix(self) -> npt.NDArray[np.float32]:
        """The entry vectors, to tell which of a topic's texts matched a question best."""
        return self.vectors.reconstruct_n(0, self.vectors.ntotal)  # type: ignore[no-any-return]

    @cached_property
    def prototype_matrix(self) -> npt.NDArray[np.float32]:
        return self.prototypes.reconstruct_n(0, self.prototypes.ntotal)  # type: ignore[no-any-return]

    @cached_property
    def stats(self) -> TopicStats:
        return topic_stats(self.matrix, self.prototype_matrix, self.topic_rows)


class KnowledgeIndex:
    """A loaded index. Immutable; `search` may be called from several threads at once."""

    def __init__(
        self, directory: str | Path, embedder: Embedder, stored: StoredIndex, multilingual: Embedder | None = None,
        precision_target: float | None = None,
    ) -> None:
        """Use `build`, `load` or `ensure_index` rather than calling this directly. ``precision_target``
        chooses the calibrated thresholds (`decision.Calibration.at`); None: those it was built with."""
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
        number = {topic: i for i, topic in enumerate(self._topics)}
        self._entry_topics = np.array([number[self._by_id[e.article_id].topic] for e in stored.entries], np.int64)
        by_number = tuple(self._topic_rows.get(topic) for topic in self._topics)
        self.precision_target = precision_target
        english = _manifest_calibration(stored.manifest.to_json())
        self._english = _Space(embedder, stored.vectors, stored.prototypes, english, english.at(precision_target),
                               SCORING["english"], stored.entries, by_number)
        self._multilingual: _Space | None = None
        other, other_prototypes = stored.multilingual, stored.multilingual_prototypes
        if multilingual is not None and other is not None and other_prototypes is not None:
            calibration = _manifest_calibration(stored.manifest.multilingual)
            self._multilingual = _Space(multilingual, other, other_prototypes, calibration,
                                        calibration.at(precision_target), SCORING["multilingual"], stored.entries,
                                        by_number)

    @classmethod
    def build(
        cls, articles: Sequence[ArticleFields], embedder: Embedder, directory: str | Path,
        thresholds: Calibrated | None = None, *, multilingual: Embedder | None = None,
        multilingual_thresholds: Calibrated | None = None, progress: Progress | None = None,
        precision_target: float | None = None,
    ) -> KnowledgeIndex:
        """Embed ``articles`` and publish them, with the decision ``thresholds`` (a calibration or bare
        thresholds on the similarity; default: the shipped calibration), as the new live version of the
        index in ``directory``; with a ``multilingual`` embedder, also in its space, with
        ``multilingual_thresholds`` (default: its shipped calibration). ``progress`` is told how many
        of the texts to embed (in all spaces) are done."""
        composed = cls.compose(articles, embedder, thresholds, multilingual=multilingual,
                               multilingual_thresholds=multilingual_thresholds, progress=progress,
                               precision_target=precision_target)
        return composed.write(directory)

    @classmethod
    def compose(
        cls, articles: Sequence[ArticleFields], embedder: Embedder, thresholds: Calibrated | None = None, *,
        multilingual: Embedder | None = None, multilingual_thresholds: Calibrated | None = None,
        progress: Progress | None = None, reuse: KnowledgeIndex | None = None, precision_target: float | None = None,
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
            space = _multilingual_manifest(multilingual, _calibration(multilingual_thresholds,
                                                                      MULTILINGUAL_THRESHOLDS_FILE))
        manifest = Manifest(
            format=FORMAT,
            model=embedder.name,
            dimension=embedder.dimension,
            fingerprint=fingerprint(records),
            entries=len(entries),
            articles=len(records),
            built_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **_calibration(thresholds, THRESHOLDS_FILE).to_json(),
            scoring=SCORING["english"],
            multilingual=space,
        )
        (vectors, prototypes, _), *rest = built
        other_vectors, other_prototypes, _ = rest[0] if rest else (None, None, 0)
        stored = StoredIndex(manifest=manifest, articles=records, entries=entries, vectors=vectors,
                             prototypes=prototypes, version="", multilingual=other_vectors,
                             multilingual_prototypes=other_prototypes)
        index = cls("", embedder, stored, multilingual, precision_target)
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
        return type(self)(directory, self._english.embedder, dataclasses.replace(s, version=version), multilingual,
                          self.precision_target)

    @classmethod
    def load(cls, directory: str | Path, embedder: Embedder, multilingual: Embedder | None = None,
             precision_target: float | None = None) -> KnowledgeIndex:
        """Open the live version of the index in ``directory``.

        Raises `IndexMismatch` when it is missing, incomplete or corrupt, or was built with
        another model or dimension than ``embedder``'s (or without ``multilingual``'s space).
        """
        space = (multilingual.name, multilingual.dimension) if multilingual else None
        stored = read_index(directory, model=embedder.name, dimension=embedder.dimension, multilingual=space)
        return cls(directory, embedder, stored, multilingual, precision_target)

    def warm(self) -> None:
        """Prepare what the first search would otherwise prepare (BM25 postings, topic statistics)."""
        for space in (self._english, self._multilingual):
            if space is not None:
                _ = space.stats
        _ = self._lexical

    @cached_property
    def _lexical(self) -> Bm25:
        """BM25 over the entries' texts, for the confidence features."""
        return Bm25([entry.text for entry in self._entries])

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
        """The English space's decision thresholds (at the index's answer precision target)."""
        return self._english.thresholds

    def article(self, article_id: str) -> ArticleRecord | None:
        return self._by_id.get(article_id)

    def route(self, query: str, language: str | None = None) -> Route:
        """The language (``language``, else detected), model and thresholds `search` uses for ``query``."""
        language = language or query_language(query)
        space = self._space(language)
        return Route(language, space.embedder.name, space.thresholds)

    def search(self, query: str, k: int = 3, *, language: str | None = None) -> list[Hit]:
        """The ``k`` topics most similar to ``query`` (written in ``language``; None: detected), best first
        ([] for a blank query), each with the confidence that it answers the query; each as its article in
        the query's language when there is one, else as the original article."""
        if k < 1:
            raise ValueError("k must be at least 1")
        text = " ".join(query.split())
        language = language or query_language(text)
        space = self._space(language)
        if not text or not self._entries:
            return []
        vector = unit_rows(space.embedder.encode([text]), space.vectors.d)
        hits: list[Hit] = []
        for candidate in self._candidates(space, text, vector[0], k):
            record = self._variants.get((candidate.topic, language)) or self._by_id[candidate.topic]
            hits.append(Hit(article_id=record.id, title=record.title, url=record.url, score=candidate.confidence,
                            matched=self._entries[candidate.row].text, similarity=candidate.similarity))
        return hits

    def features(
        self, query: str, k: int = 2, *, language: str | None = None
    ) -> list[tuple[str, npt.NDArray[np.float64]]]:
        """The ``k`` best topics for ``query`` with their `confidence.FEATURES`, for calibration; in the
        space of ``language`` when given (any but "en": the multilingual one), else of the query's."""
        text = " ".join(query.split())
        space = self._space(language or query_language(text))
        vector = unit_rows(space.embedder.encode([text]), space.vectors.d)[0]
        chosen, features, _, _ = self._ranked(space, text, vector, k)
        assert features is not None
        return [(self._topics[topic], features[i]) for i, topic in enumerate(chosen)]

    def _candidates(self, space: _Space, text: str, vector: npt.NDArray[np.float32], k: int) -> list[_Candidate]:
        """The ``k`` best topics for the question ``text`` (embedded: ``vector``), each with its
        confidence (`confidence`; the similarity itself when the space has no model)."""
        model = space.confidence
        chosen, features, similarity, best_row = self._ranked(space, text, vector, k, features=model is not None)
        confidence = similarity[chosen] if model is None or features is None else model.probabilities(features)
        return [_Candidate(self._topics[topic], _clip(float(confidence[i])), _clip(float(similarity[topic])),
                           best_row[int(topic)]) for i, topic in enumerate(chosen)]

    def _ranked(
        self, space: _Space, text: str, vector: npt.NDArray[np.float32], k: int, *, features: bool = True
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64] | None, npt.NDArray[np.float64], dict[int, int]]:
        """The numbers of the ``k`` best topics for the question ``text`` (embedded: ``vector``) by the
        space's `SCORING`, best first (equal scores by topic id), their features (None unless
        ``features``), every topic's similarity and the rows of their nearest entries."""
        count = len(self._topics)
        prototype = (space.prototype_matrix @ vector).astype(np.float64)
        nearest, best_row, neighbours = self._nearest(space, vector, k)
        similarity = prototype if space.scoring == "prototype" else nearest
        chosen = np.lexsort((np.arange(count), -similarity))[: min(k, count)]
        for topic in chosen:  # the exact nearest entry of a topic the entry search did not reach
            if int(topic) not in best_row:
                rows = self._topic_rows[self._topics[topic]]
                cosines = space.matrix[rows] @ vector
                best_row[int(topic)] = int(rows[int(np.argmax(cosines))])
                nearest[topic] = float(cosines.max())
        if not features:
            return chosen, None, similarity, best_row
        lexical = np.zeros(count, np.float64)
        np.maximum.at(lexical, self._entry_topics, self._lexical.scores(text))
        return chosen, candidate_features(prototype, nearest, neighbours, lexical, space.stats, chosen), similarity, \
            best_row

    def _nearest(
        self, space: _Space, vector: npt.NDArray[np.float32], k: int
    ) -> tuple[npt.NDArray[np.float64], dict[int, int], npt.NDArray[np.int64]]:
        """Per topic number: the cosine of its nearest entry (exact for the topics the entry search
        reached, else the lowest cosine it reached), the row of that entry (reached topics only), and
        the topic numbers of the `NEIGHBOURS` nearest entries."""
        total = space.vectors.ntotal
        rows = min(total, max(NEIGHBOURS, k * ROWS_PER_RESULT))
        while True:
            scores, ids = search(space.vectors, vector[None, :], rows)
            found = [(score, row) for score, row in zip(scores, ids, strict=True) if row >= 0]
            best_row: dict[int, int] = {}
            # A topic the search did not reach is at most as close as the farthest row it reached.
            floor = np.nextafter(found[-1][0], -np.inf) if rows < total and found else -1.0
            nearest = np.full(len(self._topics), floor, np.float64)
            for score, row in found:
                topic = int(self._entry_topics[row])
                if topic not in best_row:
                    best_row[topic] = row
                    nearest[topic] = score
            if len(best_row) >= min(k, len(self._topics)) or rows >= total:
                break
            rows = min(total, rows * 4)  # rows crowded by few topics: look further
        neighbours = self._entry_topics[[row for _, row in found[:NEIGHBOURS]]]
        return nearest, best_row, neighbours

    def _space(self, language: str) -> _Space:
        return self._english if language == "en" or self._multilingual is None else self._multilingual


def ensure_index(
    articles_dir: str | Path, directory: str | Path, embedder: Embedder, *, force: bool = False,
    thresholds: Calibrated | None = None, multilingual: Embedder | None = None,
    multilingual_thresholds: Calibrated | None = None, progress: Progress | None = None,
    precision_target: float | None = None,
) -> tuple[KnowledgeIndex, bool]:
    """Load the index in ``directory``, rebuilding it from ``articles_dir`` when needed.

    It is rebuilt when there is none, when the articles' fingerprint or the calibrations (default:
    the shipped ones) differ from the manifest's, when it was built with other models, when it
    cannot be read, or when ``force``; ``progress`` hears how the embedding goes. Returns the index
    (deciding at ``precision_target``) and whether it was rebuilt. Raises `ArticleError` for invalid articles.
    """
    articles = load_articles(articles_dir)
    english = _calibration(thresholds, THRESHOLDS_FILE)
    space: dict[str, object] = {}
    if multilingual is not None:
        space = _multilingual_manifest(multilingual, _calibration(multilingual_thresholds,
                                                                  MULTILINGUAL_THRESHOLDS_FILE))
    if not force:
        manifest = read_manifest(directory)
        if (
            manifest is not None
            and manifest.fingerprint == fingerprint(articles)
            and manifest.model == embedder.name
            and manifest.dimension == embedder.dimension
            and {key: manifest.to_json()[key] for key in english.to_json()} == english.to_json()
            and manifest.scoring == SCORING["english"]
            and manifest.multilingual == space
        ):
            try:
                return KnowledgeIndex.load(directory, embedder, multilingual, precision_target), False
            except IndexMismatch as error:
                log.warning("rebuilding knowledge index: %s", error)
    index = KnowledgeIndex.build(articles, embedder, directory, english, multilingual=multilingual,
                                 multilingual_thresholds=multilingual_thresholds, progress=progress,
                                 precision_target=precision_target)
    return index, True


def production_embedders(model_cache: str | Path = DEFAULT_MODEL_CACHE) -> tuple[Embedder, Embedder]:
    """The bot's English embedder (MiniLM through ONNX Runtime, exported into ``model_cache`` on first
    use) and its multilingual one, each loading its model on first use; one pair per process and cache."""
    return _embedders(Path(model_cache).resolve())


@functools.cache
def _embedders(model_cache: Path) -> tuple[Embedder, Embedder]:
    # One BLAS thread for the multilingual encoder: a question is one short sentence, and with two
    # threads OpenBLAS spins waiting for work: 55 ms of CPU per question instead of 2.5 on 2 shared cores
    # (docs/benchmarks.md, "A bot turn's cost").
    return OnnxMiniLMEmbedder(model_cache), USEm3Embedder(threads=1)


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


def _multilingual_manifest(embedder: Embedder, calibration: Calibration) -> dict[str, object]:
    return {"model": embedder.name, "dimension": embedder.dimension, **calibration.to_json(),
            "scoring": SCORING["multilingual"]}


def _calibration(given: Calibrated | None, default: Path) -> Calibration:
    """``given`` as a calibration (bare thresholds decide on the similarity); the file ``default`` when None."""
    if given is None:
        return load_calibration(default)
    return given if isinstance(given, Calibration) else Calibration(given)


def _manifest_calibration(space: dict[str, Any]) -> Calibration:
    """A space's calibration as its manifest records it (the shipped one for an index from before)."""
    return Calibration.from_json(space) if space.get("thresholds") else load_calibration()


def _clip(score: float) -> float:
    return min(1.0, max(-1.0, score))


def _stage(progress: Progress | None, stage: int, stages: int) -> Progress | None:
    """``progress`` of embedding stage ``stage`` of ``stages`` (one per space), as texts of all stages."""
    report = progress
    return None if report is None else lambda done, total: report(stage * total + done, stages * total)
