"""Knowledge articles: Markdown files with a YAML front matter.

An article file looks like this::

    ---
    id: bike-returns
    title: Returning a bike
    locale: en                      # optional, default "en"
    tags: [returns, bikes]          # optional, default []
    url: https://example.com/help   # optional
    translation_of: bike-returns    # optional: the id of the article this one translates
    draft: true                     # optional, default false: the bot does not answer from it yet
    questions:
      - How do I return a bike?
    ---
    Answer text in Markdown.

A translation (``locale: de`` and ``translation_of: bike-returns``) is the same topic as its original:
the bot shows it to customers who write in its language and the original to everyone else.

A draft (``draft: true``, e.g. one made from an agent's reply in a resolved case) is an article being
written: editors list and edit it, but `load_articles` leaves it out, so no index holds it and the bot
never answers from it. An editor publishes it by removing ``draft: true`` (or setting it to false).

Validation is strict: every problem is reported as an `ArticleError` naming the file and the
1-based line to fix.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml

__all__ = [
    "Article",
    "ArticleError",
    "ArticleFields",
    "article_paths",
    "fingerprint",
    "load_articles",
    "parse_article",
    "read_article_files",
    "validate_articles",
]

ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{1,63}")
LOCALE_PATTERN = re.compile(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*")
URL_PATTERN = re.compile(r"https?://\S+")
DELIMITER = "---"

REQUIRED_KEYS = ("id", "title", "questions")
OPTIONAL_KEYS = ("locale", "tags", "url", "translation_of", "draft")
KNOWN_KEYS = REQUIRED_KEYS + OPTIONAL_KEYS


class ArticleError(Exception):
    """An invalid article file. ``str(error)`` is ``path:line: message``.

    ``line`` is 1-based; 0 means the problem is not tied to one line (e.g. an unreadable file).
    """

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(path, line, message)
        self.path = path
        self.line = line
        self.message = message

    def __str__(self) -> str:
        if self.line > 0:
            return f"{self.path}:{self.line}: {self.message}"
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    body: str
    locale: str
    tags: tuple[str, ...]
    questions: tuple[str, ...]
    url: str | None
    path: str
    translation_of: str | None = None
    translation_line: int = 0  # the line of ``translation_of``, for errors
    draft: bool = False  # not answered from until an editor publishes it


class ArticleFields(Protocol):
    """The article fields that define its content (everything but where it was read from)."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def locale(self) -> str: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def questions(self) -> tuple[str, ...]: ...
    @property
    def url(self) -> str | None: ...
    @property
    def translation_of(self) -> str | None: ...


def load_articles(directory: str | Path, *, drafts: bool = False) -> list[Article]:
    """Read and validate every ``*.md`` file under ``directory`` (recursively), sorted by id; the
    published ones only, unless ``drafts``.

    Hidden files and directories (names starting with ".") are skipped. Ids must be unique
    across files, drafts included.
    """
    articles = validate_articles(read_article_files(directory))
    return articles if drafts else [article for article in articles if not article.draft]


def article_paths(directory: str | Path) -> list[Path]:
    """The article files under ``directory``: every ``*.md`` (recursively) but hidden ones, sorted."""
    root = Path(directory)
    if not root.is_dir():
        raise ArticleError(str(root), 0, "no such articles directory")
    return sorted(
        path
        for path in root.rglob("*.md")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts)
    )


def read_article_files(directory: str | Path) -> list[tuple[str, str]]:
    """``(path, text)`` of every article file under ``directory`` (`article_paths`)."""
    files: list[tuple[str, str]] = []
    for path in article_paths(directory):
        try:
            files.append((str(path), path.read_text(encoding="utf-8-sig")))
        except UnicodeDecodeError as error:
            raise ArticleError(str(path), 0, f"not valid UTF-8 ({error.reason})") from None
    return files


def validate_articles(files: Iterable[tuple[str, str]]) -> list[Article]:
    """Parse and validate a whole set of article files, given as ``(path, text)``, sorted by id: each
    file alone, then across files (unique ids, translations)."""
    articles: list[Article] = []
    seen: dict[str, tuple[str, int]] = {}
    for path, text in files:
        article, id_line = _parse(text, path)
        if article.id in seen:
            other_path, other_line = seen[article.id]
            raise ArticleError(
                path,
                id_line,
                f"duplicate id {article.id!r}: already used by {other_path}:{other_line}",
            )
        seen[article.id] = (path, id_line)
        articles.append(article)
    articles.sort(key=lambda article: article.id)
    _check_translations(articles)
    return articles


