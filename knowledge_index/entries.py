"""Index entries: the texts embedded for each article.

Each article contributes one entry per example question, one for its title and one for the first
paragraph of its body (as plain text). A long article (over `LONG_ARTICLE_WORDS` words) is also
split into sections at its Markdown headings, each section (its heading and text) cut at paragraph
boundaries into chunks of at most about `SECTION_WORDS` words, and every chunk is an entry too; so a
question about something deep in a long article finds it, and the hit is still the article.
Duplicate texts within an article are indexed once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .articles import ArticleFields

__all__ = ["ENTRY_KINDS", "LONG_ARTICLE_WORDS", "SECTION_WORDS", "Entry", "EntryKind", "entries_for"]
__all__ += ["first_paragraph", "sections"]

EntryKind = Literal["question", "title", "body", "section"]
ENTRY_KINDS = ("question", "title", "body", "section")
LONG_ARTICLE_WORDS = 150
SECTION_WORDS = 120  # all-MiniLM-L6-v2 reads 256 word pieces; 120 words stay well inside


@dataclass(frozen=True)
class Entry:
    article_id: str
    kind: EntryKind
    text: str


def entries_for(article: ArticleFields) -> list[Entry]:
    candidates: list[tuple[EntryKind, str]] = [("question", question) for question in article.questions]
    candidates.append(("title", article.title))
    paragraph = first_paragraph(article.body)
    if paragraph:
        candidates.append(("body", paragraph))
    if len(_plain(article.body).split()) > LONG_ARTICLE_WORDS:
        candidates += [("section", section) for section in sections(article.body)]

    entries: list[Entry] = []
    seen: set[str] = set()
    for kind, text in candidates:
        text = _collapse(text)
        key = text.casefold()
        if text and key not in seen:
            seen.add(key)
            entries.append(Entry(article_id=article.id, kind=kind, text=text))
    return entries


_BLANK_LINES = re.compile(r"\n[ \t]*\n")
_HEADING = re.compile(r"^#{1,6}(\s|$)")
_RULE = re.compile(r"^([-*_]\s*){3,}$")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_LINE_PREFIX = re.compile(r"^\s*(>\s*)*([-*+]\s+|\d+[.)]\s+)?")
_EMPHASIS = re.compile(r"(\*\*|__|`)")
_SINGLE_STAR = re.compile(r"(?<!\w)\*([^*\n]+)\*(?!\w)")


def first_paragraph(body: str) -> str:
    """The first paragraph of Markdown ``body`` with its markup removed.

    Headings, horizontal rules and code fences are skipped, so a body that starts with a heading
    yields the paragraph under it.
    """
    in_fence = False
    for block in _BLANK_LINES.split(body.replace("\r\n", "\n")):
        lines: list[str] = []
        for line in block.split("\n"):
            stripped = line.strip()
            if stripped.startswith(("```", "~~~")):
                in_fence = not in_fence
                continue
            if in_fence or not stripped or _HEADING.match(stripped) or _RULE.match(stripped):
                continue
            lines.append(_LINE_PREFIX.sub("", line))
        text = _plain(" ".join(lines))
        if text:
            return text
    return ""


def sections(body: str, words: int = SECTION_WORDS) -> list[str]:
    """Markdown ``body`` as plain-text chunks: split at headings (the heading starts its chunk),
    then at paragraph boundaries so that a chunk has at most ``words`` words (a longer paragraph is
    a chunk of its own)."""
    chunks: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            chunks.append(" ".join(current))
            current.clear()

    in_fence = False
    for block in _BLANK_LINES.split(body.replace("\r\n", "\n")):
        for line in block.split("\n"):
            stripped = line.strip()
            if stripped.startswith(("```", "~~~")):
                in_fence = not in_fence
            elif _HEADING.match(stripped) and not in_fence:
                flush()
                current.append(_plain(_HEADING.sub("", stripped)))
        text = _plain(" ".join(_LINE_PREFIX.sub("", line) for line in block.split("\n")
                               if not _HEADING.match(line.strip()) and not line.strip().startswith(("```", "~~~"))))
        if not text:
            continue
        if current and len(" ".join([*current, text]).split()) > words:
            heading_only = len(current) == 1 and len(current[0].split()) <= 12
            if not heading_only:
                flush()
        current.append(text)
    flush()
    return [chunk for chunk in chunks if chunk]


def _plain(markdown: str) -> str:
    text = _IMAGE.sub(r"\1", markdown)
    text = _LINK.sub(r"\1", text)
    text = _EMPHASIS.sub("", text)
    text = _SINGLE_STAR.sub(r"\1", text)
    return _collapse(text)


def _collapse(text: str) -> str:
    return " ".join(text.split())


_BULLET = re.compile(r"^(\s*)[-*+]\s+")


def plain_text(markdown: str) -> str:
    """Markdown as plain text for a chat message: markup removed, lines and list numbers kept."""
    lines = []
    for line in markdown.replace("\r\n", "\n").split("\n"):
        line = _BULLET.sub(r"\1• ", line.rstrip())
        line = _HEADING.sub("", line.strip()) if _HEADING.match(line.strip()) else line
        text = _IMAGE.sub(r"\1", line)
        text = _LINK.sub(r"\1", text)
        lines.append(_SINGLE_STAR.sub(r"\1", _EMPHASIS.sub("", text)))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
