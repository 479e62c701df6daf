"""Which origins may embed the web widget (setting ``widget_origins``, parsed by handoff/settings.py):
checked for the widget's socket (python-socketio's ``cors_allowed_origins``) and its REST call
(handoff/web/widget.py). docs/widget.md explains them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


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
