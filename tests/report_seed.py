"""A seeded set of cases for the report tests, written into a real database as the app writes them.

Each case is built step by step at explicit times (the reports depend on days and durations), with
the rows the app stores for each step (handoff/cases/conversations.py): the customer's and the bot's
messages with their data (docs/protocol.md), the timeline events, the articles shown and whether
they helped, the SLA states the sweep records, and the survey answer. tests/test_reports.py states
the figures every report must give for them.

The cases, in the three days 2025-06-02 to 2025-06-04 (and one just before and one just after):

| case | day, time | channel | what happened (times from the start) | survey |
|---|---|---|---|---|
| c00 | 06-01 23:59:59 | web | bot answered bike-returns, "yes" | 1 |
| c01 | 06-02 09:00 | web | bot answered furniture-dining-table-assembly, "yes" | 5, NPS 10, effort 2 |
| c02 | 06-02 10:00 | web | dining-table answer, "no"; general; ann: reply 60 s, resolved 600 s | 4, 9, 3 |
| c03 | 06-02 11:00 | mobile | gift cards, low confidence; general; ben: reply 400 s (breach), 1800 s | 2, 3, 6 |
| c04 | 06-03 09:30 | web | bot answered bike-returns, "yes" | 4 |
| c05 | 06-03 12:00 | web | gift voucher, low confidence; general; breach; abandoned | - |
| c06 | 06-03 14:00 | web | fork oil leak, "a person"; workshop; ann: 120 s, 8000 s (breach) | 1, 6, 4 |
| c07 | 06-03 16:00 | web | a spam formula; cancelled | - |
| c08 | 06-04 09:00 | mobile | tabletop crack, offered two, "none"; general; ann: 30 s; open | - |
| c09 | 06-04 10:00 | web | bot answered furniture-chair-assembly; open | - |
| c10 | 06-04 11:00 | web | gift cards, low confidence; general; warning; waiting | - |
| c11 | 06-04 13:00 | web | dining-table answer, typed "no"; general; ben: 90 s, 900 s | 5, 10, 2 |
| c12 | 06-04 15:00 | mobile | instalments (with markup), low confidence; general; breach; abandoned | - |
| c13 | 06-05 00:00:00 | web | gift cards, low confidence; general; abandoned | - |
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from handoff import catalogue
from handoff.staff.accounts import AGENT, SUPERVISOR, AgentAuth
from handoff.staff.passwords import PasswordHasher
from handoff.staff.roster import StaffAccounts
from handoff.store.sql import SYNC_DRIVERS, SqlCaseStore, title_of
from handoff.store.tables import case_articles, case_events, conversations, customers, messages, surveys
from harness.servers import TEST_HASH_COST

BOT = "Velora & Hearthwood assistant"
SURVEY_TEXT = catalogue.text("en", "system.survey")
PASSWORD = "correct horse battery"
SUPERVISOR_NAME, AGENTS = "sup", ("ann", "ben")
DAY_1, DAY_2, DAY_3 = (datetime(2025, 6, d, tzinfo=UTC) for d in (2, 3, 4))
FIRST_RESPONSE = {"general": 300, "workshop": 600}  # the queues' SLA targets (normal priority), seconds
RESOLUTION = {"general": 3600, "workshop": 7200}
SETTINGS_FILE = """
[[queues]]
name = "workshop"
topics = ["workshop", "suspension"]
first_response_seconds = { normal = 600 }
resolution_seconds = { normal = 7200 }

