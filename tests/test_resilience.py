"""Rasa down, the app killed: the customer is never left in silence and no stored message is lost."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.clients import Recorder
from tests.servers import free_port, start_app


async def test_rasa_down_hands_over_and_a_killed_app_loses_nothing(tmp_path: Path) -> None:
    dead_rasa = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    app = start_app(tmp_path, dead_rasa, {"CASEDESK_RASA_TIMEOUT_SECONDS": "3"})
    try:
        customer = Recorder(app.url, "/chat")
        await customer.connect()
        started = await customer.ok("start_conversation", {"channel": "mobile"})
        await customer.ok("send_message", {"text": "my fork leaks oil"})
        handoff = await customer.wait_for("message_created", lambda m: m["sender"] == "bot")
        assert handoff["data"] == {"kind": "handoff", "reason": "bot_unavailable"}
        queued = await customer.wait_for("case_updated", lambda c: c["status"] == "queued")
        assert queued["queue_position"] == 1
        await customer.ok("send_message", {"text": "still there?"})  # stored while waiting
        seen = [(m["seq"], m["sender"], m["text"]) for m in customer.messages()]
        assert [s[0] for s in seen] == [1, 2, 3]
        await customer.close()
    finally:
        app.process.send_signal(signal.SIGKILL)  # a crash: no clean shutdown
        app.stop()

    restarted = start_app(tmp_path, dead_rasa)
    try:
        again = Recorder(restarted.url, "/chat")
        await again.connect()
        resumed = await again.ok("resume_conversation", {"token": started["token"], "after_seq": 0})
        assert [(m["seq"], m["sender"], m["text"]) for m in resumed["messages"]] == seen
        assert resumed["conversation"]["status"] == "queued"
        assert resumed["conversation"]["queue_position"] == 1
        await again.close()
    finally:
        restarted.stop()
