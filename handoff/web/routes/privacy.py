"""REST routes for one contact's data (docs/privacy.md, docs/protocol.md): export and delete; supervisors
only."""

from __future__ import annotations

import logging

from aiohttp import web

from handoff.privacy import erasure
from handoff.staff.accounts import SUPERVISOR
from handoff.web.api import reply, signed_in
from handoff.web.keys import CONVERSATIONS, TRACKERS
from handoff.wire import staff

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


@routes.get("/api/contacts/{contact_id}/export")
async def export_contact(request: web.Request) -> web.Response:
    supervisor = await signed_in(request, SUPERVISOR)
    contact_id = request.match_info["contact_id"]
    document = await erasure.export_contact(request.app[CONVERSATIONS].store, contact_id, supervisor)
    log.info("contact %s exported by %s", contact_id, supervisor.username)
    return web.json_response(document)


@routes.delete("/api/contacts/{contact_id}")
async def delete_contact(request: web.Request) -> web.Response:
    supervisor = await signed_in(request, SUPERVISOR)
    contact_id = request.match_info["contact_id"]
    deleted = await erasure.delete_contact(request.app[CONVERSATIONS].store, contact_id, supervisor,
                                           request.app[TRACKERS])
    log.info("contact %s deleted by %s (%d cases)", contact_id, supervisor.username, deleted["cases"])
    return reply(staff.Deleted, {"deleted": deleted})