[[queues]]
name = "general"
"""
XSS_QUESTION = "Can I pay for my bike in monthly instalments? <img src=x onerror=\"window.__pwned=1\">"
SPAM = '=HYPERLINK("http://spam.example","win")'


def hits(*found: tuple[str, float]) -> list[dict[str, Any]]:
    return [{"article_id": article_id, "title": article_id, "score": score} for article_id, score in found]


@dataclasses.dataclass
class Case:
    """One case being built: its conversation row and everything stored with it, at times from ``start``."""

    id: str
    start: datetime
    channel: str = "web"
    row: dict[str, Any] = dataclasses.field(default_factory=dict)
    messages: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    events: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    articles: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    survey: dict[str, Any] | None = None
    status: str = "bot"

    def __post_init__(self) -> None:
        self.row = {"id": self.id, "token_hash": "t-" + self.id, "customer_id": "u_" + self.id, "channel": self.channel,
                    "locale": "en", "status": "bot", "last_seq": 0, "created_at": self.start,
                    "updated_at": self.start, "last_activity_at": self.start}
        self._event(0, None, "bot", "conversation_started", "customer")

    def at(self, seconds: float) -> datetime:
        return self.start + timedelta(seconds=seconds)

    def _event(self, seconds: float, before: str | None, after: str, reason: str, actor: str) -> None:
        self.events.append({"conversation_id": self.id, "from_status": before, "to_status": after,
                            "reason": reason, "actor": actor, "at": self.at(seconds)})
        self.status = after
        self.row.update(status=after, updated_at=self.at(seconds))

    def _post(self, seconds: float, sender: str, name: str, text: str, data: dict[str, Any] | None = None) -> int:
        seq = len(self.messages) + 1
        self.messages.append({"conversation_id": self.id, "seq": seq, "sender": sender, "sender_name": name,
                              "text": text, "data": json.dumps(data or {}), "created_at": self.at(seconds)})
        self.row.update(last_seq=seq, last_activity_at=self.at(seconds))
        if sender == "customer" and not (data or {}).get("payload") and not self.row.get("title"):
            self.row["title"] = title_of(text)
        if sender in ("customer", "agent") and self.status == "with_agent":
            self.row["awaiting"] = "agent" if sender == "customer" else "customer"
        return seq

    # -- what the customer does

    def ask(self, seconds: float, text: str) -> Case:
        self._post(seconds, "customer", "Customer", text)
        return self

    def press(self, seconds: float, title: str, payload: str) -> Case:
        self._post(seconds, "customer", "Customer", title, {"payload": payload})
        return self

    def rate(self, seconds: float, rating: int, nps: int | None = None, effort: int | None = None,
             comment: str | None = None) -> Case:
        self.survey = {"conversation_id": self.id, "rating": rating, "comment": comment,
                       "agent_id": self.row.get("agent_id"), "created_at": self.at(seconds), "nps": nps,
                       "effort": effort, "answered_via": "chat"}
        return self

    # -- what the bot does

    def answer(self, seconds: float, article_id: str, score: float = 0.71, helped: bool | None = None) -> Case:
        yes_no = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
        seq = self._post(seconds, "bot", BOT, f"(the article {article_id})\n\nDid this answer your question?", {
            "kind": "answer", "article": {"id": article_id, "title": article_id, "url": None, "locale": "en"},
            "score": score, "buttons": yes_no, "decision": "answer", "reason": f"score {score} >= 0.3192",
            "confidence": score, "hits": hits((article_id, score)), "language": "en", "model": "all-MiniLM-L6-v2"})
        self.articles.append({"conversation_id": self.id, "seq": seq, "article_id": article_id,
                              "shown_at": self.at(seconds), "helped": helped})
        return self

    def clarify(self, seconds: float, offered: tuple[str, str], helped: bool | None = None) -> Case:
        buttons = [{"title": a, "payload": f'/choose_article{{"article_id": "{a}"}}'} for a in offered]
        seq = self._post(seconds, "bot", BOT, "Which of these is closest to your question?", {
            "kind": "clarify", "offered": list(offered), "buttons": [*buttons, {"title": "None of these",
                                                                                "payload": "/deny"}],
            "decision": "clarify", "hits": hits((offered[0], 0.52), (offered[1], 0.5)), "language": "en"})
        self.articles += [{"conversation_id": self.id, "seq": seq, "article_id": a, "shown_at": self.at(seconds),
                           "helped": helped} for a in offered]
        return self

    def say(self, seconds: float, text: str) -> Case:
        self._post(seconds, "bot", BOT, text)
        return self

    def hand_over(self, seconds: float, reason: str, queue: str = "general", **data: Any) -> Case:
        self._post(seconds, "bot", BOT, "I'm connecting you with a person from our team.",
                   {"kind": "handoff", "reason": reason, **data})
        self._event(seconds, "bot", "queued", reason, "bot")
        self.row.update(queued_at=self.at(seconds), escalation_reason=reason, queue=queue, priority="normal",
                        first_response_due_at=self.at(seconds + FIRST_RESPONSE[queue]),
                        resolution_due_at=self.at(seconds + RESOLUTION[queue]))
        return self

    def resolved_by_bot(self, seconds: float, reason: str = "answer_helped") -> Case:
        self._post(seconds, "bot", BOT, "Great, I'm glad I could help.", {"kind": "resolved"})
        self._event(seconds, "bot", "resolved", reason, "bot")
        self.row.update(resolution="bot", closed_at=self.at(seconds))
        self._post(seconds, "system", "system", SURVEY_TEXT, {"kind": "survey", "scale": [1, 5]})
        return self

    # -- what agents, the sweep and supervisors do

    def accept(self, seconds: float, agent: tuple[str, str]) -> Case:
        agent_id, name = agent
        self._event(seconds, "queued", "with_agent", "accepted", f"agent:{name.lower()}")
        self.row.update(agent_id=agent_id, awaiting="agent")
        self._post(seconds, "system", "system", f"{name} has joined the conversation.")
        return self

    def reply(self, seconds: float, name: str, text: str, sla: str) -> Case:
        self._post(seconds, "agent", name, text)
        if self.row.get("first_response_at") is None:
            self.row.update(first_response_at=self.at(seconds), first_response_sla=sla)
        return self

    def sla(self, seconds: float, target: str, state: str) -> Case:
        """The sweep records a warning or a breach."""
        self.events.append({"conversation_id": self.id, "from_status": self.status, "to_status": self.status,
                            "reason": f"sla_{target}_{state}", "actor": "system", "at": self.at(seconds)})
        self.row[f"{target}_sla"] = state
        return self

    def resolve(self, seconds: float, name: str, category: str, sla: str) -> Case:
        self._event(seconds, "with_agent", "resolved", "resolved_by_agent", f"agent:{name.lower()}")
        self.row.update(resolution="agent", resolution_category=category, resolution_sla=sla,
                        closed_at=self.at(seconds))
        self._post(seconds, "system", "system", SURVEY_TEXT, {"kind": "survey", "scale": [1, 5]})
        return self

    def abandon(self, seconds: float) -> Case:
        self._event(seconds, "queued", "abandoned", "customer_left", "system")
        self.row.update(resolution="abandoned", closed_at=self.at(seconds))
        return self

    def cancel(self, seconds: float, reason: str = "spam") -> Case:
        self._post(seconds, "system", "system", catalogue.text("en", "system.cancelled"), {"kind": "cancelled"})
        self._event(seconds, self.status, "cancelled", f"cancelled_{reason}", f"agent:{SUPERVISOR_NAME}")
        self.row.update(resolution="cancelled", closed_at=self.at(seconds))
        return self


def cases(ann: tuple[str, str], ben: tuple[str, str]) -> list[Case]:
    """The seeded cases (the module's table); ``ann`` and ``ben``: (agent id, display name)."""
    dining, returns = "furniture-dining-table-assembly", "bike-returns"
    return [
        Case("c00", datetime(2025, 6, 1, 23, 59, 59, tzinfo=UTC))
        .ask(0, "How do I return a bike?").answer(2, returns, helped=True).press(20, "Yes", "/affirm")
        .resolved_by_bot(21).rate(40, 1),
        Case("c01", DAY_1.replace(hour=9))
        .ask(0, "How do I assemble my dining table?").answer(2, dining, helped=True).press(40, "Yes", "/affirm")
        .resolved_by_bot(41).rate(60, 5, 10, 2),
        Case("c02", DAY_1.replace(hour=10))
        .ask(0, "The assembly instructions for my table are missing page 4").answer(2, dining, helped=False)
        .press(30, "No", "/deny").hand_over(31, "answer_not_helpful", article_id=dining)
        .accept(61, ann).reply(91, ann[1], "I'll send you the page.", "met").ask(150, "Thanks")
        .resolve(631, ann[1], "problem_solved", "met").rate(700, 4, 9, 3, "Thanks, the new page helped"),
        Case("c03", DAY_1.replace(hour=11), "mobile")
        .ask(0, "Do you sell gift cards?")
        .hand_over(2, "low_confidence", hits=hits(("bike-refund-timing", 0.21), ("furniture-returns", 0.18)))
        .accept(300, ben).sla(302, "first_response", "breached")
        .reply(402, ben[1], "Not yet, sorry.", "breached").resolve(1802, ben[1], "question_answered", "met")
        .rate(1900, 2, 3, 6, "-2 stars: I waited too long"),
        Case("c04", DAY_2.replace(hour=9, minute=30))
        .ask(0, "How do I return a bike?").answer(2, returns, helped=True).press(20, "Yes", "/affirm")
        .resolved_by_bot(21).rate(30, 4, comment="=1+1"),
        Case("c05", DAY_2.replace(hour=12))
        .ask(0, "Can I buy a gift voucher for my brother?")
        .hand_over(2, "low_confidence", hits=hits(("bike-refund-timing", 0.19)))
        .sla(242, "first_response", "warning").sla(302, "first_response", "breached").abandon(902),
        Case("c06", DAY_2.replace(hour=14))
        .ask(0, "Oil is leaking from my fork seals").answer(2, "bike-suspension-oil-leak")
        .ask(20, "I want to talk to a person")
        .hand_over(21, "customer_request", "workshop", article_id="bike-suspension-oil-leak")
        .accept(81, ann).reply(141, ann[1], "Please send us a photo.", "met")
        .sla(7221, "resolution", "breached").resolve(8021, ann[1], "refund_or_replacement", "breached")
        .rate(8100, 1, 6, 4, "@team the fork still leaks"),
        Case("c07", DAY_2.replace(hour=16)).ask(0, SPAM)
        .say(2, "Sorry, I didn't get that. What would you like to know?").cancel(60),
        Case("c08", DAY_3.replace(hour=9), "mobile")
        .ask(0, "there is a crack along the grain of the tabletop")
        .clarify(2, ("furniture-wood-care", "furniture-wobbly-table"), helped=False)
        .press(30, "None of these", "/deny").hand_over(31, "no_offered_article_fits")
        .accept(51, ann).reply(61, ann[1], "Can you send a photo of the crack?", "met"),
        Case("c09", DAY_3.replace(hour=10))
        .ask(0, "How do I put the dining chairs together?").answer(2, "furniture-chair-assembly"),
        Case("c10", DAY_3.replace(hour=11))
        .ask(0, "Are gift cards available in your shop?")
        .hand_over(2, "low_confidence", hits=hits(("furniture-returns", 0.2))).sla(242, "first_response", "warning"),
        Case("c11", DAY_3.replace(hour=13))
        .ask(0, "the holes in the table legs don't line up with the frame").answer(2, dining, helped=False)
        .ask(30, "no").hand_over(31, "answer_not_helpful", article_id=dining)
        .accept(61, ben).reply(121, ben[1], "Loosen all bolts first, then line them up.", "met")
        .resolve(931, ben[1], "problem_solved", "met").rate(1000, 5, 10, 2, "\tgreat"),
        Case("c12", DAY_3.replace(hour=15), "mobile")
        .ask(0, XSS_QUESTION).hand_over(2, "low_confidence", hits=hits(("bike-shipping", 0.17)))
        .sla(302, "first_response", "breached").abandon(902),
        Case("c13", datetime(2025, 6, 5, tzinfo=UTC))
        .ask(0, "Do you sell gift cards?").hand_over(2, "low_confidence", hits=hits(("bike-refund-timing", 0.2)))
        .sla(302, "first_response", "breached").abandon(902),
    ]


async def seed(url: str) -> dict[str, str]:
    """Bring the database at ``url`` (the app's, SQLite or PostgreSQL) to the newest revision, add the
    accounts (``sup``: supervisor and agent; ``ann`` and ``ben``: agents) and the cases; return the
    accounts' ids by username."""
    store = await SqlCaseStore.open(url)
    try:
        staff = StaffAccounts(store, AgentAuth(store, 12, PasswordHasher(TEST_HASH_COST)))
        ids = {SUPERVISOR_NAME: (await staff.add(SUPERVISOR_NAME, PASSWORD, "Sam", (SUPERVISOR, AGENT))).id}
        for name in AGENTS:
            ids[name] = (await staff.add(name, PASSWORD, name.capitalize())).id
    finally:
        await store.close()
    insert(url, cases((ids["ann"], "Ann"), (ids["ben"], "Ben")))
    return ids


def insert(url: str, built: list[Case]) -> None:
    """Store the cases with everything they have, each with a contact of its own, in one transaction."""
    async_url = sa.make_url(url)
    engine = sa.create_engine(async_url.set(drivername=SYNC_DRIVERS[async_url.drivername]))
    try:
        with engine.begin() as conn:
            for case in built:
                conn.execute(customers.insert().values(id=case.row["customer_id"], display_name="Customer",
                                                       channel=case.channel, created_at=case.start))
                conn.execute(conversations.insert().values(**case.row))
                conn.execute(messages.insert(), case.messages)
                conn.execute(case_events.insert(), case.events)
                if case.articles:
                    conn.execute(case_articles.insert(), case.articles)
                if case.survey:
                    conn.execute(surveys.insert().values(**case.survey))
    finally:
        engine.dispose()
