"""Contacts (people), accounts (companies, in a hierarchy) and their entitlements (contracts).

Each change is validated here, stored through the store and recorded in the audit log (by whom); a
change that may alter a customer's priority (preferred, an entitlement, an account) lets
`Conversations.reprioritise` update their waiting cases, since that class owns every change to a case.

Who may do what (README, "Cases, contacts and accounts"; docs/contacts.md): supervisors everything; an
agent reads a contact when they may read one of its cases (`CaseAccess`), sees only those of its cases,
and edits its name and e-mail (`AGENT_FIELDS`); the preferred flag and the account (which change the
contact's priority), merging, accounts and entitlements are the supervisors'.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from handoff.cases.access import CaseAccess
from handoff.cases.conversations import Conversations
from handoff.cases.views import iso
from handoff.errors import ApiError
from handoff.staff.accounts import SUPERVISOR
from handoff.staff.audit import AuditLog
from handoff.store.contacts import MAX_ACCOUNT_DEPTH
from handoff.store.records import Account, Agent, Contact, Conversation, Entitlement, utcnow

AGENT_FIELDS = frozenset({"display_name", "email"})  # what an agent may change of a contact they may read


def contact_view(c: Contact) -> dict[str, Any]:
    return {"id": c.id, "display_name": c.display_name, "email": c.email, "external_id": c.external_id,
            "known": c.external_id is not None, "account_id": c.account_id, "preferred": c.preferred,
            "channel": c.channel, "created_at": iso(c.created_at)}


def account_view(a: Account) -> dict[str, Any]:
    return {"id": a.id, "name": a.name, "parent_id": a.parent_id, "created_at": iso(a.created_at)}


def entitlement_view(e: Entitlement, at: datetime) -> dict[str, Any]:
    return {"id": e.id, "name": e.name, "contact_id": e.customer_id, "account_id": e.account_id,
            "starts_at": iso(e.starts_at), "ends_at": iso(e.ends_at), "active": e.active(at)}


class Contacts:
    def __init__(self, conversations: Conversations, access: CaseAccess, audit: AuditLog) -> None:
        self._conversations = conversations
        self._store = conversations.store
        self._access = access
        self._audit = audit

    async def contact(self, contact_id: str) -> Contact:
        found = await self._store.contact(contact_id)
        if found is None:
            raise ApiError("not_found", f"contact {contact_id} does not exist")
        return found

    async def account(self, account_id: str, key: str = "account") -> Account:
        found = await self._store.account(account_id)
        if found is None:
            raise ApiError("not_found", f"{key} {account_id} does not exist")
        return found

    # -- reading ----------------------------------------------------------------------------------

    async def search(self, text: str, limit: int) -> list[Contact]:
        return await self._store.search_contacts(text, limit)

    async def readable(self, by: Agent, contact_id: str) -> tuple[Contact, list[Conversation]]:
        """The contact and those of its cases ``by`` may read (newest first); 403 ``forbidden`` for an agent
        who may read none of them."""
        contact = await self.contact(contact_id)
        cases = await self._access.readable(by, await self._store.customer_conversations(contact.id))
        if not cases and SUPERVISOR not in by.roles:
            raise ApiError("forbidden", f"contact {contact_id} has no case that {by.username} may read")
        return contact, cases

    async def contact_detail(self, contact_id: str, by: Agent) -> dict[str, Any]:
        """The contact with its account and that account's parents, every entitlement that applies
        (its own and its accounts'), and its cases that ``by`` may read, newest first."""
        contact, cases = await self.readable(by, contact_id)
        chain = await self._store.account_chain(contact.account_id)
        now = utcnow()
        return {
            **contact_view(contact),
            "accounts": [account_view(a) for a in chain],
            "entitlements": [entitlement_view(e, now) for e in
                             await self._store.entitlements_of(contact.id, [a.id for a in chain])],
            "cases": [await self._conversations.summary(c) for c in cases],
        }

    async def account_detail(self, account_id: str) -> dict[str, Any]:
        account = await self.account(account_id)
        chain = await self._store.account_chain(account.id)
        now = utcnow()
        return {
            **account_view(account),
            "parents": [account_view(a) for a in chain[1:]],
            "children": [account_view(a) for a in await self._store.child_accounts(account.id)],
            "contacts": [contact_view(c) for c in await self._store.account_contacts(account.id)],
            "entitlements": [entitlement_view(e, now) for e in
                             await self._store.entitlements_of(None, [a.id for a in chain])],
        }

    # -- changes ----------------------------------------------------------------------------------

    async def update_contact(self, contact_id: str, fields: dict[str, Any], by: Agent) -> None:
        """Change a contact's name, e-mail (an agent who may read it, `AGENT_FIELDS`), preferred flag or
        account (None: no account; supervisors)."""
        if SUPERVISOR not in by.roles and set(fields) - AGENT_FIELDS:
            needs = ", ".join(sorted(set(fields) - AGENT_FIELDS))
            raise ApiError("forbidden", f"{needs}: changing this needs the supervisor role, which {by.username} "
                                        "does not have")
        await self.readable(by, contact_id)
        if fields.get("account_id") is not None:
            await self.account(fields["account_id"])
        if fields:
            await self._store.update_contact(contact_id, **fields)
            # the names of the fields changed; the values only where they are no personal data
            await self._audit.record(by, "contact.update", f"contact:{contact_id}", fields=sorted(fields), **{
                key: fields[key] for key in ("preferred", "account_id") if key in fields})
        if {"preferred", "account_id"} & set(fields):
            await self._conversations.reprioritise(contact_id)

    async def merge(self, source_id: str, target_id: str, by: Agent) -> int:
        """Merge contact ``source_id`` into ``target_id`` (their cases, entitlements, the preferred flag
        and a missing account or e-mail move over); returns how many cases moved. Two known contacts
        (each with the host site's id) are different people and are not merged."""
        if source_id == target_id:
            raise ApiError("invalid_payload", "into: a contact cannot be merged into itself")
        source, target = await self.contact(source_id), await self.contact(target_id)
        if source.external_id is not None and target.external_id is not None:
            raise ApiError("conflict", "both contacts are known to the host site (they have external ids): "
                                       "they are different people")
        if source.external_id is not None:  # keep the known one: it is who the host site signs in
            source, target = target, source
        moved = await self._store.merge_contacts(source.id, target.id, f"agent:{by.username}")
        await self._audit.record(by, "contact.merge", f"contact:{target.id}", merged=source.id, moved_cases=len(moved))
        await self._conversations.reprioritise(target.id)
        return len(moved)

    async def add_account(self, name: str, parent_id: str | None, by: Agent) -> Account:
        if parent_id is not None:
            await self._check_depth(parent_id)
        account = await self._store.add_account("acc_" + secrets.token_hex(8), name, parent_id)
        await self._audit.record(by, "account.add", f"account:{account.id}", name=name, parent_id=parent_id)
        return account

    async def update_account(self, account_id: str, fields: dict[str, Any], by: Agent) -> None:
        """Rename an account or move it under another parent (None: to the top); a move that would make
        the account its own ancestor is refused."""
        await self.account(account_id)
        parent_id = fields.get("parent_id")
        if parent_id is not None:
            chain = await self._check_depth(parent_id)
            if account_id in {a.id for a in chain}:
                raise ApiError("conflict", f"parent_id: {parent_id} is {account_id} or one of its child accounts")
        if fields:
            await self._store.update_account(account_id, **fields)
            await self._audit.record(by, "account.update", f"account:{account_id}", **fields)
        if "parent_id" in fields:
            await self._reprioritise_account(account_id)

    async def _check_depth(self, parent_id: str) -> list[Account]:
        await self.account(parent_id, "parent_id: account")
        chain = await self._store.account_chain(parent_id)
        if len(chain) >= MAX_ACCOUNT_DEPTH:
            raise ApiError("conflict", f"parent_id: accounts nest at most {MAX_ACCOUNT_DEPTH} deep")
        return chain

    async def add_entitlement(self, *, contact_id: str | None, account_id: str | None, name: str,
                              starts_at: datetime | None, ends_at: datetime | None, by: Agent) -> Entitlement:
        if (contact_id is None) == (account_id is None):
            raise ApiError("invalid_payload", "contact_id, account_id: give exactly one")
        if starts_at and ends_at and ends_at <= starts_at:
            raise ApiError("invalid_payload", "ends_at: must be after starts_at")
        if contact_id is not None:
            await self.contact(contact_id)
        if account_id is not None:
            await self.account(account_id)
        entitlement = Entitlement("ent_" + secrets.token_hex(8), contact_id, account_id, name, starts_at, ends_at,
                                  utcnow())
        await self._store.add_entitlement(entitlement)
        await self._audit.record(by, "entitlement.add", f"entitlement:{entitlement.id}", **_owner(entitlement),
                                 name=name, starts_at=starts_at, ends_at=ends_at)
        await self._reprioritise_owner(entitlement)
        return entitlement

    async def remove_entitlement(self, entitlement_id: str, by: Agent) -> None:
        entitlement = await self._store.entitlement(entitlement_id)
        if entitlement is None:
            raise ApiError("not_found", f"entitlement {entitlement_id} does not exist")
        await self._store.delete_entitlement(entitlement_id)
        await self._audit.record(by, "entitlement.remove", f"entitlement:{entitlement_id}", **_owner(entitlement),
                                 name=entitlement.name)
        await self._reprioritise_owner(entitlement)

    async def _reprioritise_owner(self, e: Entitlement) -> None:
        if e.customer_id is not None:
            await self._conversations.reprioritise(e.customer_id)
        elif e.account_id is not None:
            await self._reprioritise_account(e.account_id)

    async def _reprioritise_account(self, account_id: str) -> None:
        """The contacts of the account and of every account below it."""
        pending, seen = [account_id], set()
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            for contact in await self._store.account_contacts(current):
                await self._conversations.reprioritise(contact.id)
            pending += [a.id for a in await self._store.child_accounts(current)]


def _owner(e: Entitlement) -> dict[str, str | None]:
    return {"contact_id": e.customer_id, "account_id": e.account_id}
