"""Tests for knowledge_index.multilingual: the USE-m3 embedder, query routing, fusion, and
cross-lingual retrieval over the English fixture knowledge base (tests/fixtures/articles)."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from knowledge_index.articles import load_articles
from knowledge_index.decision import (
    MULTILINGUAL_THRESHOLDS_FILE,
    THRESHOLDS_FILE,
    Thresholds,
    decide,
    load_calibration,
    load_thresholds,
)
from knowledge_index.embedder import Embedder, MiniLMEmbedder
from knowledge_index.index import IndexMismatch, KnowledgeIndex, ensure_index
from knowledge_index.multilingual import FusedHit, USEm3Embedder, fuse_hits, query_language

ARTICLES = Path(__file__).parent / "fixtures" / "articles"
USE = "universal-sentence-encoder-multilingual-3"


@pytest.fixture(scope="module")
def embedder() -> USEm3Embedder:
    model = USEm3Embedder()
    model.load()
    return model


@pytest.fixture(scope="module")
def index(embedder: USEm3Embedder, tmp_path_factory: pytest.TempPathFactory) -> KnowledgeIndex:
    return KnowledgeIndex.build(load_articles(ARTICLES), embedder, tmp_path_factory.mktemp("use") / "index")


def test_embedder_contract(embedder: USEm3Embedder) -> None:
    typed: Embedder = embedder  # mypy checks the protocol
    assert typed.name == "universal-sentence-encoder-multilingual-3"
    assert typed.dimension == 512
    texts = ["How long does delivery take?", "Wie lange dauert die Lieferung?", "كم تستغرق مدة التوصيل؟", ""]
    vectors = embedder.encode(texts)
    assert vectors.dtype == np.float32 and vectors.shape == (4, 512)
    assert vectors.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(embedder.encode(texts), vectors)  # deterministic
    np.testing.assert_allclose(embedder.encode(texts[1:2])[0], vectors[1], atol=1e-5)  # batch-independent
    assert embedder.encode([]).shape == (0, 512)
    with pytest.raises(TypeError):
        embedder.encode("a single string")  # type: ignore[arg-type]


def test_embedder_loads_lazily_and_is_thread_safe() -> None:
    model = USEm3Embedder(threads=1)
    assert not model.loaded
    texts = [f"question number {i}" for i in range(8)]
    expected = model.encode(texts)
    assert model.loaded
    with ThreadPoolExecutor(4) as pool:
        for vectors in pool.map(lambda _: model.encode(texts), range(8)):
            np.testing.assert_allclose(vectors, expected, atol=1e-6)
    with pytest.raises(ValueError):
        USEm3Embedder(threads=0)


@pytest.mark.parametrize(
    ("query", "article_id"),
    [
        ("How long does delivery take?", "shipping-times"),
        ("Wie lange dauert die Lieferung?", "shipping-times"),
        ("Kann ich mit PayPal bezahlen?", "payment-methods"),
        ("هل يمكنني الدفع باستخدام باي بال؟", "payment-methods"),
        ("كيف يمكنني إرجاع الدراجة؟", "bike-returns"),
    ],
)
def test_cross_lingual_retrieval_on_english_kb(index: KnowledgeIndex, query: str, article_id: str) -> None:
    hits = index.search(query, k=3)
    assert hits[0].article_id == article_id, [(hit.article_id, round(hit.score, 3)) for hit in hits]


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("How long does delivery take?", "en"),
        ("refund", "en"),
        ("", "en"),
        ("Wie lange dauert die Lieferung?", "de"),
        ("Zeige alle Erinnerungen", "de"),
        ("Rückerstattung", "de"),
        ("كم تستغرق مدة التوصيل؟", "ar"),
        ("Où est ma commande ?", "other"),
    ],
)
def test_query_language(text: str, language: str) -> None:
    assert query_language(text) == language


def test_fuse_hits() -> None:
    first = [FusedHit("a", 0.9), FusedHit("b", 0.5)]
    second = [FusedHit("b", 0.9), FusedHit("c", 0.8), FusedHit("a", 0.1)]
    fused = fuse_hits(first, second, 0.5, k=3)
    assert [hit.article_id for hit in fused] == ["b", "c", "a"]
    assert fused[0].score == pytest.approx(0.7)
    assert fused[1].score == pytest.approx(0.5 * 0.5 + 0.5 * 0.8)  # "c" missing from first: its floor
    assert [hit.article_id for hit in fuse_hits(first, second, 1.0, k=1)] == ["a"]
    with pytest.raises(ValueError):
        fuse_hits(first, second, 1.5, k=1)


# --- the routed index: English to MiniLM, every other language to USE-m3 -------------------------

GERMAN_SHIPPING = """\
---
id: shipping-times-de
title: Lieferzeiten und Versandkosten
locale: de
translation_of: shipping-times
questions:
  - Wie lange dauert die Lieferung?
  - Wann kommt meine Bestellung an?
