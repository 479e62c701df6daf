"""The error boundary of the socket namespaces: every client event gets ``ok`` or the error shape."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import socketio
from pydantic import BaseModel, ValidationError

from handoff.errors import ApiError, ok
from handoff.logs.context import about_request, new_request_id
from handoff.wire import api_error, shape
from handoff.wire.decoding import check_decodable

log = logging.getLogger(__name__)

LIFECYCLE_EVENTS = frozenset({"connect", "disconnect"})


class BoundaryNamespace(socketio.AsyncNamespace):
    """Dispatches ``on_<event>(sid, payload)`` handlers that return a result dict or raise ApiError (or
    the `ValidationError` of a payload's wire model). ``events``: each event's payload and ack models;
    the ack's result is put in its model's shape (`handoff.wire.shape`)."""

    events: Mapping[str, tuple[type[BaseModel], type[BaseModel]]] = {}

    def handled_events(self) -> frozenset[str]:
        """The ``on_<event>`` handlers' events, found once per class (not per event: ``dir`` is slow)."""
        cls = type(self)
        found: frozenset[str] | None = cls.__dict__.get("_handled_events")
        if found is None:
            found = frozenset(name[3:] for name in dir(cls) if name.startswith("on_")) - LIFECYCLE_EVENTS
            cls._handled_events = found  # type: ignore[attr-defined]
        return found

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event == "connect":
            return await self._connect(*args)
        if event in LIFECYCLE_EVENTS:  # only the server's own: clients may not emit them (web/sockets.py)
            return await super().trigger_event(event, *args)
        sid, data = args[0], args[1:]
        with about_request(new_request_id()):  # each event is a request of its own in the logs
            return await self._event(event, sid, data)

    async def _event(self, event: str, sid: str, data: tuple[Any, ...]) -> Any:
        try:
            if event not in self.handled_events():
                raise ApiError("unknown_event", f"{event}: no such event in {self.namespace}")
            if len(data) > 1:
                raise ApiError("invalid_payload", "send one JSON object as the event's payload")
            check_decodable(data[0] if data else None)
            result = await getattr(self, f"on_{event}")(sid, data[0] if data else None)
            if event in self.events:
                result = shape(self.events[event][1], result)
            return ok(**result)
        except ApiError as exc:
            return exc.ack()
        except ValidationError as exc:  # a payload that its wire model refuses
            return api_error(exc).ack()
        except Exception:
            log.exception("%s %s failed", self.namespace, event)
            return ApiError("internal", "the server failed to handle this event").ack()

    async def _connect(self, sid: str, environ: Any, auth: Any = None) -> Any:
        """``on_connect`` with the connection's auth data; refused in the error shape when that data is not
        valid Unicode or the handler fails (logged here, once, with its traceback)."""
        try:
            check_decodable(auth, "auth")
            return await super().trigger_event("connect", sid, environ, auth)
        except ApiError as exc:
            raise socketio.exceptions.ConnectionRefusedError(exc.message, exc.body()["error"]) from None
        except socketio.exceptions.ConnectionRefusedError:
            raise
        except Exception:
            log.exception("%s connect failed", self.namespace)
            error = ApiError("internal", "the server failed to accept this connection")
            raise socketio.exceptions.ConnectionRefusedError(error.message, error.body()["error"]) from None
