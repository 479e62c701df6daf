"""Command line: ``kb build`` and ``kb search``.

Standalone: ``python -m knowledge_index build|search ...``. In another argparse program::

    subparsers = parser.add_subparsers(dest="command", required=True)
    add_kb_commands(subparsers)
    args = parser.parse_args()
    if is_kb_command(args):
        sys.exit(run_kb_command(args))
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

__all__ = [
    "DEFAULT_ARTICLES_DIR",
    "DEFAULT_INDEX_DIR",
    "add_kb_commands",
    "is_kb_command",
    "main",
    "run_kb_command",
]

DEFAULT_ARTICLES_DIR = "training_data/articles"
DEFAULT_INDEX_DIR = ".cache/index"
EXIT_ERROR = 2

# Name of the namespace attribute holding the handler of the chosen kb command.
_HANDLER = "kb_handler"


def add_kb_commands(subparsers: argparse._SubParsersAction[Any]) -> argparse.ArgumentParser:
    """Register the ``kb`` command group (``kb build``, ``kb search``) and return its parser."""
    kb: argparse.ArgumentParser = subparsers.add_parser("kb", help="build and search the knowledge-base index")
    _add_subcommands(kb.add_subparsers(dest="kb_command", metavar="{build,search}", required=True))
    return kb


def is_kb_command(args: argparse.Namespace) -> bool:
    return callable(getattr(args, _HANDLER, None))


def run_kb_command(args: argparse.Namespace) -> int:
    """Run the parsed kb command; returns the exit status (2 after printing ``error: ...``)."""
    from .articles import ArticleError
    from .storage import IndexMismatch

    handler = getattr(args, _HANDLER)
    try:
        status: int = handler(args)
    except (ArticleError, IndexMismatch) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    return status


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m knowledge_index", description="Knowledge-base index.")
    _add_subcommands(parser.add_subparsers(dest="kb_command", metavar="{build,search}", required=True))
    args = parser.parse_args(argv)
    return run_kb_command(args)


def _add_subcommands(subparsers: argparse._SubParsersAction[Any]) -> None:
    build = subparsers.add_parser(
        "build",
        help="(re)build the index when the articles changed",
        description="Build the index from the articles, unless it is already up to date.",
    )
    build.add_argument(
        "--articles", default=DEFAULT_ARTICLES_DIR, metavar="DIR", help="articles directory (default: %(default)s)"
    )
    build.add_argument("--out", default=DEFAULT_INDEX_DIR, metavar="DIR", help="index directory (default: %(default)s)")
    build.add_argument("--force", action="store_true", help="rebuild even when the index is up to date")
    build.set_defaults(**{_HANDLER: _build})

    search = subparsers.add_parser("search", help="search the index", description="Search the index.")
    search.add_argument(
        "--index", default=DEFAULT_INDEX_DIR, metavar="DIR", help="index directory (default: %(default)s)"
    )
    search.add_argument("-k", type=_positive_int, default=3, help="number of articles to show (default: %(default)s)")
    search.add_argument("query", nargs="+", metavar="QUERY", help="the question to search for")
    search.set_defaults(**{_HANDLER: _search})


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _build(args: argparse.Namespace) -> int:
    from .embedder import MiniLMEmbedder
    from .index import ensure_index

    started = time.perf_counter()
    index, rebuilt = ensure_index(args.articles, args.out, MiniLMEmbedder(), force=args.force)
    manifest = index.manifest
    print(f"rebuilt: {'yes' if rebuilt else 'no (up to date)'}")
    print(f"index: {index.directory}")
    print(f"articles: {manifest.articles}")
    print(f"entries: {manifest.entries}")
    print(f"model: {manifest.model}")
    print(f"fingerprint: {manifest.fingerprint}")
    print(f"built_at: {manifest.built_at}")
    print(f"seconds: {time.perf_counter() - started:.2f}")
    return 0


def _search(args: argparse.Namespace) -> int:
    from .embedder import MiniLMEmbedder
    from .index import KnowledgeIndex

    index = KnowledgeIndex.load(args.index, MiniLMEmbedder())
    hits = index.search(" ".join(args.query), k=args.k)
    if not hits:
        print("no results")
        return 0
    width = max(len(hit.article_id) for hit in hits)
    for rank, hit in enumerate(hits, start=1):
        print(f"{rank}  {hit.score:.3f}  {hit.article_id:<{width}}  {hit.title}")
    return 0
