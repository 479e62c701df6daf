"""The case actions of staff in the audit log (handoff/staff/audit.py): a listener of `CaseChanged` (accept,
transfer, resolve, cancel, return to the bot) and of `NoteAdded` (a note's sequence number, never its text).
What the bot, the customer or the system (automatic assignment, the sweeper) does is not a staff action."""

from __future__ import annotations

from typing import Any

from handoff.cases.events import CaseChanged, NoteAdded
from handoff.staff.audit import AuditLog
from handoff.store.records import Reason
from handoff.store.sql import SqlCaseStore

STAFF = "agent:"  # the prefix of a timeline actor who is a staff account (``agent:USERNAME``)
ACTIONS = {
    Reason.ACCEPTED: "case.accept",
    Reason.TRANSFERRED: "case.transfer",
    Reason.TRANSFERRED_TO_AGENT: "case.transfer_to_agent",
    Reason.RESOLVED_BY_AGENT: "case.resolve",
    Reason.RETURNED_TO_BOT: "case.return_to_bot",
    Reason.CANCELLED_SPAM: "case.cancel",
    Reason.CANCELLED_DUPLICATE: "case.cancel",
    Reason.CANCELLED_TEST: "case.cancel",
    Reason.CANCELLED_OTHER: "case.cancel",
}


class AuditTrail:
    def __init__(self, store: SqlCaseStore, audit: AuditLog) -> None:
        self._store = store
        self._audit = audit

    async def on_case_changed(self, change: CaseChanged) -> None:
        action = ACTIONS.get(change.reason)
        if action is None or not change.actor.startswith(STAFF):
            return
        by = await self._store.agent_by_username(change.actor.removeprefix(STAFF))
        after = change.after
        details: dict[str, Any] = {"case_number": after.number, "from": change.before.status, "to": after.status,
                                   "reason": change.reason, "queue": after.queue}
        if change.reason == Reason.TRANSFERRED_TO_AGENT:
            details["to_agent_id"] = after.agent_id
        if change.reason == Reason.RESOLVED_BY_AGENT:
            details["category"] = after.resolution_category
        await self._audit.record(by, action, f"case:{after.id}", **details)

    async def on_note_added(self, note: NoteAdded) -> None:
        await self._audit.record(note.agent, "case.note", f"case:{note.conversation_id}", seq=note.seq)
