"""The limiter at the app's public entries (handoff/limits/): the client's address of a request or of a
socket's request, and the limits of a conversation's start."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from handoff.limits import addresses
from handoff.limits.limiter import Limiter
from handoff.store.records import Identity
from handoff.web.keys import LIMITER


def client_address(request: web.Request) -> str:
    """The address a request (or a socket's HTTP request) comes from, believing X-Forwarded-For only from
    the trusted proxies (`handoff.limits.addresses.client_address`)."""
    forwarded = ",".join(request.headers.getall("X-Forwarded-For", []))
    return addresses.client_address(request.remote, forwarded, request.app[LIMITER].trusted)


def socket_address(environ: dict[str, Any]) -> str:
    """The client's address of a socket.io connection: that of the HTTP request that opened it."""
    request = environ.get("aiohttp.request")
    return client_address(request) if request is not None else addresses.UNKNOWN


async def admit_identity(limiter: Limiter, identity: Identity | None) -> None:
    """A conversation's start under a signed identity, counted for it (`rate_limited` past it). Its address
    is counted before the payload is read (``starts_per_address``): a flood is refused at its cheapest."""
    if identity is not None:
        await limiter.hit("starts_per_identity", identity.external_id)


async def admit_message(limiter: Limiter, conversation_id: str, address: str | None) -> None:
    """A customer's message, counted for its conversation and its client's address."""
    await limiter.hit_together(("messages_per_conversation", conversation_id), ("messages_per_address", address))
