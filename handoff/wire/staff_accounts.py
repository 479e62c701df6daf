"""The supervisors' calls on staff accounts (docs/protocol.md, "Staff accounts"): list, add, disable,
enable, a new password, new roles, end the sessions."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from handoff.wire.fields import OptionalText, Payload, Reply, Text, TimeOut


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    EDITOR = "editor"


class AddStaff(Payload):
    username: Annotated[str, Text(80)]
    password: Annotated[str, Text(200)]
    display_name: Annotated[str | None, OptionalText(120)] = None
    roles: Annotated[list[Role], Field(min_length=1, max_length=3)]


class NewPassword(Payload):
    password: Annotated[str, Text(200)]


class NewRoles(Payload):
    roles: Annotated[list[Role], Field(min_length=1, max_length=3)]


class StaffAccount(Reply):
    """**StaffAccount**: an account as supervisors manage it."""

    id: str
    username: str
    display_name: str
    roles: list[Role]
    disabled: bool
    disabled_at: TimeOut | None
    sessions: int


class StaffList(Reply):
    accounts: list[StaffAccount]


class StaffReply(Reply):
    account: StaffAccount


class Revoked(Reply):
    account: StaffAccount
    ended: int
