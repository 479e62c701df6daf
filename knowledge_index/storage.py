"""The on-disk index format (version 2): immutable version folders and a ``CURRENT`` pointer.

An index directory holds ``CURRENT`` (the name of the live version), a writers' ``.lock`` file, and
version folders ``v-<UTC timestamp>-<first 8 of fingerprint>``, each a complete index:

- ``index.faiss``: a FAISS index over unit vectors, one row per entry (exact ``IndexFlatIP``, or
  ``IndexHNSWFlat`` for a large index: `vectors.vector_index`);
- ``prototypes.faiss``: one unit vector per topic (`prototypes.fit_prototypes`), row ``i`` for the
  ``i``-th topic in sorted order; questions are scored against these;
- ``multilingual.faiss`` and ``multilingual-prototypes.faiss`` (when the manifest has
  ``multilingual``): the same in the multilingual model's space, for questions not in English;
- ``entries.json``: ``[{"row", "article_id", "kind", "text"}]``, one item per row;
- ``articles.json``: ``[{"id", "title", "url", "body", "locale", "tags", "questions", "translation_of"}]``;
- ``manifest.json``: ``{"format": 2, "model", "dimension", "fingerprint", "entries", "articles", "built_at",
  "thresholds", "confidence", "operating_points", "scoring", "multilingual": {"model", "dimension",
  "thresholds", "confidence", "operating_points", "scoring"} or {}}`` (`decision.Calibration`).

A writer fills a hidden ``.tmp-*`` folder, renames it to its version name and replaces ``CURRENT``
atomically. Version folders are never modified, and readers read ``CURRENT`` once and then only
that folder: they take no lock and never see a mix of two versions. Publishing then deletes all
but the newest `KEEP` versions, but only when ``CURRENT`` had not changed for `GRACE` seconds, so
that no reader can still be about to open them (and never the live or the previous live one).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import faiss
import numpy as np

from .articles import ArticleFields, fingerprint
from .entries import ENTRY_KINDS, Entry

__all__ = ["FORMAT", "KEEP", "ArticleRecord", "IndexMismatch", "Manifest", "StoredIndex"]
__all__ += ["current_version", "read_index", "read_manifest", "set_current", "topics", "versions", "write_index"]

FORMAT = 2  # 2: topic prototypes (prototypes.py) beside the entry vectors
KEEP = 3  # versions kept after publishing, to roll back to
GRACE = 10.0  # seconds a reader may take from reading CURRENT to opening that version's files
CURRENT, LOCK, TEMPORARY = "CURRENT", ".lock", ".tmp-"
# Kept beside the versions by the publishing workflow (knowledge_index/publishing.py).
PUBLISH_LOCK, HISTORY, RASA_LOADING = ".publish.lock", "history.jsonl", "rasa-loading"
FAISS_FILE, ENTRIES_FILE, ARTICLES_FILE, MANIFEST_FILE = "index.faiss", "entries.json", "articles.json", "manifest.json"
MULTILINGUAL_FILE, PROTOTYPES_FILE = "multilingual.faiss", "prototypes.faiss"
MULTILINGUAL_PROTOTYPES_FILE = "multilingual-prototypes.faiss"
INDEX_FILES = (MANIFEST_FILE, ARTICLES_FILE, ENTRIES_FILE, FAISS_FILE, PROTOTYPES_FILE)
MULTILINGUAL_FILES = (MULTILINGUAL_FILE, MULTILINGUAL_PROTOTYPES_FILE)
_VERSION = re.compile(r"v-[0-9A-Za-z.-]+")
_T = TypeVar("_T")


class IndexMismatch(Exception):
    """The index cannot be used: missing, incomplete, corrupt, or built differently."""


@dataclass(frozen=True)
class ArticleRecord:
    """An article as stored in the index (an `Article` without its source path)."""

    id: str
    title: str
    url: str | None
    body: str
    locale: str
    tags: tuple[str, ...]
    questions: tuple[str, ...]
    translation_of: str | None = None

    @classmethod
    def from_article(cls, a: ArticleFields) -> ArticleRecord:
        return cls(a.id, a.title, a.url, a.body, a.locale, tuple(a.tags), tuple(a.questions), a.translation_of)

    @property
    def topic(self) -> str:
        """The id of the original article: an article and its translations share one topic."""
        return self.translation_of or self.id

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Manifest:
    format: int
    model: str
    dimension: int
    fingerprint: str
    entries: int
    articles: int
    built_at: str
    # The English space's calibration (decision.Calibration): its thresholds ({} before they were
    # shipped), the confidence model ({}: the similarity decides) and the thresholds per precision target.
    thresholds: dict[str, Any] = field(default_factory=dict)
    confidence: dict[str, Any] = field(default_factory=dict)
    operating_points: list[dict[str, Any]] = field(default_factory=list)
    # How questions are scored against topics in the English space (index.SCORING).
    scoring: str = "prototype"
    # The multilingual space: {"model", "dimension", "thresholds", "confidence", "operating_points",
    # "scoring"}, or {} when there is none.
    multilingual: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> str | int:
        """Read access by ``manifest.json`` key, e.g. ``manifest["model"]``."""
        return cast("str | int", self.to_json()[key])

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StoredIndex:
    manifest: Manifest
    articles: tuple[ArticleRecord, ...]
    entries: tuple[Entry, ...]
    vectors: faiss.Index
    prototypes: faiss.Index  # one row per topic, in the order of `topics`
    version: str  # the name of its version folder
    multilingual: faiss.Index | None = None  # the same entries in the multilingual model's space
    multilingual_prototypes: faiss.Index | None = None

    @property
    def topics(self) -> list[str]:
        """The topics (ids of original articles), sorted: row ``i`` of the prototypes is topic ``i``."""
        return topics(self.articles)


def topics(articles: Sequence[ArticleRecord]) -> list[str]:
    return sorted({record.topic for record in articles})


# --- writing -----------------------------------------------------------------------------------


def write_index(
    directory: str | Path,
    *,
    manifest: Manifest,
    articles: Sequence[ArticleRecord],
    entries: Sequence[Entry],
    vectors: faiss.Index,
    prototypes: faiss.Index,
    multilingual: faiss.Index | None = None,
    multilingual_prototypes: faiss.Index | None = None,
    extra: dict[str, bytes] | None = None,
) -> str:
    """Publish a complete index as the new live version in ``directory``, with ``extra`` files (name:
    content) in its folder; returns its name."""
    target = Path(directory)
    foreign = sorted(name for name in os.listdir(target) if not _ours(name)) if target.is_dir() else []
    if foreign:  # so a mistyped path cannot get unrelated files deleted
        raise IndexMismatch(f"refusing to write an index to {target}: it holds {', '.join(foreign[:3])}")
    target.mkdir(parents=True, exist_ok=True)
    rows = [{"row": row, "article_id": e.article_id, "kind": e.kind, "text": e.text} for row, e in enumerate(entries)]
    with _lock(target):
        staging = target / f"{TEMPORARY}{secrets.token_hex(4)}"
        staging.mkdir()
        try:
            spaces = {FAISS_FILE: vectors, PROTOTYPES_FILE: prototypes, MULTILINGUAL_FILE: multilingual,
                      MULTILINGUAL_PROTOTYPES_FILE: multilingual_prototypes}
            for name, index in spaces.items():
                if index is not None:
                    _write(staging / name, faiss.serialize_index(index).tobytes())
            _write(staging / ENTRIES_FILE, _json(rows))
            _write(staging / ARTICLES_FILE, _json([record.to_json() for record in articles]))
            for name, data in (extra or {}).items():
                if name in INDEX_FILES or name in MULTILINGUAL_FILES or "/" in name:
                    raise ValueError(f"not an extra file name: {name!r}")
                _write(staging / name, data)
            _write(staging / MANIFEST_FILE, _json(manifest.to_json()))
            version = f"v-{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}-{manifest.fingerprint[:8]}"
            os.rename(staging, target / version)  # fails rather than replace an existing version
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        previous, unchanged_for = _point_to(target, version)
        # Readers that got another version than `previous` from CURRENT did so over GRACE seconds ago.
        _prune(target, spare=(version, previous), versions_too=unchanged_for > GRACE)
    return version


def versions(directory: str | Path) -> list[str]:
    """The names of the versions kept in ``directory``, oldest first."""
    target = Path(directory)
    names = os.listdir(target) if target.is_dir() else []
    return sorted(name for name in names if _VERSION.fullmatch(name))


def set_current(directory: str | Path, version: str) -> None:
    """Make ``version`` (one of `versions`) the live one, e.g. to roll back."""
    target = Path(directory)
    if not target.is_dir():
        raise IndexMismatch(f"no index at {target}: build it first")
    with _lock(target):
        if version not in versions(target):
            raise IndexMismatch(f"no version {version!r} in {target}")
        _point_to(target, version)


def _ours(name: str) -> bool:
    # Loose INDEX_FILES are an index of the old, unversioned layout; publishing deletes them.
    known = (CURRENT, LOCK, PUBLISH_LOCK, HISTORY, RASA_LOADING, *INDEX_FILES, MULTILINGUAL_FILE)
    return name in known or name.startswith(TEMPORARY) or bool(_VERSION.fullmatch(name))


def _point_to(target: Path, version: str) -> tuple[str, float]:
    """Make ``version`` live; returns the version that was, and for how many seconds it had been."""
    pointer, staging = target / CURRENT, target / f"{TEMPORARY}{CURRENT}"
    previous = pointer.read_text(encoding="utf-8").strip() if pointer.exists() else ""
    unchanged_for = time.time() - pointer.stat().st_mtime if pointer.exists() else float("inf")
    _write(staging, f"{version}\n".encode())
    os.replace(staging, pointer)
    return previous, unchanged_for


def _prune(target: Path, *, spare: tuple[str, ...], versions_too: bool) -> None:
    """Delete crashed writers' leftovers and old-layout files (we hold the lock), and with
    ``versions_too`` every version but ``spare`` and the newest KEEP."""
    old = [name for name in versions(target)[:-KEEP] if versions_too and name not in spare]
    leftovers = [path.name for path in target.iterdir() if path.name.startswith(TEMPORARY) or path.name in INDEX_FILES]
    for path in [target / name for name in old + leftovers]:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def _lock(target: Path) -> Iterator[None]:
    with open(target / LOCK, "ab") as handle:  # closing it releases the lock
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield


def _json(data: object) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


# --- reading -----------------------------------------------------------------------------------


def read_manifest(directory: str | Path) -> Manifest | None:
    """The manifest of the live version in ``directory``, or None when there is no readable one."""
    try:
        return Manifest(**json.loads((Path(directory) / current_version(directory) / MANIFEST_FILE).read_bytes()))
    except (OSError, ValueError, TypeError, IndexMismatch):
        return None


def read_index(
    directory: str | Path, *, model: str, dimension: int, multilingual: tuple[str, int] | None = None
) -> StoredIndex:
    """Read and check the live version in ``directory``, built with ``model`` of ``dimension`` (and
    with a multilingual space of ``multilingual`` = (model, dimension), when given).

    Raises `IndexMismatch` when it is missing, incomplete, corrupt, or from another model.
    """
    version = current_version(directory)
    folder = Path(directory) / version
    names = (*INDEX_FILES, *MULTILINGUAL_FILES) if multilingual else INDEX_FILES
    try:  # open all files first: open files stay readable even if the version is pruned meanwhile
        with contextlib.ExitStack() as stack:
            files = [stack.enter_context(open(folder / name, "rb")) for name in names]
            raw = dict(zip(names, [file.read() for file in files], strict=True))
    except FileNotFoundError as error:
        raise IndexMismatch(f"index at {folder} is incomplete: {Path(error.filename).name} is missing") from None

    manifest = _parse(folder / MANIFEST_FILE, lambda: Manifest(**json.loads(raw[MANIFEST_FILE])))
    space = (manifest.multilingual.get("model"), manifest.multilingual.get("dimension")) if multilingual else None
    for key, found, expected in (("format", manifest.format, FORMAT), ("model", manifest.model, model),
                                 ("dimension", manifest.dimension, dimension),
                                 ("multilingual model and dimension", space, multilingual)):
        if found != expected:  # differs e.g. when the index was built with another embedder
            raise IndexMismatch(f"index at {folder} has {key} {found!r}, expected {expected!r}: rebuild the index")
    stored = StoredIndex(
        manifest=manifest,
        articles=_parse(folder / ARTICLES_FILE, lambda: _articles(json.loads(raw[ARTICLES_FILE]))),
        entries=_parse(folder / ENTRIES_FILE, lambda: _entries(json.loads(raw[ENTRIES_FILE]))),
        vectors=_parse(folder / FAISS_FILE, lambda: _faiss(raw[FAISS_FILE])),
        prototypes=_parse(folder / PROTOTYPES_FILE, lambda: _faiss(raw[PROTOTYPES_FILE])),
        version=version,
        multilingual=_optional_faiss(folder, raw, MULTILINGUAL_FILE),
        multilingual_prototypes=_optional_faiss(folder, raw, MULTILINGUAL_PROTOTYPES_FILE),
    )
    _check_consistency(folder, stored)
    return stored


def current_version(directory: str | Path) -> str:
    """The name of the live version (raises IndexMismatch when there is none)."""
    target = Path(directory)
    try:
        version = (target / CURRENT).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        raise IndexMismatch(f"no index at {target}: build it first") from None
    if not _VERSION.fullmatch(version):
        raise IndexMismatch(f"index file {target / CURRENT} is corrupt: it names no version; rebuild the index")
    return version


def _parse(path: Path, parse: Callable[[], _T]) -> _T:
    try:
        return parse()
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        problem = (str(error).strip().splitlines() or [type(error).__name__])[-1]
        raise IndexMismatch(f"index file {path} is corrupt ({problem}); rebuild the index") from None


def _optional_faiss(folder: Path, raw: dict[str, bytes], name: str) -> faiss.Index | None:
    return _parse(folder / name, lambda: _faiss(raw[name])) if name in raw else None


def _faiss(data: bytes) -> faiss.Index:
    return faiss.deserialize_index(np.frombuffer(data, np.uint8))


def _articles(items: list[dict[str, Any]]) -> tuple[ArticleRecord, ...]:
    return tuple(ArticleRecord(**{**i, "tags": tuple(i["tags"]), "questions": tuple(i["questions"])}) for i in items)


def _entries(items: list[dict[str, Any]]) -> tuple[Entry, ...]:
    if [item["row"] for item in items] != list(range(len(items))):
        raise ValueError("rows are not numbered 0, 1, 2, ...")
    if any(item["kind"] not in ENTRY_KINDS for item in items):
        raise ValueError("unknown entry kind")
    return tuple(Entry(article_id=item["article_id"], kind=item["kind"], text=item["text"]) for item in items)


def _check_consistency(folder: Path, stored: StoredIndex) -> None:
    manifest, vectors, entries, articles = stored.manifest, stored.vectors, stored.entries, stored.articles
    prototypes = stored.multilingual_prototypes
    ids = {record.id for record in articles}
    unknown = sorted({entry.article_id for entry in entries} - ids)
    checks = [
        (vectors.d == manifest.dimension, f"{FAISS_FILE} has dimension {vectors.d}, the manifest {manifest.dimension}"),
        (
            vectors.ntotal == len(entries) == manifest.entries,
            f"{FAISS_FILE} has {vectors.ntotal} rows, {ENTRIES_FILE} {len(entries)}, the manifest {manifest.entries}",
        ),
        (len(articles) == manifest.articles == len(ids), f"{ARTICLES_FILE} has {len(ids)} distinct articles"),
        (
            stored.multilingual is None
            or (stored.multilingual.d, stored.multilingual.ntotal)
            == (manifest.multilingual["dimension"], len(entries)),
            f"{MULTILINGUAL_FILE} does not have one row of the manifest's dimension per entry",
        ),
        (
            all(index is None or (index.d, index.ntotal) == (space.d, len(stored.topics))
                for space, index in ((vectors, stored.prototypes), (stored.multilingual, prototypes))
                if space is not None),
            "the prototypes do not have one row of their space's dimension per topic",
        ),
        (not unknown, f"{ENTRIES_FILE} refers to unknown articles {', '.join(unknown[:3])}"),
        (fingerprint(articles) == manifest.fingerprint, f"{ARTICLES_FILE} does not match the manifest's fingerprint"),
    ]
    problems = [problem for ok, problem in checks if not ok]
    if problems:
        raise IndexMismatch(f"index at {folder} is inconsistent: {'; '.join(problems)}; rebuild the index")
