"""REST endpoints for contacts, accounts and entitlements (docs/protocol.md, docs/contacts.md).

Who may do what is `handoff.contacts.directory.Contacts`'s rule: supervisors everything; an agent reads a
contact through a case they may read and edits its name and e-mail."""

from __future__ import annotations

from aiohttp import web

from handoff.contacts.directory import account_view, contact_view, entitlement_view
from handoff.staff.accounts import AGENT, SUPERVISOR
from handoff.store.records import utcnow
from handoff.web.api import json_body, reply, signed_in
from handoff.web.keys import CONTACTS
from handoff.wire import staff

routes = web.RouteTableDef()
SEARCH_LIMIT = 50


@routes.get("/api/contacts")
async def search_contacts(request: web.Request) -> web.Response:
    await signed_in(request, SUPERVISOR)
    text = staff.ContactsQuery.model_validate(dict(request.query)).q
    found = await request.app[CONTACTS].search(text, SEARCH_LIMIT)
    return reply(staff.Contacts, {"contacts": [contact_view(c) for c in found]})


@routes.get("/api/contacts/{contact_id}")
async def contact_detail(request: web.Request) -> web.Response:
    by = await signed_in(request, AGENT, SUPERVISOR)
    detail = await request.app[CONTACTS].contact_detail(request.match_info["contact_id"], by)
    return reply(staff.ContactReply, {"contact": detail})


@routes.patch("/api/contacts/{contact_id}")
async def update_contact(request: web.Request) -> web.Response:
    by = await signed_in(request, AGENT, SUPERVISOR)
    fields = staff.changed(staff.UpdateContact.model_validate(await json_body(request)))
    contacts = request.app[CONTACTS]
    contact_id = request.match_info["contact_id"]
    await contacts.update_contact(contact_id, fields, by)
    return reply(staff.ContactReply, {"contact": await contacts.contact_detail(contact_id, by)})


@routes.post("/api/contacts/{contact_id}/merge")
async def merge_contacts(request: web.Request) -> web.Response:
    supervisor = await signed_in(request, SUPERVISOR)
    into = staff.MergeContacts.model_validate(await json_body(request)).into
    contacts = request.app[CONTACTS]
    source = request.match_info["contact_id"]
    kept = into if (await contacts.contact(source)).external_id is None else source
    moved = await contacts.merge(source, into, supervisor)
    return reply(staff.Merged, {"contact": await contacts.contact_detail(kept, supervisor), "moved_cases": moved})


@routes.post("/api/accounts")
async def add_account(request: web.Request) -> web.Response:
    supervisor = await signed_in(request, SUPERVISOR)
    asked = staff.AddAccount.model_validate(await json_body(request))
    account = await request.app[CONTACTS].add_account(asked.name, asked.parent_id, supervisor)
    return reply(staff.AccountReply, {"account": account_view(account)}, status=201)


@routes.get("/api/accounts/{account_id}")
async def account_detail(request: web.Request) -> web.Response:
    await signed_in(request, SUPERVISOR)
    detail = await request.app[CONTACTS].account_detail(request.match_info["account_id"])
    return reply(staff.AccountDetailReply, {"account": detail})


@routes.patch("/api/accounts/{account_id}")
async def update_account(request: web.Request) -> web.Response:
    supervisor = await signed_in(request, SUPERVISOR)
    fields = staff.changed(staff.UpdateAccount.model_validate(await json_body(request)))
    contacts = request.app[CONTACTS]
    account_id = request.match_info["account_id"]
    await contacts.update_account(account_id, fields, supervisor)
    return reply(staff.AccountDetailReply, {"account": await contacts.account_detail(account_id)})


@routes.post("/api/entitlements")
async def add_entitlement(request: web.Request) -> web.Response:
    supervisor = await signed_in(request, SUPERVISOR)
    asked = staff.AddEntitlement.model_validate(await json_body(request))
    entitlement = await request.app[CONTACTS].add_entitlement(
        contact_id=asked.contact_id, account_id=asked.account_id, name=asked.name, starts_at=asked.starts_at,
        ends_at=asked.ends_at, by=supervisor,
    )
    return reply(staff.EntitlementReply, {"entitlement": entitlement_view(entitlement, utcnow())}, status=201)


@routes.delete("/api/entitlements/{entitlement_id}")
async def remove_entitlement(request: web.Request) -> web.Response:
    supervisor = await signed_in(request, SUPERVISOR)
    await request.app[CONTACTS].remove_entitlement(request.match_info["entitlement_id"], supervisor)
    return reply(staff.Done, {"ok": True})
