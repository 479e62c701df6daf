"""Fixtures of the knowledge-index tests: the real MiniLM model and an index of the small knowledge base
in tests/fixtures/articles, each made once per module."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from knowledge_index.articles import load_articles
from knowledge_index.embedder import MiniLMEmbedder
from knowledge_index.index import KnowledgeIndex
from knowledge_index.storage import StoredIndex, read_index
from tests.kb.kb_fixture import FIXTURES, MODEL


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    model = MiniLMEmbedder()
    model.load()
    return model


@pytest.fixture(scope="module")
def built(embedder: MiniLMEmbedder, tmp_path_factory: pytest.TempPathFactory) -> KnowledgeIndex:
    directory = tmp_path_factory.mktemp("built") / "index"
    return KnowledgeIndex.build(load_articles(FIXTURES), embedder, directory)


@pytest.fixture(scope="module")
def stored(built: KnowledgeIndex) -> StoredIndex:
    return read_index(built.directory, model=MODEL, dimension=384)


@pytest.fixture()
def kb_copy(tmp_path: Path) -> Path:
    """A writable copy of the fixture articles."""
    target = tmp_path / "articles"
    shutil.copytree(FIXTURES, target)
    return target
