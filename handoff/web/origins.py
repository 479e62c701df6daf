"""Which origins may embed the web widget (setting ``widget_origins``): parsed from the settings file,
and checked for the widget's socket (python-socketio's ``cors_allowed_origins``) and its REST call
(handoff/web/widget.py). docs/widget.md explains them."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any


def parse_origins(value: Any) -> tuple[str, ...]:
    """``widget_origins`` from the settings file: a list of origins such as ``https://shop.example.com``
    (a scheme, a host and an optional port; no path), each once."""
    if not isinstance(value, list):
        raise ValueError(f"widget_origins: expected a list of origins, got {value!r}")
    origins: list[str] = []
    for i, origin in enumerate(value):
        where = f"widget_origins[{i}]"
        if not isinstance(origin, str):
            raise ValueError(f"{where}: expected an origin such as https://shop.example.com, got {origin!r}")
        parts = urllib.parse.urlsplit(origin)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if (parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query
                or parts.fragment or parts.username or parts.password or port == -1 or origin != origin.strip()):
            raise ValueError(f"{where}: expected an origin such as https://shop.example.com (scheme, host and"
                             f" optional port, no path or trailing /), got {origin!r}")
        normal = origin.lower()
        if normal in origins:
            raise ValueError(f"{where}: {origin!r} is listed twice")
        origins.append(normal)
    return tuple(origins)


def own_origins(scheme: str, host: str, forwarded_proto: str | None, forwarded_host: str | None) -> set[str]:
    """The app's own origin as the request names it (and as a proxy in front names it)."""
    origins = {f"{scheme}://{host}".lower()}
    if forwarded_proto or forwarded_host:
        proto = (forwarded_proto or scheme).split(",")[0].strip()
        origins.add(f"{proto}://{(forwarded_host or host).split(',')[0].strip()}".lower())
    return origins


def socket_origins(origins: tuple[str, ...]) -> Callable[[str | None, Mapping[str, Any]], bool] | None:
    """``cors_allowed_origins`` for python-socketio: None (its default, the app's own origin only) when no
    other origin is listed, else a check that takes the app's own origin and the listed ones."""
    if not origins:
        return None
    listed = frozenset(origins)

    def allowed(origin: str | None, environ: Mapping[str, Any]) -> bool:
        if origin is None:
            return True  # not a browser's cross-origin request
        own = own_origins(environ.get("wsgi.url_scheme", "http"), environ.get("HTTP_HOST", ""),
                          environ.get("HTTP_X_FORWARDED_PROTO"), environ.get("HTTP_X_FORWARDED_HOST"))
        return origin.lower() in listed or origin.lower() in own

    return allowed
