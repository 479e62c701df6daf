"""A raw socket.io client over a WebSocket, for what real clients never send: frames written by hand
(malformed ones, reserved event names). Used by tests/test_hostile_input.py and the socket fuzzer
(harness/fuzzing.py)."""

from __future__ import annotations

import asyncio
import json
from types import TracebackType
from typing import Any

import aiohttp

OPEN_TIMEOUT = 10.0


class RawSocket:
    """One engine.io connection (``EIO=4``, WebSocket transport) to the app at ``url``; `join` a namespace,
    then `send` any text or bytes as a frame and `receive` what comes back (pings are answered)."""

    def __init__(self, url: str, http: aiohttp.ClientSession) -> None:
        self.url = url
        self._http = http
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    async def __aenter__(self) -> RawSocket:
        self._ws = await self._http.ws_connect(f"{self.url}/socket.io/?EIO=4&transport=websocket",
                                               timeout=aiohttp.ClientWSTimeout(ws_close=OPEN_TIMEOUT))
        opened = await self.receive(OPEN_TIMEOUT)
        assert opened is not None and opened.startswith("0"), opened
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._ws is not None:
            await self._ws.close()

    @property
    def closed(self) -> bool:
        return self._ws is None or self._ws.closed

    async def join(self, namespace: str, auth: Any = None) -> str:
        """Connect to ``namespace`` (socket.io's CONNECT packet); the server's answer (``40...`` or ``44...``)."""
        await self.send(f"40{namespace}," + (json.dumps(auth) if auth is not None else ""))
        answer = await self.receive(OPEN_TIMEOUT)
        assert answer is not None, f"no answer to joining {namespace}"
        return answer

    async def send(self, frame: str | bytes) -> None:
        assert self._ws is not None
        if isinstance(frame, bytes):
            await self._ws.send_bytes(frame)
        else:
            await self._ws.send_str(frame)

    async def receive(self, timeout: float) -> str | None:
        """The next text frame (engine.io pings answered on the way); None when nothing comes in ``timeout``
        seconds or the connection closed."""
        assert self._ws is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (left := deadline - loop.time()) > 0:
            try:
                message = await self._ws.receive(timeout=left)
            except TimeoutError:
                return None
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING,
                                aiohttp.WSMsgType.ERROR):
                return None
            if message.type == aiohttp.WSMsgType.TEXT:
                if message.data == "2":  # engine.io's ping
                    await self._ws.send_str("3")
                    continue
                return str(message.data)
        return None

    async def ack(self, namespace: str, ack_id: int, timeout: float) -> Any:
        """The payload of the acknowledgement ``ack_id`` in ``namespace`` (None when none comes in time)."""
        prefix = f"43{namespace},{ack_id}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (left := deadline - loop.time()) > 0:
            frame = await self.receive(left)
            if frame is None:
                return None
            if frame.startswith(prefix + "["):
                return json.loads(frame[len(prefix):])[0]
        return None
