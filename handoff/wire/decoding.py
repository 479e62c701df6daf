"""Text a client sends must be Unicode that can be stored and sent on. A lone surrogate (``"\\ud800"``, valid
JSON) or bytes that are not UTF-8 (which aiohttp passes on in headers as surrogates) is refused as
``invalid_payload`` at each boundary (handoff/web/api.py for REST, handoff/web/boundary.py for the sockets),
before any handler sees it: in a body, a socket payload, a query parameter, a path or a header."""

from __future__ import annotations

import re
from typing import Any

from handoff.errors import ApiError

_SURROGATE = re.compile("[\ud800-\udfff]")


def undecodable(value: Any, where: str = "payload") -> str | None:
    """Where in ``value`` (decoded JSON: objects, lists, strings, numbers) the first text that is not valid
    Unicode is (``name``, ``items.2``, ``payload``), or None when every text is."""
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        item, place = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return place
        elif isinstance(item, dict):
            for key, inner in item.items():
                if isinstance(key, str) and _SURROGATE.search(key):
                    return place
                stack.append((inner, str(key) if place == where else f"{place}.{key}"))
        elif isinstance(item, list | tuple):
            stack.extend((inner, f"{place}.{i}") for i, inner in enumerate(item))
    return None


def check_decodable(value: Any, where: str = "payload") -> None:
    """Refuse ``value`` (`undecodable`) with ``invalid_payload``, naming where the bad text is."""
    place = undecodable(value, where)
    if place is not None:
        raise ApiError("invalid_payload", f"{_printable(place)}: must be valid Unicode text (no lone surrogates,"
                                          " nothing that is not UTF-8)")


def _printable(place: str) -> str:
    return _SURROGATE.sub("\ufffd", place)
