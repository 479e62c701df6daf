"""The on-disk index format (version 1) and its atomic replacement.

An index directory holds:

- ``index.faiss``: a FAISS ``IndexFlatIP`` over unit vectors, one row per entry;
- ``entries.json``: ``[{"row", "article_id", "kind", "text"}]``, one item per row;
- ``articles.json``: ``[{"id", "title", "url", "body", "locale", "tags", "questions"}]``;
- ``manifest.json``: ``{"format": 1, "model", "dimension", "fingerprint", "entries", "articles",
  "built_at"}``.

Writers build a complete copy in a hidden sibling directory and swap it in with renames (an
atomic exchange on Linux), under a lock file next to the directory. Readers open the directory
once and read every file relative to that handle, so they never mix files of two versions.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import faiss
import numpy as np

from .articles import ArticleFields, fingerprint
from .entries import Entry, EntryKind

__all__ = [
    "FORMAT",
    "ArticleRecord",
    "IndexMismatch",
    "Manifest",
    "StoredIndex",
    "read_index",
    "read_manifest",
    "write_index",
]

FORMAT = 1
FAISS_FILE = "index.faiss"
ENTRIES_FILE = "entries.json"
ARTICLES_FILE = "articles.json"
MANIFEST_FILE = "manifest.json"
INDEX_FILES = (FAISS_FILE, ENTRIES_FILE, ARTICLES_FILE, MANIFEST_FILE)
_ENTRY_KINDS: tuple[EntryKind, ...] = ("question", "title", "body")


class IndexMismatch(Exception):
    """The index directory cannot be used: missing, incomplete, corrupt, or built differently."""


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

    @classmethod
    def from_article(cls, article: ArticleFields) -> ArticleRecord:
        return cls(
            id=article.id,
            title=article.title,
            url=article.url,
            body=article.body,
            locale=article.locale,
            tags=tuple(article.tags),
            questions=tuple(article.questions),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "url": self.url,
            "body": self.body,
            "locale": self.locale,
            "tags": list(self.tags),
            "questions": list(self.questions),
        }


@dataclass(frozen=True)
class Manifest:
    format: int
    model: str
    dimension: int
    fingerprint: str
    entries: int
    articles: int
    built_at: str

    def __getitem__(self, key: str) -> str | int:
        """Read access by ``manifest.json`` key, e.g. ``manifest["model"]``."""
        return cast("str | int", self.to_json()[key])

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "model": self.model,
            "dimension": self.dimension,
            "fingerprint": self.fingerprint,
            "entries": self.entries,
            "articles": self.articles,
            "built_at": self.built_at,
        }


@dataclass(frozen=True)
class StoredIndex:
    manifest: Manifest
    articles: tuple[ArticleRecord, ...]
    entries: tuple[Entry, ...]
    vectors: faiss.Index


# --- writing -----------------------------------------------------------------------------------


def write_index(
    directory: str | Path,
    *,
    manifest: Manifest,
    articles: Sequence[ArticleRecord],
    entries: Sequence[Entry],
    vectors: faiss.Index,
) -> None:
    """Write a complete index and atomically put it in place of ``directory``.

    An existing ``directory`` is only replaced when it is empty or holds nothing but index files,
    so a mistyped path cannot delete unrelated data.
    """
    target = Path(os.path.abspath(directory))  # so "." or "a/.." have a real name and parent
    if not target.name:
        raise IndexMismatch(f"refusing to write an index to {directory}")
    _check_replaceable(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _writer_lock(target):
        _remove_stale_siblings(target)
        staging = _make_sibling(target, "tmp")
        try:
            _write_json(staging / ARTICLES_FILE, [record.to_json() for record in articles])
            _write_json(
                staging / ENTRIES_FILE,
                [
                    {"row": row, "article_id": entry.article_id, "kind": entry.kind, "text": entry.text}
                    for row, entry in enumerate(entries)
                ],
            )
            _write_bytes(staging / FAISS_FILE, faiss.serialize_index(vectors).tobytes())
            _write_json(staging / MANIFEST_FILE, manifest.to_json())  # last: marks it complete
            _fsync_directory(staging)
            _swap_into_place(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


def _check_replaceable(target: Path) -> None:
    if target.is_symlink():
        raise IndexMismatch(f"refusing to replace {target}: it is a symbolic link")
    if not target.exists():
        return
    if not target.is_dir():
        raise IndexMismatch(f"refusing to replace {target}: it is not a directory")
    foreign = sorted(child.name for child in target.iterdir() if child.name not in INDEX_FILES)
    if foreign:
        raise IndexMismatch(
            f"refusing to replace {target}: it is not an index directory (it contains {', '.join(foreign[:3])})"
        )


def _swap_into_place(staging: Path, target: Path) -> None:
    if not target.exists():
        try:
            os.rename(staging, target)
            _fsync_directory(target.parent)
            return
        except OSError as error:
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            # Someone created it meanwhile (without our lock); replace it below.
    if _exchange(staging, target):
        shutil.rmtree(staging)  # now holds the previous index
    else:
        retired = _make_sibling(target, "old")
        os.rename(target, retired / "index")
        os.rename(staging, target)
        shutil.rmtree(retired)
    _fsync_directory(target.parent)


def _make_sibling(target: Path, purpose: str) -> Path:
    """A new hidden directory next to ``target``, with the usual umask-based permissions."""
    while True:
        path = target.parent / f".{target.name}.{purpose}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two directories (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _remove_stale_siblings(target: Path) -> None:
    """Remove staging directories left behind by writers that crashed (we hold the lock)."""
    for prefix in (f".{target.name}.tmp-", f".{target.name}.old-"):
        for stale in target.parent.glob(prefix + "*"):
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)


@contextlib.contextmanager
def _writer_lock(target: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # not POSIX: no inter-process lock
        yield
        return
    with open(target.parent / f".{target.name}.lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _write_json(path: Path, data: object) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    _write_bytes(path, text.encode("utf-8"))


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_directory(path: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- reading -----------------------------------------------------------------------------------


def read_manifest(directory: str | Path) -> Manifest | None:
    """The manifest of the index in ``directory``, or None when there is no readable one."""
    path = Path(directory) / MANIFEST_FILE
    try:
        return _parse_manifest(json.loads(path.read_bytes()), path)
    except (OSError, ValueError, IndexMismatch):
        return None


def read_index(directory: str | Path, *, model: str, dimension: int) -> StoredIndex:
    """Read and check the index in ``directory``, built with ``model`` of ``dimension``.

    Raises `IndexMismatch` when it is missing, incomplete, corrupt, or from another model.
    """
    target = Path(directory)
    attempts = 4
    for attempt in range(1, attempts + 1):
        try:
            return _read_snapshot(target, model=model, dimension=dimension)
        except _Replaced:
            if attempt == attempts:
                raise IndexMismatch(f"index at {target} kept being replaced while it was read") from None
            time.sleep(0.02 * attempt)
    raise AssertionError("unreachable")


class _Replaced(Exception):
    """The directory was swapped for a new version while we were reading it."""


def _read_snapshot(target: Path, *, model: str, dimension: int) -> StoredIndex:
    try:
        handle = _DirectoryHandle(target)
    except FileNotFoundError:
        if any(target.parent.glob(f".{target.name}.old-*")):
            raise _Replaced() from None  # a writer without atomic exchange is between its renames
        raise IndexMismatch(f"no index at {target}: build it first") from None
    except NotADirectoryError:
        raise IndexMismatch(f"no index at {target}: it is not a directory") from None
    with handle:
        try:
            manifest = _parse_manifest(handle.read_json(MANIFEST_FILE), target / MANIFEST_FILE)
            if manifest.model != model:
                raise IndexMismatch(
                    f"index at {target} was built with model {manifest.model!r}, "
                    f"but the embedder is {model!r}: rebuild the index"
                )
            if manifest.dimension != dimension:
                raise IndexMismatch(
                    f"index at {target} has {manifest.dimension}-dimensional vectors, "
                    f"but the embedder makes {dimension}-dimensional ones: rebuild the index"
                )
            articles = _parse_articles(handle.read_json(ARTICLES_FILE), target / ARTICLES_FILE)
            entries = _parse_entries(handle.read_json(ENTRIES_FILE), target / ENTRIES_FILE)
            vectors = _parse_vectors(handle.read_bytes(FAISS_FILE), target / FAISS_FILE)
        except FileNotFoundError as error:
            if handle.replaced():
                raise _Replaced() from None
            raise IndexMismatch(f"index at {target} is incomplete: {Path(error.filename).name} is missing") from None
    _check_consistency(target, manifest, articles, entries, vectors)
    return StoredIndex(manifest=manifest, articles=articles, entries=entries, vectors=vectors)


class _DirectoryHandle:
    """Reads files of one directory version, even if the path is renamed meanwhile (POSIX)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        if os.open in os.supports_dir_fd and hasattr(os, "O_DIRECTORY"):
            self._fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        elif not path.exists():
            raise FileNotFoundError(errno.ENOENT, "no such directory", str(path))
        elif not path.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(path))

    def __enter__(self) -> _DirectoryHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def read_bytes(self, name: str) -> bytes:
        if self._fd is None:
            return (self.path / name).read_bytes()
        try:
            fd = os.open(name, os.O_RDONLY, dir_fd=self._fd)
        except FileNotFoundError:
            raise FileNotFoundError(errno.ENOENT, "no such file", str(self.path / name)) from None
        with os.fdopen(fd, "rb") as file:
            return file.read()

    def read_json(self, name: str) -> Any:
        data = self.read_bytes(name)
        try:
            return json.loads(data)
        except ValueError as error:
            raise IndexMismatch(f"index file {self.path / name} is corrupt: {error}") from None

    def replaced(self) -> bool:
        if self._fd is None:
            return False
        try:
            current = os.stat(self.path)
        except FileNotFoundError:
            return True
        opened = os.fstat(self._fd)
        return (current.st_dev, current.st_ino) != (opened.st_dev, opened.st_ino)