---
Bestellungen verlassen unser Lager innerhalb von 2 Werktagen.
"""


@pytest.fixture(scope="module")
def routed(embedder: USEm3Embedder, tmp_path_factory: pytest.TempPathFactory) -> KnowledgeIndex:
    articles = tmp_path_factory.mktemp("routed") / "articles"
    shutil.copytree(ARTICLES, articles)
    (articles / "de").mkdir()
    (articles / "de" / "shipping-times-de.md").write_text(GERMAN_SHIPPING, encoding="utf-8")
    directory = articles.parent / "index"
    index, rebuilt = ensure_index(articles, directory, MiniLMEmbedder(), multilingual=embedder)
    assert rebuilt
    return index


@pytest.mark.parametrize(
    ("query", "language", "model", "article_id"),
    [
        ("How long does delivery take?", "en", "all-MiniLM-L6-v2", "shipping-times"),
        ("Wie lange dauert die Lieferung nach Hause?", "de", USE, "shipping-times-de"),  # the translation
        ("Kann ich mit PayPal bezahlen?", "de", USE, "payment-methods"),  # no translation: the original
        ("كم تستغرق مدة التوصيل؟", "ar", USE, "shipping-times"),
    ],
)
def test_routed_search_answers_in_the_customers_language(
    routed: KnowledgeIndex, query: str, language: str, model: str, article_id: str
) -> None:
    route = routed.route(query)
    assert (route.language, route.model) == (language, model)
    shipped = load_thresholds(THRESHOLDS_FILE if language == "en" else MULTILINGUAL_THRESHOLDS_FILE)
    assert route.thresholds == shipped
    hits = routed.search(query, k=6)
    assert hits[0].article_id == article_id
    assert decide(hits, route.thresholds).kind == "answer", [(hit.article_id, round(hit.score, 3)) for hit in hits]
    # An article and its translation are one topic: six articles, five topics, each found once.
    topics = [hit.article_id.removesuffix("-de") for hit in hits]
    assert len(topics) == len(set(topics)) == len(routed.articles) - 1 == 5


def test_routed_index_round_trip_and_mismatches(routed: KnowledgeIndex, embedder: USEm3Embedder) -> None:
    manifest = routed.manifest
    assert manifest.multilingual == {"model": USE, "dimension": 512, "scoring": "nearest",
                                     **load_calibration(MULTILINGUAL_THRESHOLDS_FILE).to_json()}
    loaded = KnowledgeIndex.load(routed.directory, MiniLMEmbedder(), embedder)
    query = "Wie lange dauert die Lieferung?"
    assert loaded.search(query) == routed.search(query)
    english_only = KnowledgeIndex.load(routed.directory, MiniLMEmbedder())  # the English space alone
    assert english_only.route(query).model == "all-MiniLM-L6-v2"

    other = KnowledgeIndex.build(load_articles(ARTICLES), MiniLMEmbedder(), routed.directory.parent / "plain")
    with pytest.raises(IndexMismatch, match=r"multilingual\.faiss is missing"):
        KnowledgeIndex.load(other.directory, MiniLMEmbedder(), embedder)

    articles = routed.directory.parent / "articles"
    _, rebuilt = ensure_index(articles, routed.directory, MiniLMEmbedder(), multilingual=embedder)
    assert not rebuilt
    changed = Thresholds(answer=0.6)
    again, rebuilt = ensure_index(articles, routed.directory, MiniLMEmbedder(), multilingual=embedder,
                                  multilingual_thresholds=changed)
    assert rebuilt and again.route(query).thresholds == changed
    assert again.route("How long does delivery take?").thresholds == load_thresholds(THRESHOLDS_FILE)
