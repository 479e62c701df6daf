"""REST endpoints of the supervisors' staff page (docs/protocol.md, "Staff accounts"): every change goes
through the one owner of account changes (`StaffAccounts`, handoff/staff/roster.py)."""

from __future__ import annotations

from aiohttp import web

from handoff.errors import ApiError
from handoff.staff.accounts import SUPERVISOR
from handoff.staff.roster import account_view
from handoff.store.records import Agent
from handoff.web.api import json_body, reply, signed_in
from handoff.web.keys import STAFF
from handoff.wire import staff

routes = web.RouteTableDef()


async def _target(request: web.Request) -> Agent:
    agent = await request.app[STAFF].by_id(request.match_info["agent_id"])
    if agent is None:
        raise ApiError("not_found", "no such account")
    return agent


async def _view(request: web.Request, agent: Agent) -> dict[str, object]:
    return next(a for a in await request.app[STAFF].accounts() if a["id"] == agent.id)


@routes.get("/api/staff")
async def list_staff(request: web.Request) -> web.Response:
    await signed_in(request, SUPERVISOR)
    return reply(staff.StaffList, {"accounts": await request.app[STAFF].accounts()})


@routes.post("/api/staff")
async def add_staff(request: web.Request) -> web.Response:
    supervisor = await signed_in(request, SUPERVISOR)
    asked = staff.AddStaff.model_validate(await json_body(request))
    added = await request.app[STAFF].add(asked.username, asked.password, asked.display_name,
                                         [role.value for role in asked.roles], by=supervisor)
    return reply(staff.StaffReply, {"account": account_view(added)}, status=201)


@routes.post("/api/staff/{agent_id}/disable")
async def disable_staff(request: web.Request) -> web.Response:
    supervisor = await signed_in(request, SUPERVISOR)
    changed = await request.app[STAFF].disable((await _target(request)).username, by=supervisor)
    return reply(staff.StaffReply, {"account": await _view(request, changed)})


@routes.post("/api/staff/{agent_id}/enable")
async def enable_staff(request: web.Request) -> web.Response:
    supervisor = await signed_in(request, SUPERVISOR)
    changed = await request.app[STAFF].enable((await _target(request)).username, by=supervisor)
    return reply(staff.StaffReply, {"account": await _view(request, changed)})


@routes.post("/api/staff/{agent_id}/revoke")
async def revoke_staff(request: web.Request) -> web.Response:
    supervisor = await signed_in(request, SUPERVISOR)
    agent, ended = await request.app[STAFF].revoke((await _target(request)).username, by=supervisor)
    return reply(staff.Revoked, {"account": await _view(request, agent), "ended": ended})


@routes.put("/api/staff/{agent_id}/password")
async def set_staff_password(request: web.Request) -> web.Response:
    supervisor = await signed_in(request, SUPERVISOR)
    target = await _target(request)
    password = staff.NewPassword.model_validate(await json_body(request)).password
    changed = await request.app[STAFF].set_password(target.username, password, by=supervisor)
    return reply(staff.StaffReply, {"account": await _view(request, changed)})


@routes.put("/api/staff/{agent_id}/roles")
async def set_staff_roles(request: web.Request) -> web.Response:
    supervisor = await signed_in(request, SUPERVISOR)
    target = await _target(request)
    roles = staff.NewRoles.model_validate(await json_body(request)).roles
    changed = await request.app[STAFF].set_roles(target.username, [role.value for role in roles], by=supervisor)
    return reply(staff.StaffReply, {"account": await _view(request, changed)})
