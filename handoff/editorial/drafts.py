"""Draft articles from resolved cases: what an agent replied to a question the bot could not answer.

A draft's example questions are the case's unanswered questions (handoff/reports/content_gaps.py: the
customer's own words that escalated or that an article did not help with), or, when the case has
none (the customer asked for a person), the customer's first message in their own words. Its body
is the agent's messages, joined; its title the first question. Everything is customer or agent text
bound for a public article, so it passes through a mask of every kind of personal data the app
knows (e-mail addresses, phone and card numbers) first, whatever the reports' setting. The file is
written by `ArticleFiles.create_draft` with ``draft: true``: the bot does not answer from it until an
editor has edited it and removed that line (docs/editing.md, "Drafts").
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Callable

from handoff.errors import ApiError
from handoff.reports import content_gaps
from handoff.store.sql import SqlCaseStore
from handoff.store.tables import conversations
from knowledge_index.article_files import yaml_scalar

MAX_TITLE = 80
MAX_QUESTIONS = 10
FALLBACK_ID = "draft-article"
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


@dataclasses.dataclass(frozen=True)
class DraftSource:
    case_id: str
    questions: tuple[str, ...]  # masked, oldest first
    reply: str  # masked: the agent's messages, a blank line between them

    @property
    def title(self) -> str:
        return title_of(self.questions[0])

    @property
    def base_id(self) -> str:
        return slug(self.title)

    def text(self, article_id: str) -> str:
        """The draft's article file, with the id ``article_id``."""
        questions = "".join(f"  - {yaml_scalar(q)}\n" for q in self.questions)
        return (f"---\nid: {article_id}\ntitle: {yaml_scalar(self.title)}\n"
                "# A draft: the bot does not answer from it. Edit it, then remove the next line to publish it.\n"
                f"draft: true\nquestions:\n{questions}---\n{self.reply}\n")


async def source(store: SqlCaseStore, case_id: str, mask: Callable[[str], str]) -> DraftSource:
    """What a draft from the case holds; refused (`ApiError`) for a case that no agent resolved or in
    which no agent wrote."""
    case = await store.conversation(case_id)
    if case is None:
        raise ApiError("not_found", f"no case has the id {case_id!r}")
    if case.status != "resolved" or case.resolution != "agent":
        state = "the bot resolved it" if case.status == "resolved" else f"it is {case.status}"
        raise ApiError("invalid_payload", f"case_id: case {case.number} was not resolved by an agent "
                                          f"({state}); draft from a case an agent resolved")
    messages = await store.messages_after(case_id)
    replies = [m.text.strip() for m in messages if m.sender == "agent" and m.text.strip()]
    if not replies:
        raise ApiError("invalid_payload", f"case_id: no agent wrote in case {case.number}, so there is no reply "
                                          "to draft from")
    asked = [q.text for q in reversed(await content_gaps.collect(store, conversations.c.id == case_id))]
    if not asked:
        asked = [m.text for m in messages
                 if m.sender == "customer" and m.text.strip() and not m.data.get("payload")][:1]
    questions = tuple(dict.fromkeys(" ".join(mask(q).split()) for q in asked))[:MAX_QUESTIONS]
    if not questions:
        raise ApiError("invalid_payload", f"case_id: the customer asked nothing in their own words in case "
                                          f"{case.number}")
    return DraftSource(case_id, questions, "\n\n".join(mask(r) for r in replies))


def title_of(question: str) -> str:
    """The question as a title: at most MAX_TITLE characters, cut between words."""
    if len(question) <= MAX_TITLE:
        return question
    cut = question[:MAX_TITLE - 1].rsplit(" ", 1)[0] or question[:MAX_TITLE - 1]
    return cut.rstrip() + "…"


def slug(title: str) -> str:
    """An article id from a title: its letters and digits in ASCII, lower case, words joined by "-"."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    words = _NOT_SLUG.sub("-", ascii_text).strip("-")
    return words if len(words) >= 2 else FALLBACK_ID
