"""What the editors' REST calls take and answer (docs/protocol.md, "REST", docs/editing.md): the article
files, drafts, trying a question, and publishing."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field

from handoff.wire.fields import FileText, OptionalText, Payload, Reply, Text

MAX_ARTICLE_TEXT = 200_000  # characters of an article file
VERSION_LENGTH = 64
MAX_QUESTION = 500


class ArticlesQuery(Payload):
    """`GET /api/articles`: ``q`` filters (every word of it, any case)."""

    q: str = Field("", max_length=MAX_QUESTION)


class CreateArticle(Payload):
    path: Annotated[str, Text(200)]
    text: Annotated[str, FileText(MAX_ARTICLE_TEXT)]


class CreateDraft(Payload):
    case_id: Annotated[str, Text(64)]


class UpdateArticle(Payload):
    text: Annotated[str, FileText(MAX_ARTICLE_TEXT)]
    version: Annotated[str, Text(VERSION_LENGTH)]


class AddQuestion(Payload):
    question: Annotated[str, Text(MAX_QUESTION)]
    version: Annotated[str | None, OptionalText(VERSION_LENGTH)] = None


class TryQuestion(Payload):
    question: Annotated[str, Text(MAX_QUESTION)]


class ArticleSummary(Reply):
    id: str
    title: str
    locale: str
    tags: list[str]
    translation_of: str | None
    questions: int = Field(ge=0)
    draft: bool
    path: str


class ArticleFile(Reply):
    id: str
    title: str
    locale: str
    tags: list[str]
    url: str | None
    translation_of: str | None
    questions: list[str]
    body: str
    draft: bool
    path: str
    version: str
    text: str


class TryHit(Reply):
    article_id: str
    title: str
    url: str | None
    score: float
    similarity: float
    matched: str


class DecisionKind(StrEnum):
    ANSWER = "answer"
    CLARIFY = "clarify"
    ESCALATE = "escalate"


class Decision(Reply):
    kind: DecisionKind
    article_ids: list[str]
    confidence: float
    reason: str


class Tried(Reply):
    """`POST /api/kb/try`: what the bot's search and decision make of a question."""

    index_version: str
    language: str
    model: str
    hits: list[TryHit]
    decision: Decision


class Articles(Reply):
    articles: list[ArticleSummary]


class ArticleReply(Reply):
    article: ArticleFile


class DraftReply(Reply):
    article: ArticleFile
    case_id: str


class PublishStep(Reply):
    name: Literal["check", "index", "rasa", "gate", "publish"]
    state: Literal["waiting", "running", "done", "failed"]
    detail: str
    seconds: float


class Progress(Reply):
    done: int = Field(ge=0)
    total: int = Field(ge=0)


class PublishJob(Reply):
    """A publish as the editor follows it (docs/editing.md, "Publishing"); ``report``: the quality gate's
    (GateReport, docs/protocol.md)."""

    id: str
    by: str
    started_at: str
    state: Literal["running", "published", "refused", "failed"]
    steps: list[PublishStep]
    progress: Progress
    report: dict[str, Any] | None
    version: str
    error: str
    seconds: float


class PublishReply(Reply):
    job: PublishJob


class LastPublish(Reply):
    job: PublishJob | None


class Publishes(Reply):
    """The publish history, newest first: each entry as the history file keeps it (docs/protocol.md)."""

    publishes: list[dict[str, Any]]


class RolledBack(Reply):
    rollback: dict[str, Any]
