"""Editing the article files: list, read, create and update them under the articles directory.

The files stay the source of truth (docs/editing.md). Every write is validated first by the knowledge
base's own parser, on the whole set of articles as it would be after the write (so a duplicate id or
a broken translation is refused too), and refused with the file and line, writing nothing. A write
goes to a hidden temporary file beside its target, then replaces it (`os.replace`), so a reader (or
`kb build`) sees the old file or the new one, never half of one. Writes stay inside the directory.

Concurrent edits: `ArticleFile.version` is a digest of the file's bytes; an update names the version
it was based on, and a file changed since is a `VersionConflict`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from .articles import (
    Article,
    ArticleError,
    parse_article,
    read_article_files,
    validate_articles,
)

__all__ = ["ArticleFile", "ArticleFiles", "ArticleNotFound", "EditRefused", "VersionConflict", "yaml_scalar"]

MAX_FILE_BYTES = 256 * 1024
DRAFTS = "drafts"  # the folder of new drafts (docs/editing.md, "Drafts")
MAX_BASE_ID = 58  # of a draft's id, leaving room for "-" and a number within the 64 an id may have


class ArticleNotFound(LookupError):
    """No article has that id."""


class VersionConflict(Exception):
    """The file changed since the version an update was based on (or exists already, on a create)."""


class EditRefused(ValueError):
    """A request that is not about an article's content: a path outside the directory, a changed id."""


@dataclass(frozen=True)
class ArticleFile:
    article: Article
    path: str  # relative to the articles directory, with "/"
    text: str
    version: str  # sha256 of the file's bytes