def _corrupt(path: Path, problem: str) -> IndexMismatch:
    return IndexMismatch(f"index file {path} is corrupt: {problem}; rebuild the index")


def _parse_manifest(data: Any, path: Path) -> Manifest:
    if not isinstance(data, dict):
        raise _corrupt(path, "not an object")
    if data.get("format") != FORMAT:
        raise IndexMismatch(
            f"index file {path} has format {data.get('format')!r}, expected {FORMAT}: rebuild the index"
        )
    fields: dict[str, type] = {
        "model": str,
        "dimension": int,
        "fingerprint": str,
        "entries": int,
        "articles": int,
        "built_at": str,
    }
    for key, kind in fields.items():
        value = data.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise _corrupt(path, f"{key!r} is missing or not a {kind.__name__}")
    return Manifest(
        format=FORMAT,
        model=data["model"],
        dimension=data["dimension"],
        fingerprint=data["fingerprint"],
        entries=data["entries"],
        articles=data["articles"],
        built_at=data["built_at"],
    )


def _parse_articles(data: Any, path: Path) -> tuple[ArticleRecord, ...]:
    if not isinstance(data, list):
        raise _corrupt(path, "not a list")
    records: list[ArticleRecord] = []
    for item in data:
        try:
            record = ArticleRecord(
                id=_typed(item["id"], str),
                title=_typed(item["title"], str),
                url=None if item["url"] is None else _typed(item["url"], str),
                body=_typed(item["body"], str),
                locale=_typed(item["locale"], str),
                tags=tuple(_typed(tag, str) for tag in _typed(item["tags"], list)),
                questions=tuple(_typed(question, str) for question in _typed(item["questions"], list)),
            )
        except (KeyError, TypeError) as error:
            raise _corrupt(path, f"bad article record ({error})") from None
        records.append(record)
    return tuple(records)


