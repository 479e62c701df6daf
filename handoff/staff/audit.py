"""The audit log of staff actions: who (the account), what (an action of `ACTIONS` on a target), when, and
the details needed to understand it; never a customer's message text, a note's text or a secret.

`AuditLog.record` is the one way in. It is called where each change has its one owner: sign-in and
sign-out (`AgentAuth`), case actions (a listener of `CaseChanged` and of notes, handoff/cases/audit_trail.py),
contacts, accounts and entitlements (`handoff.contacts.directory.Contacts`), publishing and rollback
(handoff/web/routes/publishing.py), a contact's export and erasure (`handoff.privacy.erasure`). Account
management calls it too, with its own actions (``account.disable`` and the like: any name of the form
``subject.verb``).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

from handoff.store.audit import AuditFilter
from handoff.store.records import Agent, AuditEntry
from handoff.store.sql import SqlCaseStore

CLI = "cli"  # the actor of what the `casedesk` command does (no account signs in there)
ACTIONS = (
    "auth.sign_in", "auth.sign_out",
    "case.accept", "case.transfer", "case.transfer_to_agent", "case.resolve", "case.cancel", "case.return_to_bot",
    "case.note",
    "contact.update", "contact.merge", "account.add", "account.update", "entitlement.add", "entitlement.remove",
    "kb.publish", "kb.rollback",
    "privacy.export", "privacy.delete",
)
ACTION_NAME = re.compile(r"[a-z_]+\.[a-z_]+")
MAX_TARGET = 120


class AuditLog:
    def __init__(self, store: SqlCaseStore) -> None:
        self._store = store

    async def record(self, by: Agent | None, action: str, target: str, **details: Any) -> AuditEntry:
        """``by`` (None: the command line) did ``action`` (``subject.verb``) to ``target`` (``kind:id``, such
        as ``case:c_...``); ``details``: JSON values, never a customer's text or a secret."""
        if not ACTION_NAME.fullmatch(action) or len(action) > 40:
            raise ValueError(f"action {action!r}: must be subject.verb")
        if len(target) > MAX_TARGET:
            raise ValueError(f"target: at most {MAX_TARGET} characters")
        return await self._store.add_audit_entry(by.id if by else None, by.username if by else CLI, action, target,
                                                 details)

    async def entries(self, where: AuditFilter, before: int | None, limit: int) -> list[AuditEntry]:
        return await self._store.audit_entries(where, before, limit)

    def every(self, where: AuditFilter) -> AsyncIterator[AuditEntry]:
        return self._store.audit_entries_all(where)