def _check_translations(articles: list[Article]) -> None:
    """A translation names an original (not itself a translation) in another locale, at most one per locale."""
    by_id = {article.id: article for article in articles}
    seen: dict[tuple[str, str], Article] = {}
    for article in articles:
        if article.translation_of is None:
            continue
        original = by_id.get(article.translation_of)
        where = (article.path, article.translation_line)
        if original is None:
            raise ArticleError(*where, f"translation_of {article.translation_of!r}: no article has that id")
        if original.draft and not article.draft:
            raise ArticleError(*where, f"translation_of {original.id!r}: that article is a draft; "
                                       "publish it first, or mark this one a draft too")
        if original.translation_of is not None:
            raise ArticleError(*where, f"translation_of {original.id!r}: that article is itself a translation; "
                                       f"name its original {original.translation_of!r}")
        if original.locale.lower() == article.locale.lower():
            raise ArticleError(*where, f"translation_of {original.id!r}: both articles have locale {article.locale!r}")
        other = seen.setdefault((original.id, article.locale.lower()), article)
        if other is not article:
            raise ArticleError(*where, f"{original.id!r} already has a {article.locale!r} translation: {other.path}")


def parse_article(text: str, path: str) -> Article:
    """Parse one article file's text; ``path`` is only used for errors and `Article.path`."""
    return _parse(text, path)[0]


def _parse(text: str, path: str) -> tuple[Article, int]:
    """Parse an article; also return the line of its ``id`` key."""
    lines = text.splitlines()
    if not lines or lines[0].rstrip() != DELIMITER:
        raise ArticleError(path, 1, f"missing front matter: the file must start with a {DELIMITER!r} line")
    closing = next((i for i in range(1, len(lines)) if lines[i].rstrip() == DELIMITER), None)
    if closing is None:
        raise ArticleError(path, 1, f"front matter is not closed: no {DELIMITER!r} line after this one")
    closing_line = closing + 1
    front_matter = "\n".join(lines[1:closing]) + "\n"
    body = "\n".join(lines[closing + 1 :]).strip()

    root = _compose(front_matter, path)
    if root is None:
        raise ArticleError(path, 1, "front matter is empty")
    if not isinstance(root, yaml.MappingNode):
        raise ArticleError(path, _line(root), "front matter must be a mapping of keys to values")

    fields: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key_node, value_node in root.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
            raise ArticleError(path, _line(key_node), "front matter keys must be plain names")
        key = str(key_node.value)
        if key in fields:
            raise ArticleError(path, _line(key_node), f"duplicate key {key!r}")
        if key not in KNOWN_KEYS:
            known = ", ".join(KNOWN_KEYS)
            raise ArticleError(path, _line(key_node), f"unknown key {key!r} (allowed: {known})")
        fields[key] = (key_node, value_node)

    for key in REQUIRED_KEYS:
        if key not in fields:
            raise ArticleError(path, 1, f"missing required key {key!r}")
    article_id = _string(fields["id"], path, "id")
    if not ID_PATTERN.fullmatch(article_id):
        raise ArticleError(
            path,
            _line(fields["id"][0]),
            f"id {article_id!r} must be 2-64 characters of a-z, 0-9 and '-', not starting with '-'",
        )
    title = _string(fields["title"], path, "title")
    questions = _string_list(fields["questions"], path, "questions", allow_empty_list=False)

    locale = "en"
    if "locale" in fields:
        locale = _string(fields["locale"], path, "locale")
        if not LOCALE_PATTERN.fullmatch(locale):
            raise ArticleError(
                path, _line(fields["locale"][0]), f"locale {locale!r} is not a language tag like 'en' or 'de-CH'"
            )
    tags: tuple[str, ...] = ()
    if "tags" in fields:
        tags = _string_list(fields["tags"], path, "tags", allow_empty_list=True)
    url: str | None = None
    if "url" in fields and not _is_null(fields["url"][1]):
        url = _string(fields["url"], path, "url")
        if not URL_PATTERN.fullmatch(url):
            raise ArticleError(path, _line(fields["url"][0]), f"url {url!r} must be an absolute http(s) URL")
    translation_of: str | None = None
    translation_line = 0
    if "translation_of" in fields:
        translation_of = _string(fields["translation_of"], path, "translation_of")
        translation_line = _line(fields["translation_of"][0])
        if translation_of == article_id:
            raise ArticleError(path, translation_line, "translation_of names the article itself")
    draft = False
    if "draft" in fields:
        key_node, value_node = fields["draft"]
        if not isinstance(value_node, yaml.ScalarNode) or value_node.tag != "tag:yaml.org,2002:bool":
            raise ArticleError(path, _line(key_node), f"draft must be true or false, not {_describe(value_node)}")
        draft = bool(yaml.safe_load(value_node.value))
    if not body:
        raise ArticleError(path, closing_line, "missing body: write the answer text after this line")

    article = Article(
        id=article_id,
        title=title,
        body=body,
        locale=locale,
        tags=tags,
        questions=questions,
        url=url,
        path=path,
        translation_of=translation_of,
        translation_line=translation_line,
        draft=draft,
    )
    return article, _line(fields["id"][0])


