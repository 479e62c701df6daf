"""REST endpoints for contacts, accounts and entitlements (docs/protocol.md, docs/contacts.md)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from handoff import payloads
from handoff.contacts.directory import account_view, contact_view, entitlement_view
from handoff.staff.accounts import SUPERVISOR
from handoff.store.records import utcnow
from handoff.web.api import json_body, signed_in
from handoff.web.keys import CONTACTS

routes = web.RouteTableDef()
SEARCH_LIMIT = 50


def _optional_id(p: dict[str, Any], key: str) -> str | None:
    """An id, or None when the field is null."""
    return None if p.get(key) is None else payloads.text(p, key, 40)


@routes.get("/api/contacts")
async def search_contacts(request: web.Request) -> web.Response:
    await signed_in(request)
    text = payloads.text(dict(request.query), "q", 200)
    found = await request.app[CONTACTS].search(text, SEARCH_LIMIT)
    return web.json_response({"contacts": [contact_view(c) for c in found]})


@routes.get("/api/contacts/{contact_id}")
async def contact_detail(request: web.Request) -> web.Response:
    await signed_in(request)
    return web.json_response({"contact": await request.app[CONTACTS].contact_detail(request.match_info["contact_id"])})


@routes.patch("/api/contacts/{contact_id}")
async def update_contact(request: web.Request) -> web.Response:
    await signed_in(request)
    p = dict(payloads.fields(await json_body(request), set(), {"display_name", "email", "preferred", "account_id"}))
    fields: dict[str, Any] = {}
    if "display_name" in p:
        fields["display_name"] = payloads.text(p, "display_name", 80)
    if "email" in p:
        fields["email"] = payloads.optional_text(p, "email", 200)
    if "preferred" in p:
        fields["preferred"] = payloads.boolean(p, "preferred")
    if "account_id" in p:
        fields["account_id"] = _optional_id(p, "account_id")
    contacts = request.app[CONTACTS]
    contact_id = request.match_info["contact_id"]
    await contacts.update_contact(contact_id, fields)
    return web.json_response({"contact": await contacts.contact_detail(contact_id)})


@routes.post("/api/contacts/{contact_id}/merge")
async def merge_contacts(request: web.Request) -> web.Response:
    supervisor = await signed_in(request, SUPERVISOR)
    p = payloads.fields(await json_body(request), {"into"})
    into = payloads.text(p, "into", 40)
    contacts = request.app[CONTACTS]
    source = request.match_info["contact_id"]
    kept = into if (await contacts.contact(source)).external_id is None else source
    moved = await contacts.merge(source, into, f"agent:{supervisor.username}")
    return web.json_response({"contact": await contacts.contact_detail(kept), "moved_cases": moved})


@routes.post("/api/accounts")
async def add_account(request: web.Request) -> web.Response:
    await signed_in(request, SUPERVISOR)
    p = dict(payloads.fields(await json_body(request), {"name"}, {"parent_id"}))
    account = await request.app[CONTACTS].add_account(payloads.text(p, "name", 120), _optional_id(p, "parent_id"))
    return web.json_response({"account": account_view(account)}, status=201)


@routes.get("/api/accounts/{account_id}")
async def account_detail(request: web.Request) -> web.Response:
    await signed_in(request)
    return web.json_response({"account": await request.app[CONTACTS].account_detail(request.match_info["account_id"])})


@routes.patch("/api/accounts/{account_id}")
async def update_account(request: web.Request) -> web.Response:
    await signed_in(request, SUPERVISOR)
    p = dict(payloads.fields(await json_body(request), set(), {"name", "parent_id"}))
    fields: dict[str, Any] = {}
    if "name" in p:
        fields["name"] = payloads.text(p, "name", 120)
    if "parent_id" in p:
        fields["parent_id"] = _optional_id(p, "parent_id")
    contacts = request.app[CONTACTS]
    account_id = request.match_info["account_id"]
    await contacts.update_account(account_id, fields)
    return web.json_response({"account": await contacts.account_detail(account_id)})


@routes.post("/api/entitlements")
async def add_entitlement(request: web.Request) -> web.Response:
    await signed_in(request, SUPERVISOR)
    p = dict(payloads.fields(await json_body(request), {"name"}, {"contact_id", "account_id", "starts_at", "ends_at"}))
    entitlement = await request.app[CONTACTS].add_entitlement(
        contact_id=_optional_id(p, "contact_id"), account_id=_optional_id(p, "account_id"),
        name=payloads.text(p, "name", 80), starts_at=payloads.optional_time(p, "starts_at"),
        ends_at=payloads.optional_time(p, "ends_at"),
    )
    return web.json_response({"entitlement": entitlement_view(entitlement, utcnow())}, status=201)


@routes.delete("/api/entitlements/{entitlement_id}")
async def remove_entitlement(request: web.Request) -> web.Response:
    await signed_in(request, SUPERVISOR)
    await request.app[CONTACTS].remove_entitlement(request.match_info["entitlement_id"])
    return web.json_response({"ok": True})

