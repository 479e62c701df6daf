"""The store's contacts, accounts and entitlements (docs/contacts.md): a mixin of `SqlCaseStore`
(handoff/store/sql.py) on the same tables; every write goes through the store's one writer, `_write`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from handoff.store.base import Queries
from handoff.store.records import Account, Contact, Entitlement, Reason, to_account, to_contact, to_entitlement, utcnow
from handoff.store.tables import accounts, case_events, conversations, customers, entitlements

MAX_ACCOUNT_DEPTH = 20  # parent accounts followed at most (the API refuses deeper trees and cycles)


class ContactQueries(Queries):
    """The contact, account and entitlement methods of `SqlCaseStore`."""

    async def contact(self, customer_id: str) -> Contact | None:
        found = await self._select(customers, customers.c.id == customer_id)
        return to_contact(found[0]) if found else None

    async def contact_by_external_id(self, external_id: str) -> Contact | None:
        found = await self._select(customers, customers.c.external_id == external_id)
        return to_contact(found[0]) if found else None

    async def search_contacts(self, text: str, limit: int) -> list[Contact]:
        """Contacts whose name, e-mail or external id contains ``text`` (any case), newest first."""
        pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where = sa.or_(*(sa.func.lower(column).like(pattern, escape="\\") for column in
                         (customers.c.display_name, customers.c.email, customers.c.external_id)))
        rows = await self._select(customers, where, customers.c.created_at.desc(), limit)
        return [to_contact(r) for r in rows]

    async def account_contacts(self, account_id: str) -> list[Contact]:
        rows = await self._select(customers, customers.c.account_id == account_id, customers.c.display_name)
        return [to_contact(r) for r in rows]

    async def update_contact(self, customer_id: str, **fields: Any) -> None:
        def write(conn: sa.Connection) -> Any:
            conn.execute(customers.update().where(customers.c.id == customer_id).values(**fields))
        await self._write(write)

    async def merge_contacts(self, source_id: str, target_id: str, actor: str) -> list[str]:
        """Move everything of contact ``source_id`` to ``target_id`` and delete the source, in one
        transaction; each moved case gets a timeline event. Returns the moved cases' ids."""
        now = utcnow()
        def write(conn: sa.Connection) -> Any:
            source = conn.execute(sa.select(customers).where(customers.c.id == source_id)).first()
            target = conn.execute(sa.select(customers).where(customers.c.id == target_id)).first()
            if source is None or target is None:
                raise KeyError(source_id if source is None else target_id)
            moved = conn.execute(sa.select(conversations.c.id, conversations.c.status)
                                 .where(conversations.c.customer_id == source_id)).all()
            conn.execute(conversations.update().where(conversations.c.customer_id == source_id)
                         .values(customer_id=target_id))
            conn.execute(entitlements.update().where(entitlements.c.customer_id == source_id)
                         .values(customer_id=target_id))
            conn.execute(customers.update().where(customers.c.id == target_id).values(
                preferred=bool(target.preferred or source.preferred),
                account_id=target.account_id or source.account_id, email=target.email or source.email,
            ))
            conn.execute(customers.delete().where(customers.c.id == source_id))
            if moved:
                conn.execute(case_events.insert(), [
                    {"conversation_id": c.id, "from_status": c.status, "to_status": c.status,
                     "reason": Reason.CONTACT_MERGED, "actor": actor, "at": now} for c in moved
                ])
            return [c.id for c in moved]
        return await self._write(write)

    async def add_account(self, account_id: str, name: str, parent_id: str | None) -> Account:
        now = utcnow()
        def write(conn: sa.Connection) -> Any:
            conn.execute(accounts.insert().values(id=account_id, name=name, parent_id=parent_id, created_at=now))
        await self._write(write)
        return Account(account_id, name, parent_id, now)

    async def account(self, account_id: str) -> Account | None:
        found = await self._select(accounts, accounts.c.id == account_id)
        return to_account(found[0]) if found else None

    async def child_accounts(self, account_id: str) -> list[Account]:
        rows = await self._select(accounts, accounts.c.parent_id == account_id, accounts.c.name)
        return [to_account(r) for r in rows]

    async def update_account(self, account_id: str, **fields: Any) -> None:
        def write(conn: sa.Connection) -> Any:
            conn.execute(accounts.update().where(accounts.c.id == account_id).values(**fields))
        await self._write(write)

    async def account_chain(self, account_id: str | None) -> list[Account]:
        """The account and its parent accounts, nearest first (at most `MAX_ACCOUNT_DEPTH`)."""
        chain: list[Account] = []
        while account_id is not None and len(chain) < MAX_ACCOUNT_DEPTH:
            account = await self.account(account_id)
            if account is None or account in chain:
                break
            chain.append(account)
            account_id = account.parent_id
        return chain

    async def add_entitlement(self, entitlement: Entitlement) -> None:
        def write(conn: sa.Connection) -> Any:
            conn.execute(entitlements.insert().values(dataclasses.asdict(entitlement)))
        await self._write(write)

    async def entitlement(self, entitlement_id: str) -> Entitlement | None:
        found = await self._select(entitlements, entitlements.c.id == entitlement_id)
        return to_entitlement(found[0]) if found else None

    async def entitlements_of(self, customer_id: str | None = None,
                              account_ids: Sequence[str] = ()) -> list[Entitlement]:
        where = sa.or_(entitlements.c.customer_id == customer_id, entitlements.c.account_id.in_(list(account_ids)))
        return [to_entitlement(r) for r in await self._select(entitlements, where, entitlements.c.created_at)]

    async def delete_entitlement(self, entitlement_id: str) -> None:
        def write(conn: sa.Connection) -> Any:
            conn.execute(entitlements.delete().where(entitlements.c.id == entitlement_id))
        await self._write(write)

    async def active_entitlement(self, customer_id: str, at: datetime) -> str | None:
        """The name of the oldest entitlement active at ``at`` of the contact, of its account, or of
        that account's parent accounts; None without one."""
        contact = await self.contact(customer_id)
        chain = [a.id for a in await self.account_chain(contact.account_id if contact else None)]
        active = [e for e in await self.entitlements_of(customer_id, chain) if e.active(at)]
        return active[0].name if active else None