def fingerprint(articles: Iterable[ArticleFields]) -> str:
    """A sha256 hex digest of the articles' content (every field but the path), order-independent."""
    canonical = [
        {
            "id": article.id,
            "title": article.title,
            "body": article.body,
            "locale": article.locale,
            "tags": list(article.tags),
            "questions": list(article.questions),
            "url": article.url,
            **({"translation_of": article.translation_of} if article.translation_of else {}),
        }
        for article in sorted(articles, key=lambda article: article.id)
    ]
    data = json.dumps(canonical, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


# --- helpers -----------------------------------------------------------------------------------

# The front matter starts on file line 2, and YAML marks are 0-based.
_FRONT_MATTER_OFFSET = 2


def _compose(front_matter: str, path: str) -> yaml.Node | None:
    try:
        return yaml.compose(front_matter, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + _FRONT_MATTER_OFFSET if mark is not None else 1
        message = error.problem or "syntax error"
        if error.context and error.context_mark is not None:
            message += f" ({error.context} at line {error.context_mark.line + _FRONT_MATTER_OFFSET})"
        raise ArticleError(path, line, f"invalid YAML: {message}") from None
    except yaml.YAMLError as error:
        raise ArticleError(path, 1, f"invalid YAML: {error}") from None


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + _FRONT_MATTER_OFFSET


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _string(field: tuple[yaml.Node, yaml.Node], path: str, key: str) -> str:
    key_node, value_node = field
    if _is_null(value_node):
        raise ArticleError(path, _line(key_node), f"{key} must not be empty")
    if not isinstance(value_node, yaml.ScalarNode) or value_node.tag != "tag:yaml.org,2002:str":
        raise ArticleError(path, _line(key_node), f"{key} must be a string, not {_describe(value_node)}")
    value = str(value_node.value).strip()
    if not value:
        raise ArticleError(path, _line(key_node), f"{key} must not be empty")
    return value


def _string_list(field: tuple[yaml.Node, yaml.Node], path: str, key: str, *, allow_empty_list: bool) -> tuple[str, ...]:
    key_node, value_node = field
    if _is_null(value_node) and not allow_empty_list:
        raise ArticleError(path, _line(key_node), f"{key} must not be empty")
    if _is_null(value_node):
        return ()
    if not isinstance(value_node, yaml.SequenceNode):
        raise ArticleError(path, _line(key_node), f"{key} must be a list of strings, not {_describe(value_node)}")
    if not value_node.value and not allow_empty_list:
        raise ArticleError(path, _line(key_node), f"{key} must not be empty")
    items: list[str] = []
    for item in value_node.value:
        if _is_null(item):
            raise ArticleError(path, _line(item), f"{key} must not contain empty items")
        if not isinstance(item, yaml.ScalarNode) or item.tag != "tag:yaml.org,2002:str":
            raise ArticleError(path, _line(item), f"{key} items must be strings, not {_describe(item)}")
        text = str(item.value).strip()
        if not text:
            raise ArticleError(path, _line(item), f"{key} must not contain empty items")
        items.append(text)
    return tuple(items)


_TAG_NAMES = {
    "tag:yaml.org,2002:null": "null",
    "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:timestamp": "a date (quote it)",
    "tag:yaml.org,2002:str": "a string",
}


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return _TAG_NAMES.get(node.tag, str(node.tag))
