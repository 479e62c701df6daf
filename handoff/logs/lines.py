"""The two formats of the app's logs (``log_format``): ``text``, a line of time, level, logger and message;
``json``, one JSON object a line with ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, and
``request_id`` and ``conversation_id`` when the line is about a request or a conversation (`context`),
``exception`` with a traceback."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from handoff.logs.context import CONVERSATION_ID, REQUEST_ID

FORMATS = ("text", "json")
TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, variable in (("request_id", REQUEST_ID), ("conversation_id", CONVERSATION_ID)):
            value = variable.get()
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


def formatter(log_format: str) -> logging.Formatter:
    return JsonLines() if log_format == "json" else logging.Formatter(TEXT)


class _Output(logging.StreamHandler):
    """The handler `set_up` adds (to standard error), and only it changes."""


def set_up(log_format: str = "text", level: int = logging.INFO) -> None:
    """The root logger writes ``log_format`` lines to standard error, at ``level``. As `logging.basicConfig`,
    nothing is added where the root logger has handlers of another's (a test's); a second call changes the
    format of the first one's."""
    root = logging.getLogger()
    ours = [handler for handler in root.handlers if isinstance(handler, _Output)]
    if not root.handlers:
        ours = [_Output()]
        root.addHandler(ours[0])
        root.setLevel(level)
    for handler in ours:
        handler.setFormatter(formatter(log_format))
