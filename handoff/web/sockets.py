"""The socket.io server of the app, hardened against what any client on the internet may send:

- event names the server uses itself (`RESERVED_EVENTS`: ``connect``, ``disconnect``, ...) or that are no
  name at all cannot be emitted by a client: they are refused (``unknown_event``, ``invalid_payload``) and
  never reach a handler; without this, a client emitting ``disconnect`` ran the server's own disconnect
  handler;
- a malformed socket.io or engine.io frame (bad JSON, a bad packet type, an empty packet, stray binary
  data) is counted and logged in one line without a traceback (`MalformedFrames`), at most once a minute
  with the count since; python-socketio and python-engineio would log a traceback for each. A WebSocket
  frame that engine.io cannot decode also ends that connection (`CheckedWebSocket`), as a broken one.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import engineio
import socketio

from handoff.errors import ApiError
from handoff.wire.decoding import undecodable

log = logging.getLogger(__name__)

# Names socket.io and python-socketio give events of their own (the client's too: a server must not
# answer them as events).
RESERVED_EVENTS = frozenset({"connect", "connect_error", "disconnect", "disconnecting", "message",
                             "newListener", "removeListener", "*"})
LIBRARY_LOGGERS = ("engineio.server", "socketio.server")
# What those loggers write, with a traceback, when a frame cannot be decoded.
MALFORMED = frozenset({"message async handler error", "message handler error", "post request handler error",
                       "Unknown receive error"})
SUMMARY_SECONDS = 60.0


class MalformedFrames(logging.Filter):
    """A filter on python-socketio's and python-engineio's loggers: each malformed frame they would log with
    a traceback is counted instead; the first of each minute is logged as one line (with the count of
    those since the last line), the others not at all. Other records pass unchanged."""

    def __init__(self, summary_seconds: float = SUMMARY_SECONDS) -> None:
        super().__init__()
        self.summary_seconds = summary_seconds
        self.count = 0  # malformed frames since start
        self._unlogged = 0
        self._last_line = float("-inf")
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() not in MALFORMED or not record.exc_info:
            return True
        line = self.refused(record.exc_info[1])
        if line is None:
            return False
        record.msg, record.args = line
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = record.stack_info = None
        return True

    def refused(self, error: BaseException | None) -> tuple[str, tuple[object, ...]] | None:
        """Count one malformed frame; the line to log about it (format and arguments), or None when a line
        was logged less than a minute ago."""
        with self._lock:
            self.count += 1
            self._unlogged += 1
            now = time.monotonic()
            if now - self._last_line < self.summary_seconds:
                return None
            unlogged, self._unlogged, self._last_line = self._unlogged, 0, now
        what = f"{type(error).__name__}: {str(error)[:120]!r}" if error is not None else "unknown"
        return ("malformed socket frames refused: %d since the last such line, %d in all (latest: %s)",
                (unlogged, self.count, what))


FRAMES = MalformedFrames()  # one per process: the libraries' loggers are too


def count_malformed_frames() -> MalformedFrames:
    """Put `FRAMES` on the libraries' loggers (once) and return it."""
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if FRAMES not in logger.filters:
            logger.addFilter(FRAMES)
    return FRAMES


class MalformedFrame(OSError):
    """A WebSocket frame engine.io cannot decode. An OSError, so that engine.io ends the connection as it
    does a broken one (its WebSocket loop decodes frames outside its error handling)."""


def _checked(websocket: type[Any]) -> type[Any]:
    class CheckedWebSocket(websocket):  # type: ignore[misc, valid-type]
        """engine.io's aiohttp WebSocket, whose frames are decoded (and refused) before engine.io sees them."""

        async def wait(self) -> Any:
            data = await super().wait()
            try:
                engineio.packet.Packet(encoded_packet=data)
            except Exception as exc:
                line = FRAMES.refused(exc)
                if line is not None:
                    log.warning(line[0], *line[1])
                raise MalformedFrame("malformed frame") from None
            return data

    return CheckedWebSocket


class EngineServer(engineio.AsyncServer):
    """python-engineio's server with `CheckedWebSocket`s."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        drivers: dict[str, Any] = getattr(self, "_async")  # noqa: B009 (set by engineio, untyped)
        self._async = {**drivers, "websocket": _checked(drivers["websocket"])}


class SocketServer(socketio.AsyncServer):
    """python-socketio's server, refusing reserved and malformed event names before any handler runs, on
    an `EngineServer`."""

    def _engineio_server_class(self) -> type[engineio.AsyncServer]:
        return EngineServer

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: int | None, data: Any) -> None:
        refusal = _refusal(data)
        if refusal is None:
            await super()._handle_event(eio_sid, namespace, id, data)
            return
        namespace = namespace or "/"
        if id is not None and self.manager.is_connected(self.manager.sid_from_eio_sid(eio_sid, namespace),
                                                        namespace):  # a client of the namespace asked for an answer
            await self._send_packet(eio_sid, self.packet_class(socketio.packet.ACK, namespace=namespace, id=id,
                                                               data=[refusal.ack()]))


def _refusal(data: Any) -> ApiError | None:
    if not isinstance(data, list) or not data or not isinstance(data[0], str):
        return ApiError("invalid_payload", "an event is a name and one JSON object")
    if undecodable(data[0]) is not None:
        return ApiError("invalid_payload", "event name: must be valid Unicode text")
    if data[0] in RESERVED_EVENTS:
        return ApiError("unknown_event", f"{data[0]}: a name socket.io keeps for itself, which clients may not emit")
    return None
