"""Cases to draft articles from, added to tests/report_seed.py's set (its accounts and cases): the
content-gap tests for editors (tests/test_content_gap_drafts.py, tests/test_editor_page.py).

| case | what happened | a draft from it |
|---|---|---|
| d01 | delivery address (an e-mail), low confidence; ann: two replies (a phone number), a note; resolved | masked |
| d02 | delivery to Iceland, low confidence; ann accepted and resolved it without a word | refused: no reply |
| d03 | delivery to Norway, low confidence; ann replied; still with her | refused: not resolved |
"""

from __future__ import annotations

from datetime import datetime

from tests import report_seed
from tests.report_seed import Case, hits

ADDRESS_QUESTION = "Can I change the delivery address of my order? Write to me at jane.doe@example.com"
ADDRESS_QUESTION_MASKED = "Can I change the delivery address of my order? Write to me at [email]"
FIRST_REPLY = "Yes, until the order ships we can change the address."
SECOND_REPLY = "Call us on 0151 23456789 and we change it for you."
SECOND_REPLY_MASKED = "Call us on [phone] and we change it for you."
NOTE = "Private: she called twice already."
ICELAND, NORWAY = "Do you deliver to Iceland?", "Do you deliver to Norway?"


def cases(ann: tuple[str, str], start: datetime) -> list[Case]:
    closest = hits(("bike-shipping", 0.2))
    address = (Case("d01", start).ask(0, ADDRESS_QUESTION).hand_over(2, "low_confidence", hits=closest)
               .accept(30, ann).reply(40, ann[1], FIRST_REPLY, "met"))
    address._post(45, "note", ann[1], NOTE, {"kind": "note"})  # an agent's private note: never in a draft
    return [
        address.reply(50, ann[1], SECOND_REPLY, "met").resolve(300, ann[1], "question_answered", "met"),
        Case("d02", start.replace(minute=10)).ask(0, ICELAND).hand_over(2, "low_confidence", hits=closest)
        .accept(30, ann).resolve(300, ann[1], "question_answered", "met"),
        Case("d03", start.replace(minute=20)).ask(0, NORWAY).hand_over(2, "low_confidence", hits=closest)
        .accept(30, ann).reply(40, ann[1], "Yes, we do.", "met"),
    ]


async def seed(url: str, start: datetime) -> dict[str, str]:
    """tests/report_seed.py's accounts and cases, and these cases from ``start`` (keep its minute below 30)."""
    ids = await report_seed.seed(url)
    report_seed.insert(url, cases((ids["ann"], "Ann"), start))
    return ids
