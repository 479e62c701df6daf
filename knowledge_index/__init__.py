"""Knowledge base: articles, their embeddings and semantic search.

The public names are re-exported lazily, so ``import knowledge_index`` stays cheap: numpy, FAISS,
torch and sentence-transformers are only imported when a name that needs them is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .articles import Article, ArticleError, fingerprint, load_articles, parse_article
    from .embedder import Embedder, MiniLMEmbedder
    from .index import Hit, KnowledgeIndex, ensure_index
    from .storage import ArticleRecord, IndexMismatch, Manifest

_EXPORTS = {
    "Article": "articles",
    "ArticleError": "articles",
    "fingerprint": "articles",
    "load_articles": "articles",
    "parse_article": "articles",
    "Embedder": "embedder",
    "MiniLMEmbedder": "embedder",
    "Hit": "index",
    "KnowledgeIndex": "index",
    "ensure_index": "index",
    "ArticleRecord": "storage",
    "IndexMismatch": "storage",
    "Manifest": "storage",
}

__all__ = [
    "Article",
    "ArticleError",
    "ArticleRecord",
    "Embedder",
    "Hit",
    "IndexMismatch",
    "KnowledgeIndex",
    "Manifest",
    "MiniLMEmbedder",
    "ensure_index",
    "fingerprint",
    "load_articles",
    "parse_article",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
