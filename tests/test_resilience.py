"""Rasa down, Rasa stopped mid-conversation, the app killed: the customer is never left in silence and
no stored message is lost."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from handoff import catalogue
from harness.clients import Recorder, sign_in
from harness.servers import ActionRelay, Proxy, RasaProcess, free_port, served_app, start_app


async def test_rasa_down_hands_over_and_a_killed_app_loses_nothing(tmp_path: Path) -> None:
    dead_rasa = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    app = start_app(tmp_path, dead_rasa, {"CASEDESK_RASA_TIMEOUT_SECONDS": "3"})
    try:
        customer = Recorder(app.url, "/chat")
        await customer.connect()
        started = await customer.ok("start_conversation", {"channel": "mobile"})
        await customer.ok("send_message", {"text": "my fork leaks oil"})
        handoff = await customer.wait_for("message_created", lambda m: m["sender"] == "bot")
        assert handoff["data"] == {"kind": "handoff", "reason": "bot_unavailable", "language": "en"}
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


async def test_rasa_stopped_mid_conversation_hands_over_with_the_whole_transcript(
        tmp_path: Path, rasa: RasaProcess, actions: ActionRelay) -> None:
    # The session's Rasa, which the tests after this one need, reached through a port of its own: when that
    # port closes, Rasa has stopped for this app (connections refused, as after `rasa_runtime.stop`).
    port = Proxy(("127.0.0.1", int(rasa.url.rsplit(":", 1)[1])))
    with served_app(tmp_path, port.url, {"CASEDESK_RASA_TIMEOUT_SECONDS": "5"}) as app, actions.serving(app.url):
        customer = Recorder(app.url, "/chat")
        await customer.connect()
        started = await customer.ok("start_conversation", {"channel": "web", "locale": "en", "name": "Dana"})
        conversation_id = started["conversation"]["id"]
        await customer.ok("send_message", {"text": "how do I return a bike?"})
        answer = await customer.wait_for("message_created", lambda m: m["sender"] == "bot")
        assert answer["data"]["kind"] == "answer" and answer["data"]["article"]["id"] == "bike-returns"

        await asyncio.to_thread(port.close)
        await customer.ok("send_message", {"text": "and when do I get my money back?"})
        told = await customer.wait_for("message_created", lambda m: m["sender"] == "bot" and m["seq"] > answer["seq"])
        bot_down = catalogue.text("en", "bot.unavailable")
        assert (told["text"], told["data"]) == (bot_down, {"kind": "handoff", "reason": "bot_unavailable",
                                                                "language": "en"})
        queued = await customer.wait_for("case_updated", lambda c: c["status"] == "queued")
        assert queued["queue_position"] == 1

        agent = Recorder(app.url, "/agent")
        await agent.connect(auth={"token": await sign_in(app.url)})
        accepted = await agent.ok("accept_case", {"conversation_id": conversation_id})
        assert accepted["case"]["escalation_reason"] == "bot_unavailable"
        transcript = accepted["messages"]
        assert [(m["seq"], m["sender"], m["text"]) for m in transcript[:4]] == [
            (1, "customer", "how do I return a bike?"),
            (2, "bot", answer["text"]),
            (3, "customer", "and when do I get my money back?"),
            (4, "bot", bot_down),
        ]
        assert transcript[1]["data"] == answer["data"]  # the article the bot offered, for the agent to see
        await customer.wait_for("case_updated", lambda c: c["status"] == "with_agent")
        await customer.close()
        await agent.close()