def version_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ArticleFiles:
    """The article files under ``root``. Blocking (file I/O): call it from a thread in the app."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()

    def all(self) -> list[ArticleFile]:
        """Every article, sorted by id; an invalid set of files raises `ArticleError` (file:line)."""
        files = read_article_files(self.root)
        by_path = {path: text for path, text in files}
        return [self._file(article, by_path[article.path]) for article in validate_articles(files)]

    def search(self, query: str = "") -> list[ArticleFile]:
        """The articles whose id, title, tags, questions or body contain every word of ``query`` (any case)."""
        words = query.lower().split()
        found = []
        for item in self.all():
            a = item.article
            haystack = "\n".join((a.id, a.title, *a.tags, *a.questions, a.body)).lower()
            if all(word in haystack for word in words):
                found.append(item)
        return found

    def get(self, article_id: str) -> ArticleFile:
        for item in self.all():
            if item.article.id == article_id:
                return item
        raise ArticleNotFound(article_id)

    def check(self) -> list[ArticleError]:
        """Every problem of the files: each file alone, then (when each is valid) the whole set."""
        errors: list[ArticleError] = []
        try:
            files = read_article_files(self.root)
        except ArticleError as error:
            return [error]
        for path, text in files:
            try:
                parse_article(text, path)
            except ArticleError as error:
                errors.append(error)
        if not errors:
            try:
                validate_articles(files)
            except ArticleError as error:
                errors.append(error)
        return errors

    def create(self, relative_path: str, text: str) -> ArticleFile:
        """Write a new article file at ``relative_path`` (e.g. ``bikes/bike-returns.md``)."""
        target = self._target(relative_path)
        with self._writing():
            if target.exists():
                raise VersionConflict(f"{self._relative(target)}: a file already exists there")
            article = self._validated(target, text)
            self._write(target, text)
        return self._file(article, text)

    def create_draft(self, base_id: str, render: Callable[[str], str]) -> ArticleFile:
        """Write a new article at ``drafts/<id>.md`` with the text ``render(id)``: the id is ``base_id``
        (cut to MAX_BASE_ID), or that with "-2", "-3"... when an article or a file has it already."""
        base_id = base_id[:MAX_BASE_ID].strip("-")
        with self._writing():
            taken = {article.id for article in validate_articles(read_article_files(self.root))}
            for n in itertools.count(1):
                article_id = base_id if n == 1 else f"{base_id}-{n}"
                target = self._target(f"{DRAFTS}/{article_id}.md")
                if article_id not in taken and not target.exists():
                    break
            text = render(article_id)
            article = self._validated(target, text)
            self._write(target, text)
        return self._file(article, text)

    def update(self, article_id: str, text: str, based_on: str) -> ArticleFile:
        """Replace the file of ``article_id`` with ``text``, if it is still at version ``based_on``."""
        with self._writing():
            current = self.get(article_id)
            if current.version != based_on:
                raise VersionConflict(f"{current.path}: changed since version {based_on[:12]}; "
                                      f"reload it (now {current.version[:12]})")
            target = Path(current.article.path)
            article = self._validated(target, text)
            if article.id != article_id:
                raise EditRefused(f"id: an article's id does not change (it is {article_id!r})")
            self._write(target, text)
        return self._file(article, text)

    def add_question(self, article_id: str, question: str, based_on: str | None = None) -> ArticleFile:
        """Append an example question to the article's ``questions`` (at ``based_on``, when given)."""
        question = " ".join(question.split())
        with self._writing():
            current = self.get(article_id)
            if based_on is not None and current.version != based_on:
                raise VersionConflict(f"{current.path}: changed since version {based_on[:12]}; reload it")
            if question in current.article.questions:
                raise EditRefused(f"question: {current.path} already has it")
            target = Path(current.article.path)
            text = with_question(current.text, question)
            article = self._validated(target, text)
            self._write(target, text)
        return self._file(article, text)

    def snapshot(self) -> tuple[list[Article], dict[str, str]]:
        """The validated articles but drafts (what the bot answers from) and the text of every article
        file (by relative path), read once, so that a publish records exactly the files it indexed.
        Raises `ArticleError` for an invalid set."""
        files = read_article_files(self.root)
        ready = [article for article in validate_articles(files) if not article.draft]
        return ready, {self._relative(Path(path)): text for path, text in files}

    def restore(self, wanted: dict[str, str], published: dict[str, str]) -> tuple[list[str], list[str]]:
        """Put the files back as ``wanted`` (relative path: text), for a rollback from the ``published``
        files: a file still as published is rewritten (or deleted when ``wanted`` lacks it); a file
        edited since is kept, as an edit to publish later. Returns (restored, kept) paths. Refused
        (`ArticleError`) when the files would not be a valid set."""
        with self._writing():
            current = {self._relative(Path(path)): text for path, text in read_article_files(self.root)}
            restored: list[str] = []
            kept: list[str] = []
            for path in sorted(set(wanted) | set(published)):
                if current.get(path) == wanted.get(path):
                    continue
                (restored if current.get(path) == published.get(path) else kept).append(path)
            after = {**current, **{path: wanted.get(path) for path in restored}}
            validate_articles([(str(self.root / path), text) for path, text in after.items() if text is not None])
            for path in restored:
                if path in wanted:
                    self._write(self._target(path), wanted[path])
                else:
                    self._target(path).unlink(missing_ok=True)
        return restored, kept

    # --- helpers -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """One write at a time, so that a version check and its write are one step: in this process (a
        lock) and among the processes on this machine (``flock`` on the directory, which creates no file)."""
        if not self.root.is_dir():
            raise ArticleError(str(self.root), 0, "no such articles directory")
        with self._lock:
            directory = os.open(self.root, os.O_RDONLY)
            try:
                fcntl.flock(directory, fcntl.LOCK_EX)
                yield
            finally:
                os.close(directory)  # releases the flock

    def _target(self, relative_path: str) -> Path:
        """The file a relative path names, refusing any that would leave the directory."""
        pure = PurePosixPath(relative_path)
        if (not relative_path or "\\" in relative_path or "\0" in relative_path or pure.is_absolute()
                or any(part in ("", ".", "..") or part.startswith(".") for part in pure.parts)):
            raise EditRefused(f"path {relative_path!r}: must be a relative path like bikes/bike-returns.md, "
                              "without '..' or hidden names")
        if pure.suffix != ".md":
            raise EditRefused(f"path {relative_path!r}: must end in .md")
        target = self.root / pure
        self._check_inside(target)
        return target

    def _check_inside(self, target: Path) -> None:
        """Refuse a file whose directory is outside ours (e.g. through a symbolic link)."""
        if not target.parent.resolve().is_relative_to(self.root.resolve()):
            raise EditRefused(f"path {self._relative(target)!r}: is outside the articles directory")

    def _validated(self, target: Path, text: str) -> Article:
        """The article ``text`` would be at ``target``, validated alone and with all the others."""
        if len(text.encode("utf-8")) > MAX_FILE_BYTES:
            raise ArticleError(str(target), 0, f"longer than {MAX_FILE_BYTES // 1024} KiB")
        article = parse_article(text, str(target))
        others = [(path, body) for path, body in read_article_files(self.root) if Path(path) != target]
        validate_articles([*others, (str(target), text)])
        return article

    def _write(self, target: Path, text: str) -> None:
        self._check_inside(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Hidden (".") so that nothing reads the temporary file as an article.
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(text.encode("utf-8"))
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _file(self, article: Article, text: str) -> ArticleFile:
        return ArticleFile(article, self._relative(Path(article.path)), text, version_of(text.encode("utf-8")))


def with_question(text: str, question: str) -> str:
    """The article file's text with ``question`` appended to its block list of ``questions``, the rest
    of the file (comments, order, layout) unchanged. A flow list (``[a, b]``) is rewritten as a block."""
    lines = text.splitlines(keepends=True)
    closing = next(i for i in range(1, len(lines)) if lines[i].rstrip() == "---")
    root = yaml.compose("".join(lines[1:closing]), Loader=yaml.SafeLoader)
    assert isinstance(root, yaml.MappingNode)
    key, value = next((k, v) for k, v in root.value if k.value == "questions")
    item = yaml_scalar(question)
    if isinstance(value, yaml.SequenceNode) and not value.flow_style and value.value:
        last = value.value[-1]
        dash = " " * max(value.value[0].start_mark.column - 2, 0)
        after = 1 + last.end_mark.line + (1 if last.end_mark.column > 0 else 0)  # file line index after it
        return "".join([*lines[:after], f"{dash}- {item}\n", *lines[after:]])
    items = [str(node.value) for node in getattr(value, "value", [])] + [question]
    start, end = 1 + key.start_mark.line, 1 + value.end_mark.line + (1 if value.end_mark.column > 0 else 0)
    block = "questions:\n" + "".join(f"  - {yaml_scalar(q)}\n" for q in items)
    return "".join([*lines[:start], block, *lines[end:]])


def yaml_scalar(value: str) -> str:
    """``value`` as a YAML scalar: plain when it reads back as itself, else double-quoted (JSON)."""
    try:
        if yaml.safe_load(f"- {value}") == [value]:
            return value
    except yaml.YAMLError:
        pass
    return json.dumps(value, ensure_ascii=False)