def _parse_entries(data: Any, path: Path) -> tuple[Entry, ...]:
    if not isinstance(data, list):
        raise _corrupt(path, "not a list")
    entries: list[Entry] = []
    for row, item in enumerate(data):
        try:
            if _typed(item["row"], int) != row:
                raise _corrupt(path, f"row {row} is numbered {item['row']}")
            kind = _typed(item["kind"], str)
            if kind not in _ENTRY_KINDS:
                raise _corrupt(path, f"row {row} has unknown kind {kind!r}")
            article_id, text = _typed(item["article_id"], str), _typed(item["text"], str)
            entries.append(Entry(article_id=article_id, kind=cast(EntryKind, kind), text=text))
        except (KeyError, TypeError) as error:
            raise _corrupt(path, f"bad entry at row {row} ({error})") from None
    return tuple(entries)


def _parse_vectors(data: bytes, path: Path) -> faiss.Index:
    try:
        return faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
    except RuntimeError as error:
        raise _corrupt(path, str(error).strip().splitlines()[-1] if str(error).strip() else "unreadable") from None


def _typed(value: Any, kind: type) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _check_consistency(
    target: Path,
    manifest: Manifest,
    articles: tuple[ArticleRecord, ...],
    entries: tuple[Entry, ...],
    vectors: faiss.Index,
) -> None:
    problems: list[str] = []
    if vectors.d != manifest.dimension:
        problems.append(f"{FAISS_FILE} has dimension {vectors.d}, the manifest says {manifest.dimension}")
    if not (vectors.ntotal == len(entries) == manifest.entries):
        problems.append(
            f"{FAISS_FILE} has {vectors.ntotal} rows, {ENTRIES_FILE} {len(entries)}, the manifest {manifest.entries}"
        )
    if len(articles) != manifest.articles:
        problems.append(f"{ARTICLES_FILE} has {len(articles)} articles, the manifest {manifest.articles}")
    ids = {record.id for record in articles}
    if len(ids) != len(articles):
        problems.append(f"{ARTICLES_FILE} has duplicate ids")
    unknown = sorted({entry.article_id for entry in entries} - ids)
    if unknown:
        problems.append(f"{ENTRIES_FILE} refers to unknown articles {', '.join(unknown[:3])}")
    if fingerprint(articles) != manifest.fingerprint:
        problems.append(f"{ARTICLES_FILE} does not match the manifest's fingerprint")
    if problems:
        raise IndexMismatch(f"index at {target} is inconsistent: {'; '.join(problems)}; rebuild the index")
