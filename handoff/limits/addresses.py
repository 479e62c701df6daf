"""The client's address: the peer of the connection, or, when the peer is a trusted proxy
(``trusted_proxies``), the right-most hop of ``X-Forwarded-For`` that is not a trusted proxy."""

from __future__ import annotations

import ipaddress
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"
MAX_HOP = 64  # characters of a hop kept as the address when it is no IP address


def parse_proxies(value: Any) -> tuple[str, ...]:
    """``trusted_proxies``: a list of addresses or networks (``10.0.0.0/8``, ``::1``); the environment gives
    them as one string, separated by commas."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list):
        raise ValueError(f"trusted_proxies: expected a list of addresses or networks, got {value!r}")
    for i, entry in enumerate(value):
        try:
            ipaddress.ip_network(entry, strict=False)
        except (TypeError, ValueError):
            raise ValueError(f"trusted_proxies[{i}]: expected an address or network such as 10.0.0.0/8, "
                             f"got {entry!r}") from None
    return tuple(str(ipaddress.ip_network(entry, strict=False)) for entry in value)


def networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p) for p in proxies)


def _trusted(hop: str, trusted: tuple[Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(hop)
    except ValueError:
        return False
    return any(address in network for network in trusted)


def from_trusted_proxy(peer: str | None, trusted: tuple[Network, ...]) -> bool:
    """The connection comes from one of the ``trusted`` proxies."""
    return bool(peer) and _trusted(peer or "", trusted)


def client_address(peer: str | None, forwarded_for: str, trusted: tuple[Network, ...]) -> str:
    """The address a request comes from: ``peer`` unless it is a trusted proxy; then the right-most hop of
    ``forwarded_for`` (the X-Forwarded-For headers, joined by commas) that is not one (the left-most if all
    are). A proxy appends the address it got the request from, so only the hops it and the trusted proxies
    after it added are believed."""
    if not peer:
        return UNKNOWN
    if not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop[:MAX_HOP]
    return hops[0][:MAX_HOP] if hops else peer
